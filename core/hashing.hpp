#pragma once
// The project's one string hash and one 64-bit mixer: stable across runs and hosts, so ids,
// terms and placements hash the same everywhere.

#include <cstddef>
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

/// A fast 64-bit hash of a block of bytes (four lanes of 8-byte words, then mixed): a checksum
/// of files that are read back whole, e.g. saved graphs. Not for hash tables of short keys.
[[nodiscard]] inline uint64_t hash_block(const void* data, size_t n, uint64_t seed = 0) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t lane[4] = {seed ^ 0x9e3779b97f4a7c15ull, seed + 0x632be59bd9b4e019ull, ~seed, seed * 3 + 1};
  auto word = [](const unsigned char* q) {
    uint64_t w;
    __builtin_memcpy(&w, q, 8);
    return w;
  };
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; ++l) {
      lane[l] = (lane[l] ^ word(p + i + size_t(l) * 8)) * 0x9fb21c651e98df25ull;
      lane[l] ^= lane[l] >> 29;
    }
  uint64_t h = uint64_t(n);
  for (uint64_t l : lane)
    h = mix64(h ^ l);
  for (; i < n; ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return mix64(h);
}

} // namespace p2p
