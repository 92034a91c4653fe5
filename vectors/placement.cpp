#include "vectors/placement.hpp"

#include <algorithm>

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

uint32_t vshard_of(std::string_view id) {
  return uint32_t(mix64(fnv1a(id) ^ 0x5bd1e9955bd1e995ull) % virtual_shards);
}

uint16_t local_shard(std::string_view node_id, uint32_t shards, std::string_view id) {
  uint16_t shard = 0;
  best_score(node_id, shards, fnv1a(id), &shard);
  return shard;
}

replica_table::replica_table(const std::vector<std::string>& nodes, uint32_t replication)
  : nodes_(nodes), r_(std::min<uint32_t>(replication, uint32_t(nodes.size()))) {
  slots_.resize(size_t(virtual_shards) * r_);
  std::vector<uint64_t> node_hash;
  for (auto& n : nodes_)
    node_hash.push_back(fnv1a(n));
  std::vector<std::pair<uint64_t, uint32_t>> ranked(nodes_.size());
  for (uint32_t v = 0; v < virtual_shards && r_ > 0; ++v) {
    for (uint32_t n = 0; n < nodes_.size(); ++n)
      ranked[n] = {mix64(node_hash[n] ^ mix64(0x9e3779b97f4a7c15ull * (v + 1))), n};
    // Highest score first; equal scores (practically never) by node id, so every node agrees.
    std::partial_sort(ranked.begin(), ranked.begin() + r_, ranked.end(), [&](auto& a, auto& b) {
      return a.first != b.first ? a.first > b.first : nodes_[a.second] < nodes_[b.second];
    });
    for (uint32_t i = 0; i < r_; ++i)
      slots_[size_t(v) * r_ + i] = ranked[i].second;
  }
}

bool replica_table::holds(uint32_t n, uint32_t v) const {
  return std::find(begin(v), end(v), n) != end(v);
}

} // namespace p2p
