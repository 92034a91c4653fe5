#pragma once
// Where a vector lives in a cluster. Every collection is cut into `virtual_shards` virtual shards
// by a hash of the id; each virtual shard lives on R nodes (the replication factor, capped at the
// member count), chosen by rendezvous (highest random weight) hashing of (virtual shard, node
// id). Every node computes the same replicas from the same member list, and a member joining or
// going moves only the virtual shards whose top R it enters or leaves (about R/N of them).
// Within a node the local shard of an id depends only on that node, so a node finds its local
// shard for any id without knowing the rest of the cluster.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p {

/// Virtual shards per collection: enough to spread evenly over tens of nodes.
inline constexpr uint32_t virtual_shards = 256;

/// The virtual shard of `id`.
[[nodiscard]] uint32_t vshard_of(std::string_view id);

/// The shard of `id` among the `shards` shards of `node_id`.
[[nodiscard]] uint16_t local_shard(std::string_view node_id, uint32_t shards, std::string_view id);

/// The replicas of every virtual shard over a list of member ids: for each virtual shard the
/// indices into `nodes` of its min(R, nodes) replicas, best first.
class replica_table {
public:
  replica_table() = default;
  replica_table(const std::vector<std::string>& nodes, uint32_t replication);

  [[nodiscard]] uint32_t replication() const { return r_; }
  [[nodiscard]] const std::vector<std::string>& nodes() const { return nodes_; }

  /// Indices into nodes() of the replicas of virtual shard `v`, best first.
  [[nodiscard]] const uint32_t* begin(uint32_t v) const { return slots_.data() + size_t(v) * r_; }
  [[nodiscard]] const uint32_t* end(uint32_t v) const { return begin(v) + r_; }

  /// Whether node index `n` holds virtual shard `v`.
  [[nodiscard]] bool holds(uint32_t n, uint32_t v) const;

private:
  std::vector<std::string> nodes_;
  uint32_t r_ = 0;
  std::vector<uint32_t> slots_; // virtual_shards x r_
};

} // namespace p2p
