#pragma once
// Figures about this process, read from /proc.

#include <cstdint>

namespace p2p {

/// Resident set size in bytes (0 where /proc is not available).
[[nodiscard]] uint64_t resident_bytes();

/// CPU time (user + system) this process has used, in seconds (0 where /proc is not available).
[[nodiscard]] double cpu_seconds();

} // namespace p2p
