#include <doctest/doctest.h>

#include <map>

#include "vectors/placement.hpp"

using namespace p2p;

TEST_CASE("rendezvous placement spreads ids evenly and agrees with each node's local shard") {
  std::vector<std::pair<std::string, uint32_t>> nodes{{"node-1", 4}, {"node-2", 4}, {"node-3", 4}};
  std::map<std::pair<size_t, uint16_t>, size_t> per_pair;
  for (int i = 0; i < 12000; ++i) {
    auto id = std::to_string(i);
    auto owner = owner_node(nodes, id);
    auto shard = local_shard(nodes[owner].first, 4, id);
    ++per_pair[{owner, shard}];
    // The owner pair is the highest-scoring pair of all.
    uint64_t best = placement_score(nodes[owner].first, shard, id);
    for (auto& [node, shards] : nodes)
      for (uint32_t s = 0; s < shards; ++s)
        CHECK_MESSAGE(placement_score(node, s, id) <= best, id);
  }
  REQUIRE(per_pair.size() == 12);
  for (auto& [pair, n] : per_pair)
    CHECK(n == doctest::Approx(1000).epsilon(0.15));
}

TEST_CASE("a node leaving moves only its own ids, and a node joining takes ids only for itself") {
  std::vector<std::pair<std::string, uint32_t>> three{{"a", 2}, {"b", 2}, {"c", 2}}, two{{"a", 2}, {"b", 2}};
  size_t moved_from_c = 0;
  for (int i = 0; i < 5000; ++i) {
    auto id = "doc-" + std::to_string(i);
    auto with_c = three[owner_node(three, id)].first;
    auto without_c = two[owner_node(two, id)].first;
    if (with_c != "c")
      CHECK(with_c == without_c); // ids of a and b stay where they are
    else
      ++moved_from_c;
  }
  CHECK(moved_from_c == doctest::Approx(5000 / 3.0).epsilon(0.1));
}
