#include "vectors/placement.hpp"

#include "core/hashing.hpp"

namespace p2p {

namespace {

uint64_t best_score(std::string_view node_id, uint32_t shards, uint64_t id_hash, uint16_t* shard) {
  uint64_t node_hash = fnv1a(node_id);
  uint64_t best = 0;
  for (uint32_t s = 0; s < shards; ++s) {
    uint64_t score = mix64(node_hash ^ mix64(id_hash + 0x9e3779b97f4a7c15ull * (s + 1)));
    if (s == 0 || score > best) {
      best = score;
      if (shard)
        *shard = uint16_t(s);
    }
  }
  return best;
}

} // namespace

uint64_t placement_score(std::string_view node_id, uint32_t shard, std::string_view id) {
  return mix64(fnv1a(node_id) ^ mix64(fnv1a(id) + 0x9e3779b97f4a7c15ull * (shard + 1)));
}

uint16_t local_shard(std::string_view node_id, uint32_t shards, std::string_view id) {
  uint16_t shard = 0;
  best_score(node_id, shards, fnv1a(id), &shard);
  return shard;
}

size_t owner_node(const std::vector<std::pair<std::string, uint32_t>>& nodes, std::string_view id) {
  uint64_t id_hash = fnv1a(id);
  size_t owner = 0;
  uint64_t best = 0;
  for (size_t n = 0; n < nodes.size(); ++n) {
    uint64_t score = best_score(nodes[n].first, nodes[n].second, id_hash, nullptr);
    if (n == 0 || score > best || (score == best && nodes[n].first < nodes[owner].first)) {
      best = score;
      owner = n;
    }
  }
  return owner;
}

} // namespace p2p
