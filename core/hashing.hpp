#pragma once
// The project's one string hash and one 64-bit mixer: stable across runs and hosts, so ids,
// terms and placements hash the same everywhere.

#include <cstdint>
#include <string_view>

namespace p2p {

/// FNV-1a over the bytes of `s`.
[[nodiscard]] inline uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// The splitmix64 finaliser: every input bit affects every output bit.
[[nodiscard]] inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace p2p
