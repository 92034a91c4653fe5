#pragma once
// Key layout of the vectors and metadata column families:
//   [shard: 2 bytes big-endian][collection][0x00][id]
// so that each shard reloads its own key range with one prefix scan.

#include <cstdint>
#include <string>
#include <string_view>

namespace p2p {

[[nodiscard]] std::string vector_key(uint16_t shard, std::string_view collection, std::string_view id);

/// The prefix of every key of `shard`.
[[nodiscard]] std::string shard_prefix(uint16_t shard);

struct vector_key_parts {
  uint16_t shard = 0;
  std::string_view collection;
  std::string_view id;
};

/// Splits a key; false when it is not of the layout above.
[[nodiscard]] bool parse_vector_key(std::string_view key, vector_key_parts& out);

} // namespace p2p
