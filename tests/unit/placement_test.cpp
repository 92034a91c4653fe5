#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "vectors/placement.hpp"

using namespace p2p;

namespace {

std::vector<std::string> names(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i)
    out.push_back("node-" + std::to_string(i));
  return out;
}

/// The replica ids of virtual shard v.
std::set<std::string> replicas(const replica_table& t, uint32_t v) {
  std::set<std::string> out;
  for (auto* n = t.begin(v); n != t.end(v); ++n)
    out.insert(t.nodes()[*n]);
  return out;
}

} // namespace

TEST_CASE("ids spread evenly over the virtual shards, and each node's local shards") {
  std::map<uint32_t, size_t> per_vshard;
  std::map<uint16_t, size_t> per_local;
  for (int i = 0; i < 256000; ++i) {
    auto id = std::to_string(i);
    ++per_vshard[vshard_of(id)];
    ++per_local[local_shard("node-1", 4, id)];
  }
  REQUIRE(per_vshard.size() == virtual_shards);
  for (auto& [v, n] : per_vshard)
    CHECK_MESSAGE(n == doctest::Approx(1000).epsilon(0.15), v);
  REQUIRE(per_local.size() == 4);
  for (auto& [s, n] : per_local)
    CHECK(n == doctest::Approx(64000).epsilon(0.05));
}

TEST_CASE("each virtual shard gets R distinct replicas, capped at the member count, spread evenly") {
  replica_table t(names(3), 2);
  CHECK(t.replication() == 2);
  std::map<std::string, size_t> held;
  for (uint32_t v = 0; v < virtual_shards; ++v) {
    auto r = replicas(t, v);
    CHECK(r.size() == 2);
    for (auto& id : r)
      ++held[id];
    for (uint32_t n = 0; n < 3; ++n)
      CHECK(t.holds(n, v) == (r.count(t.nodes()[n]) == 1));
  }
  for (auto& [id, n] : held)
    CHECK_MESSAGE(n == doctest::Approx(256 * 2 / 3.0).epsilon(0.15), id);
  CHECK(replica_table(names(1), 2).replication() == 1);
  CHECK(replica_table(names(2), 3).replication() == 2);
  // The same members in another order give the same replicas: every node computes the same.
  auto shuffled = names(3);
  std::reverse(shuffled.begin(), shuffled.end());
  replica_table u(shuffled, 2);
  for (uint32_t v = 0; v < virtual_shards; ++v)
    CHECK(replicas(t, v) == replicas(u, v));
}

TEST_CASE("a member leaving or joining moves about R/N of the virtual shards, and only its own") {
  auto ten = names(10), nine = names(9); // nine: node-10 gone
  replica_table with(ten, 2), without(nine, 2);
  size_t changed = 0;
  for (uint32_t v = 0; v < virtual_shards; ++v) {
    auto a = replicas(with, v), b = replicas(without, v);
    if (a == b)
      continue;
    ++changed;
    CHECK(a.count("node-10") == 1); // only shards node-10 held move
    // The replica that stays keeps its copy: one new replica per moved shard.
    std::vector<std::string> kept;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(kept));
    CHECK(kept.size() == 1);
  }
  CHECK(changed == doctest::Approx(256 * 2 / 10.0).epsilon(0.3));
}
