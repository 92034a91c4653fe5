#include <doctest/doctest.h>

#include "actors/fan_in.hpp"
#include "protocol/errors.hpp"

using namespace p2p;

TEST_CASE("a fan-in finishes once, after the last part, with the first failure") {
  int calls = 0;
  caf::error seen;
  auto fan = std::make_shared<fan_in>([&](const caf::error& e) { ++calls, seen = e; }, 3);
  fan->arrived();
  fan->failed(make_error(errc::timeout, "first"));
  CHECK(calls == 0);
  fan->failed(make_error(errc::unavailable, "second"));
  CHECK(calls == 1);
  CHECK(code_of(seen) == errc::timeout);
}

TEST_CASE("a held count keeps early answers from finishing a fan-in still being sent") {
  int calls = 0;
  bool failed = false;
  auto fan = std::make_shared<fan_in>([&](const caf::error& e) { ++calls, failed = bool(e); });
  fan->expect(); // held while sending
  fan->expect();
  fan->arrived(); // the first part answers before the second is sent
  CHECK(calls == 0);
  fan->expect();
  fan->arrived();
  CHECK(calls == 0);
  fan->arrived(); // the hold
  CHECK(calls == 1);
  CHECK_FALSE(failed);
}

TEST_CASE("ignore_error counts a failed part as answered without failing the job") {
  caf::error seen = make_error(errc::internal, "not called");
  auto fan = std::make_shared<fan_in>([&](const caf::error& e) { seen = e; }, 1);
  caf::error e = make_error(errc::timeout, "slow shard");
  fan_in::ignore_error(fan)(e);
  CHECK(!seen);
}
