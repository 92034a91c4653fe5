#pragma once
// Where a vector lives in a cluster: rendezvous (highest random weight) hashing over the live
// (node, shard) pairs. Every node computes the same owner from the same member list, a node
// leaving moves only its own keys, and within a node the shard of an id depends only on that
// node, so a node finds its local shard for any id without knowing the rest of the cluster.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p {

/// The weight of (node, shard) for `id`: the highest wins.
[[nodiscard]] uint64_t placement_score(std::string_view node_id, uint32_t shard, std::string_view id);

/// The shard of `id` among the `shards` shards of `node_id`.
[[nodiscard]] uint16_t local_shard(std::string_view node_id, uint32_t shards, std::string_view id);

/// The index in `nodes` ((node id, shard count) pairs) of the node that owns `id`.
[[nodiscard]] size_t owner_node(const std::vector<std::pair<std::string, uint32_t>>& nodes, std::string_view id);

} // namespace p2p
