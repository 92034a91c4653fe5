#pragma once
// Process-wide counters of the work a node did for its clients, read by /metrics: one node per
// process (embedded or `p2p-agent node`), so process-wide is per node.

#include <array>
#include <atomic>
#include <cstdint>

namespace p2p {

struct op_counters {
  std::atomic<uint64_t> vectors_stored{0};  // rows of client puts acknowledged
  std::atomic<uint64_t> vectors_deleted{0}; // client deletes of an id that existed
  std::array<std::atomic<uint64_t>, 16> errors{}; // errors raised here, by errc
  std::atomic<uint64_t> gossip_digests{0};  // membership digests received from peers
  std::atomic<uint64_t> gossip_lists{0};    // member lists received (a digest differed)
};

inline op_counters& counters() {
  static op_counters c;
  return c;
}

} // namespace p2p
