// counted<> (actors/counted_actor.hpp) on CAF's test coordinator: the mailbox counts that the
// node reads for status and /metrics without asking the actor follow what enters and what the
// behaviour takes out, skipped messages and answers to its own requests included.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/counted_actor.hpp"
#include "tests/actor/actor_fixture.hpp"

using namespace p2p;

namespace {

struct log_state {
  static inline const char* name = "counted_test";
};
using counted_test_actor = counted<caf::stateful_actor<log_state>>;

/// Takes ints; leaves strings in the mailbox (skipped) until it is sent 0, then takes them too.
caf::behavior picky(counted_test_actor* self, std::shared_ptr<std::vector<std::string>> seen) {
  self->set_default_handler(caf::skip);
  return {
    [=](int x) {
      seen->push_back(std::to_string(x));
      if (x == 0)
        self->become([=](const std::string& s) { seen->push_back(s); });
    },
  };
}

/// Asks `to` for a number and keeps what comes back.
caf::behavior asker(counted_test_actor* self, caf::actor to, std::shared_ptr<std::vector<std::string>> seen) {
  return {
    [=](const std::string& go) {
      self->request(to, std::chrono::seconds(60), go).then([=](int answer) { seen->push_back(std::to_string(answer)); });
    },
  };
}

/// Answers a string with its length plus `plus` (an argument: CAF 0.17 binds a null std::tuple<>
/// for a spawn without one, which UBSan reports).
caf::behavior answerer(caf::event_based_actor*, int plus) {
  return {[plus](const std::string& s) { return int(s.size()) + plus; }};
}

} // namespace

TEST_CASE("a counted actor's mailbox counts follow what enters and what its behaviour takes out") {
  test::actor_fixture f;
  auto seen = std::make_shared<std::vector<std::string>>();
  auto a = f.spawn(picky, seen);
  auto counts = mailbox_counts_of(a);
  REQUIRE(counts != nullptr);
  f.run(); // its start
  CHECK(counts->waiting() == 0);

  caf::anon_send(a, 1);
  caf::anon_send(a, std::string("x"));
  caf::anon_send(a, 2);
  caf::anon_send<caf::message_priority::high>(a, 3);
  caf::anon_send(a, std::string("y"));
  CHECK(counts->waiting() == 5);
  REQUIRE(f.run_one());
  CHECK(counts->waiting() == 4);
  CHECK(seen->size() == 1);
  f.run();
  // The ints are taken, the strings skipped: they still wait.
  CHECK(*seen == std::vector<std::string>{"3", "1", "2"});
  CHECK(counts->waiting() == 2);
  caf::anon_send(a, 0);
  CHECK(counts->waiting() == 3);
  f.run();
  CHECK(*seen == std::vector<std::string>{"3", "1", "2", "0", "x", "y"});
  CHECK(counts->waiting() == 0);
  CHECK(counts->entered.load() == 6);
  CHECK(counts->taken.load() == 6);
}

TEST_CASE("an answer to a counted actor's request enters its mailbox and is taken out") {
  test::actor_fixture f;
  auto seen = std::make_shared<std::vector<std::string>>();
  auto b = f.spawn(answerer, 0);
  auto a = f.spawn(asker, b, seen);
  auto counts = mailbox_counts_of(a);
  REQUIRE(counts != nullptr);
  CHECK(mailbox_counts_of(b) == nullptr); // not a counted<> actor
  CHECK(mailbox_counts_of(caf::actor{}) == nullptr);
  f.run();
  caf::anon_send(a, std::string("four"));
  f.run();
  CHECK(*seen == std::vector<std::string>{"4"});
  CHECK(counts->waiting() == 0);
  CHECK(counts->entered.load() == 2); // the request to go, the answer
  CHECK(counts->taken.load() == 2);
}

TEST_CASE("an actor's counts stay readable after it is gone") {
  std::shared_ptr<const mailbox_counts> counts;
  {
    test::actor_fixture f;
    auto seen = std::make_shared<std::vector<std::string>>();
    auto a = f.spawn(picky, seen);
    counts = mailbox_counts_of(a);
    f.run();
    caf::anon_send(a, 7);
    f.run();
    REQUIRE(counts != nullptr);
    CHECK(counts->taken.load() == 1);
  }
  // The actor and its system are gone (the sanitizer build checks this read); everything that
  // entered, its exit message included, was taken out.
  CHECK(counts->taken.load() >= 2);
  CHECK(counts->waiting() == 0);
}
