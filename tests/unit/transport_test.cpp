// The actor systems this program makes keep SIGPIPE blocked in their threads, so that CAF's
// OpenSSL guard around each SSL_read and SSL_write (block SIGPIPE, wait for one, restore) costs
// no system call there (protocol/transport.cpp).

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <future>
#include <string>

#include <caf/all.hpp>

#include "protocol/transport.hpp"

namespace {

/// This thread's blocked signals, as the kernel reports them.
std::string blocked_here() {
  std::ifstream in("/proc/thread-self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigBlk:", 0) == 0)
      return line;
  return "?";
}

bool pipe_blocked_here() {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, SIGPIPE) == 1;
}

struct guard_seen {
  bool pipe_blocked = false;  // SIGPIPE blocked in the thread before the guard
  bool marker = false;        // the guard's block handed back a mask with SIGKILL: no system call
  bool wait_none = false;     // the wait for a pending SIGPIPE said none
  bool restored = false;      // the restore succeeded
  std::string before, after;  // the kernel's view of the thread's mask around the guard
  int write_errno = 0;        // a write to a socket whose peer closed
};

/// What CAF_BLOCK_SIGPIPE does around one call (caf/openssl/session.cpp), done twice: the first
/// time teaches the thread's state. Then, if asked, a write to a socket whose peer closed.
guard_seen run_guard(bool write_to_closed_peer) {
  guard_seen seen;
  seen.pipe_blocked = pipe_blocked_here();
  seen.before = blocked_here();
  for (int round = 0; round < 2; ++round) {
    sigset_t pipe_only, saved;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &pipe_only, &saved) == 0);
    seen.marker = sigismember(&saved, SIGKILL) == 1;
    timespec zero{};
    errno = 0;
    seen.wait_none = sigtimedwait(&pipe_only, nullptr, &zero) == -1 && errno == EAGAIN;
    seen.restored = pthread_sigmask(SIG_SETMASK, &saved, nullptr) == 0;
  }
  seen.after = blocked_here();
  if (!write_to_closed_peer)
    return seen;
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  close(fds[1]);
  char byte = 1;
  if (write(fds[0], &byte, 1) < 0)
    seen.write_errno = errno;
  close(fds[0]);
  return seen;
}

} // namespace

TEST_CASE("an actor system's threads keep SIGPIPE blocked: CAF's guard around each TLS call costs no system call there, "
          "and a write to a closed peer fails with EPIPE") {
  bool blocked_before = pipe_blocked_here();
  caf::actor_system_config cfg;
  auto sys = p2p::make_system(cfg);
  CHECK(pipe_blocked_here() == blocked_before); // the caller's own mask is as it was

  std::promise<guard_seen> done;
  auto result = done.get_future();
  // The promise as an argument: CAF 0.17 binds a null reference for a function actor without
  // arguments (UBSan: "reference binding to null pointer" in init_fun_factory).
  sys->spawn([](caf::event_based_actor*, std::promise<guard_seen>* to) { to->set_value(run_guard(true)); }, &done);
  auto in_system = result.get();
  CHECK(in_system.pipe_blocked);
  CHECK(in_system.marker);
  CHECK(in_system.wait_none);
  CHECK(in_system.restored);
  CHECK(in_system.after == in_system.before);
  CHECK(in_system.write_errno == EPIPE);

  if (!blocked_before) {
    // A thread where SIGPIPE is not blocked (this one): the guard really blocks and restores.
    auto here = run_guard(false); // a write here would stop the test with SIGPIPE
    CHECK_FALSE(here.marker);
    CHECK(here.restored);
    CHECK(here.after == here.before);
    CHECK_FALSE(pipe_blocked_here());
  }
}
