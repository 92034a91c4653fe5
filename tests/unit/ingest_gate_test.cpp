#include <doctest/doctest.h>

#include "vectors/ingest_gate.hpp"

using namespace p2p;
using namespace std::chrono_literals;
using clk = ingest_gate::clock;

TEST_CASE("a shard that never got a put may build its graph at once") {
  ingest_gate g;
  CHECK(g.paused(clk::time_point{} + 1ms));
  CHECK(g.left(clk::time_point{} + 1ms) == clk::duration::zero());
}

TEST_CASE("after the first put of a stream the graph waits a second: the pace is not known yet") {
  ingest_gate g;
  auto t = clk::time_point{} + 1s;
  g.on_put(t);
  CHECK_FALSE(g.paused(t + 500ms));
  CHECK(g.left(t + 500ms) == 500ms);
  CHECK(g.paused(t + 1s));
}

TEST_CASE("puts that come fast keep the old 50 ms quiet period") {
  ingest_gate g;
  auto t = clk::time_point{} + 1s;
  for (int i = 0; i < 10; ++i, t += 5ms)
    g.on_put(t);
  t -= 5ms; // the last put
  CHECK(g.quiet_period() == ingest_gate::min_quiet);
  CHECK_FALSE(g.paused(t + 49ms));
  CHECK(g.paused(t + 50ms));
}

TEST_CASE("puts 200 ms apart are one stream: no graph building between them, but 800 ms after the last") {
  ingest_gate g;
  auto t = clk::time_point{} + 1s;
  for (int i = 0; i < 10; ++i, t += 200ms)
    g.on_put(t);
  t -= 200ms;
  CHECK(g.quiet_period() == 800ms);
  // The next put is due 200 ms after the last: the gap a fixed 50 ms period took for a pause.
  CHECK_FALSE(g.paused(t + 200ms));
  CHECK_FALSE(g.paused(t + 799ms));
  CHECK(g.left(t + 600ms) == 200ms);
  CHECK(g.paused(t + 800ms));
}

TEST_CASE("one long gap in a stream counts for the puts after it, less with each") {
  ingest_gate g;
  auto t = clk::time_point{} + 1s;
  g.on_put(t);
  g.on_put(t += 10ms);
  g.on_put(t += 200ms); // a slow one
  CHECK(g.quiet_period() == 800ms);
  g.on_put(t += 10ms);
  CHECK(g.quiet_period() == 700ms); // 200 ms less an eighth
  for (int i = 0; i < 30; ++i)
    g.on_put(t += 10ms);
  CHECK(g.quiet_period() == ingest_gate::min_quiet);
}

TEST_CASE("the quiet period is at most a second however slow the puts, and a long pause starts a new stream") {
  ingest_gate g;
  auto t = clk::time_point{} + 1s;
  for (int i = 0; i < 5; ++i, t += 900ms)
    g.on_put(t);
  t -= 900ms;
  CHECK(g.quiet_period() == ingest_gate::max_quiet);
  CHECK(g.paused(t + 1s));
  // A minute later a fast stream starts: the old pace does not count, the new one soon rules.
  t += 60s;
  for (int i = 0; i < 20; ++i, t += 10ms)
    g.on_put(t);
  t -= 10ms;
  CHECK(g.quiet_period() < 100ms);
  CHECK(g.paused(t + 100ms));
}
