// The version order every replica applies: newer wins, ties never happen between two nodes, and
// a clock that saw a newer version elsewhere assigns newer ones after it.

#include <doctest/doctest.h>

#include "vectors/version.hpp"

using namespace p2p;

TEST_CASE("versions grow with wall time, and within one millisecond by the counter") {
  hybrid_clock c(version_tag("node-1"));
  uint64_t ms = version_epoch_ms + 1000;
  auto a = c.next(ms), b = c.next(ms), d = c.next(ms + 1);
  CHECK(a < b);
  CHECK(b < d);
  CHECK(version_ms(a) == ms);
  CHECK(version_ms(d) == ms + 1);
  CHECK((a & version_tag_mask) == version_tag("node-1"));
  // A wall clock that goes back does not make versions go back.
  auto e = c.next(ms - 500);
  CHECK(e > d);
  // 1,024 writes in one millisecond carry into the next one, still in order.
  uint64_t last = e;
  for (int i = 0; i < 3000; ++i) {
    auto v = c.next(ms + 1);
    CHECK(v > last);
    last = v;
  }
}

TEST_CASE("two nodes never assign the same version, and one that saw a newer version assigns newer ones") {
  hybrid_clock one(version_tag("node-1")), two(version_tag("node-2"));
  REQUIRE(version_tag("node-1") != version_tag("node-2"));
  uint64_t ms = version_epoch_ms + 5000;
  CHECK(one.next(ms) != two.next(ms));
  // node-2's clock runs 10 s ahead: node-1 saw one of its versions, so node-1's next write to
  // the same id wins, as it came later.
  auto ahead = two.next(ms + 10000);
  one.observe(ahead);
  auto after = one.next(ms);
  CHECK(after > ahead);
  // Observing an older version changes nothing.
  hybrid_clock three(version_tag("node-3"));
  auto own = three.next(ms);
  three.observe(own - (uint64_t(1) << version_ms_shift));
  CHECK(three.next(ms) > own);
}
