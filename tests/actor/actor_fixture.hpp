#pragma once
// In-process actor tests on CAF's test coordinator: no threads of CAF's own, messages run only
// when the test calls run(), and time moves only when it calls advance(). The database is a real
// RocksDB in a scratch directory.

#include <chrono>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "protocol/messages.hpp"

namespace p2p::test {

class actor_fixture {
public:
  actor_fixture() {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.verbosity", caf::atom("quiet"));
    cfg_.set("logger.console", caf::atom("none"));
    register_message_types(cfg_);
    register_error_category(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
  }

  ~actor_fixture() {
    for (auto& a : owned_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
    // Requests still waiting (the clients above) end with their timeouts, so that the actor
    // system, which waits for every actor, can stop.
    for (int i = 0; i < 10 && sched_->has_pending_timeout(); ++i) {
      sched_->trigger_timeouts();
      run();
    }
  }

  caf::actor_system& sys() { return *sys_; }

  /// Runs every message that is ready, and what it makes ready, until nothing is left.
  size_t run() { return sched_->run(); }

  /// Runs one actor for one message; false when none is ready.
  bool run_one() { return sched_->try_run_once(); }

  /// Moves the clock on by `d`, firing the timeouts and delayed messages due, then runs.
  void advance(std::chrono::milliseconds d) {
    sched_->advance_time(d);
    run();
  }

  /// An actor that this fixture stops at its end.
  template <class... Ts>
  caf::actor spawn(Ts&&... xs) {
    auto a = sys_->spawn(std::forward<Ts>(xs)...);
    owned_.push_back(a);
    return a;
  }

  /// A reply that may come later: `done` once it (or an error) arrived.
  template <class R>
  struct reply {
    bool done = false;
    caf::expected<R> value{caf::error{}};
  };

  /// Sends (xs...) to `to` from a client actor and runs the system; the reply may still be
  /// pending when this returns (see reply::done).
  template <class R, class Handle, class... Ts>
  std::shared_ptr<reply<R>> request(const Handle& to, Ts... xs) {
    auto out = std::make_shared<reply<R>>();
    // `out` goes in as a spawn argument: CAF 0.17 binds a null std::tuple<> for a spawn
    // without arguments, which UBSan reports as a reference bound to null.
    sys_->spawn(
      [=](caf::event_based_actor* self, std::shared_ptr<reply<R>> into) {
        self->request(to, std::chrono::seconds(3600), xs...)
          .then([=](R& r) { into->value = std::move(r), into->done = true; },
                [=](caf::error& e) { into->value = std::move(e), into->done = true; });
      },
      out);
    run();
    return out;
  }

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<caf::actor> owned_;
};

} // namespace p2p::test
