#include "storage/vector_keys.hpp"

namespace p2p {

std::string shard_prefix(uint16_t shard) {
  std::string k;
  k.push_back(char(shard >> 8));
  k.push_back(char(shard & 0xff));
  return k;
}

std::string vector_key(uint16_t shard, std::string_view collection, std::string_view id) {
  std::string k = shard_prefix(shard);
  k.reserve(3 + collection.size() + id.size());
  k.append(collection);
  k.push_back('\0');
  k.append(id);
  return k;
}

bool parse_vector_key(std::string_view key, vector_key_parts& out) {
  if (key.size() < 3)
    return false;
  auto zero = key.find('\0', 2);
  if (zero == std::string_view::npos)
    return false;
  out.shard = uint16_t((uint8_t(key[0]) << 8) | uint8_t(key[1]));
  out.collection = key.substr(2, zero - 2);
  out.id = key.substr(zero + 1);
  return true;
}

} // namespace p2p
