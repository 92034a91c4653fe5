#pragma once
// Figures about this process, read from /proc.

#include <cstdint>

namespace p2p {

/// Resident set size in bytes (0 where /proc is not available).
[[nodiscard]] uint64_t resident_bytes();

/// CPU time (user + system) this process has used, in seconds (0 where /proc is not available).
[[nodiscard]] double cpu_seconds();

/// Another process's figures (pid 0: this one), from /proc/PID; ok is false when it is gone.
struct process_sample {
  bool ok = false;
  double cpu_seconds = 0;
  uint64_t rss_bytes = 0;
  uint64_t read_bytes = 0, write_bytes = 0; // storage I/O (/proc/PID/io), not sockets
};
[[nodiscard]] process_sample sample_process(int pid);

} // namespace p2p
