#pragma once
// When a write counts as durable.

#include <cstdint>

namespace p2p {

/// `wal`: in RocksDB's write-ahead log (survives a process crash); `fsync`: synced to disk with
/// each group commit (survives a machine crash).
enum class durability_mode : uint8_t { wal, fsync };

} // namespace p2p
