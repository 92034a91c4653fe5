// Each multiplexer round reads a guarded connection's frames only up to its share
// (protocol/wire_guard.cpp): a client flooding a node with large puts held CAF's one multiplexer
// thread for 25 frames per round, and a status request or a new connection's handshake waited
// seconds. These tests read a guarded connection as CAF's multiplexer does: epoll_wait starts a
// round, then frame headers (32 bytes) and payloads are read until recv says EAGAIN.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "protocol/wire_guard.hpp"
#include "tests/support/loopback.hpp"

namespace {

constexpr size_t header_bytes = 32;

/// A BASP frame: operation, two pad bytes, flags, the payload length (big-endian), 24 bytes of
/// operation data and actor ids, then the payload (`fill` repeated).
std::string frame(uint8_t operation, uint32_t payload_bytes, char fill) {
  std::string f(header_bytes, '\0');
  f[0] = char(operation);
  uint32_t length = htonl(payload_bytes);
  std::memcpy(f.data() + 4, &length, 4);
  f.append(payload_bytes, fill);
  return f;
}

void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    sent += size_t(n);
  }
}

/// A client connected to a guarded listener, and the guarded end the test reads.
struct guarded_pair {
  int listener = -1, client = -1, accepted = -1, poller = -1;

  guarded_pair() {
    p2p::wire_guard::configure({});
    sockaddr_in addr{};
    listener = p2p::test::loopback_listener(addr);
    p2p::wire_guard::watch_port(ntohs(addr.sin_port));
    client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    accepted = accept(listener, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    REQUIRE(fcntl(accepted, F_SETFL, fcntl(accepted, F_GETFL) | O_NONBLOCK) == 0); // as CAF's sockets
    poller = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = accepted;
    REQUIRE(epoll_ctl(poller, EPOLL_CTL_ADD, accepted, &ev) == 0);
  }
  ~guarded_pair() {
    for (int fd : {poller, accepted, client, listener})
      if (fd >= 0)
        close(fd);
  }

  /// Bytes waiting in the kernel for the guarded end.
  [[nodiscard]] int waiting() const {
    int n = 0;
    ioctl(accepted, FIONREAD, &n);
    return n;
  }
};

/// What one round read: the frames it finished and, for each, the round's bytes before it.
struct round_read {
  std::vector<std::string> payloads;
  std::vector<size_t> bytes_before;
  bool header_without_payload = false; // a frame's header came, its payload did not (this round)
  bool stopped_with_bytes_waiting = false;
};

/// One multiplexer round: epoll_wait, then frames until EAGAIN (no read count of CAF's here:
/// the guard alone ends the round).
round_read read_round(guarded_pair& p) {
  round_read r;
  epoll_event ev{};
  if (epoll_wait(p.poller, &ev, 1, 2000) != 1)
    return r;
  size_t bytes = 0;
  for (;;) {
    char header[header_bytes];
    auto got = recv(p.accepted, header, header_bytes, 0);
    if (got < 0 && errno == EAGAIN) {
      r.stopped_with_bytes_waiting = p.waiting() > 0;
      return r;
    }
    REQUIRE(got == ssize_t(header_bytes)); // the guard hands a header over whole
    uint32_t length = 0;
    std::memcpy(&length, header + 4, 4);
    length = ntohl(length);
    std::string payload(length, '\0');
    size_t have = 0;
    while (have < length) {
      auto n = recv(p.accepted, payload.data() + have, length - have, 0);
      if (n < 0 && errno == EAGAIN) { // only a frame small enough to pass through comes in pieces
        REQUIRE(length <= 64 * 1024);
        epoll_event again{};
        REQUIRE(epoll_wait(p.poller, &again, 1, 2000) == 1);
        r.header_without_payload = true;
        continue;
      }
      REQUIRE(n > 0);
      have += size_t(n);
    }
    r.bytes_before.push_back(bytes);
    bytes += header_bytes + length;
    r.payloads.push_back(std::move(payload));
  }
}

} // namespace

TEST_CASE("a connection's small frames take at most CAF's 50 reads per multiplexer round, and all arrive") {
  guarded_pair p;
  std::string all = frame(1, 100, 'h'); // the first frame is a handshake
  for (int i = 0; i < 99; ++i)
    all += frame(2, 100, char('a' + i % 26));
  send_all(p.client, all); // 13 KB: in the kernel at once
  std::vector<std::string> got;
  std::vector<size_t> per_round;
  std::vector<bool> stopped_with_bytes;
  for (int round = 0; round < 20 && got.size() < 100; ++round) {
    auto r = read_round(p);
    per_round.push_back(r.payloads.size());
    stopped_with_bytes.push_back(r.stopped_with_bytes_waiting);
    CHECK_FALSE(r.header_without_payload);
    for (auto& payload : r.payloads)
      got.push_back(std::move(payload));
  }
  REQUIRE(got.size() == 100);
  CHECK(got[0] == std::string(100, 'h'));
  for (int i = 0; i < 99; ++i)
    CHECK(got[size_t(i) + 1] == std::string(100, char('a' + i % 26)));
  // Header and payload are two reads: 25 frames fill a round of 50, and the rest waits in the
  // kernel for the next rounds (without the share, one round read all 100).
  REQUIRE(per_round.size() >= 4);
  CHECK(per_round[0] == 25);
  CHECK(per_round[1] == 25);
  CHECK(per_round[2] == 25);
  CHECK(per_round[3] == 25);
  CHECK(stopped_with_bytes[0]);
  CHECK(stopped_with_bytes[2]);
}

TEST_CASE("a connection's large frames start in a round only while it read under 1 MiB in it, and come whole") {
  guarded_pair p;
  constexpr int frames = 12;
  constexpr uint32_t payload_bytes = 200 * 1000; // over 64 KiB: the guard collects each whole
  std::thread writer([&] {
    std::string all = frame(1, 100, 'h');
    for (int i = 0; i < frames; ++i)
      all += frame(2, payload_bytes, char('a' + i));
    send_all(p.client, all);
  });
  std::vector<std::string> got;
  size_t rounds_cut_short = 0;
  for (int round = 0; round < 400 && got.size() < frames + 1; ++round) {
    auto r = read_round(p);
    CHECK_FALSE(r.header_without_payload); // a large frame's payload always in its header's round
    for (size_t i = 0; i < r.payloads.size(); ++i) {
      CAPTURE(round);
      CAPTURE(i);
      CHECK(r.bytes_before[i] < size_t(1) << 20);
    }
    rounds_cut_short += r.stopped_with_bytes_waiting ? 1 : 0;
    for (auto& payload : r.payloads)
      got.push_back(std::move(payload));
  }
  writer.join();
  REQUIRE(got.size() == frames + 1);
  for (int i = 0; i < frames; ++i)
    CHECK(got[size_t(i) + 1] == std::string(payload_bytes, char('a' + i)));
  INFO("rounds that ended with bytes waiting: " << rounds_cut_short);
}

TEST_CASE("a connection the guard does not follow reads at most about 1 MiB per round too, by recv or read (OpenSSL's)") {
  for (bool by_read : {false, true}) {
    CAPTURE(by_read);
    sockaddr_in addr{};
    int listener = p2p::test::loopback_listener(addr); // no watch_port: nothing here is followed by frame
    int sender = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(sender, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    int reader = accept(listener, nullptr, nullptr);
    REQUIRE(reader >= 0);
    REQUIRE(fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) | O_NONBLOCK) == 0);
    int poller = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    REQUIRE(epoll_ctl(poller, EPOLL_CTL_ADD, reader, &ev) == 0);

    constexpr size_t total = 4 << 20, chunk = 64 << 10;
    std::string sent(total, '\0');
    for (size_t i = 0; i < total; ++i)
      sent[i] = char(i * 7 % 251);
    std::thread writer([&] { send_all(sender, sent); });
    std::string got;
    size_t rounds = 0;
    while (got.size() < total && rounds < 10000) {
      epoll_event e{};
      if (epoll_wait(poller, &e, 1, 2000) != 1)
        break;
      ++rounds;
      size_t before_last_read = 0, in_round = 0;
      std::string buf(chunk, '\0');
      for (;;) {
        auto n = by_read ? read(reader, buf.data(), chunk) : recv(reader, buf.data(), chunk, 0);
        if (n < 0 && errno == EAGAIN)
          break;
        REQUIRE(n > 0);
        before_last_read = in_round;
        in_round += size_t(n);
        got.append(buf.data(), size_t(n));
      }
      CAPTURE(rounds);
      CHECK(before_last_read < size_t(1) << 20); // no read starts once the round had its share
    }
    writer.join();
    CHECK(got == sent);
    for (int fd : {poller, reader, sender, listener})
      close(fd);
  }
  // A file read by a polling thread is not a socket's: no share (a 3 MiB file in one round).
  std::filesystem::create_directories(P2P_TEST_TMP);
  auto path = std::string(P2P_TEST_TMP) + "/read-share-file";
  {
    std::string bytes(3 << 20, 'f');
    FILE* f = fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    fclose(f);
  }
  int poller = epoll_create1(0);
  epoll_event none{};
  epoll_wait(poller, &none, 1, 0); // a round starts
  int file = open(path.c_str(), O_RDONLY);
  REQUIRE(file >= 0);
  std::string buf(64 << 10, '\0');
  size_t total = 0;
  for (ssize_t n; (n = read(file, buf.data(), buf.size())) > 0;)
    total += size_t(n);
  CHECK(total == size_t(3) << 20);
  close(file);
  close(poller);
  std::remove(path.c_str());
}
