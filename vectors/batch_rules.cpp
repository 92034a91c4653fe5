#include "vectors/batch_rules.hpp"

#include <cstdint>

#include <simdjson.h>

#include "vectors/vector_io.hpp"

namespace p2p {

std::string check_vector_batch(std::string_view collection, uint32_t dim, const std::vector<std::string>& ids,
                               const std::vector<float>& values, const std::vector<std::string>& metadata) {
  if (collection.empty() || collection.find('\0') != std::string::npos)
    return "invalid collection name";
  if (dim == 0)
    return "dimension 0";
  if (ids.empty())
    return "empty batch";
  if (values.size() != ids.size() * dim)
    return "batch has " + std::to_string(values.size()) + " values for " + std::to_string(ids.size())
           + " ids of dimension " + std::to_string(dim);
  if (!metadata.empty() && metadata.size() != ids.size())
    return "batch has " + std::to_string(metadata.size()) + " metadata entries for " + std::to_string(ids.size())
           + " ids";
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i].empty())
      return "row " + std::to_string(i) + " of the batch: empty id";
  if (auto bad = first_non_finite(values.data(), values.size()); bad != SIZE_MAX)
    return "id '" + ids[bad / dim] + "': value " + std::to_string(bad % dim) + " is not finite";
  simdjson::dom::parser parser;
  for (size_t i = 0; i < metadata.size(); ++i) {
    if (metadata[i].empty())
      continue;
    if (metadata[i].size() > max_metadata_bytes)
      return "id '" + ids[i] + "': metadata of " + std::to_string(metadata[i].size())
             + " bytes, over the limit of " + std::to_string(max_metadata_bytes) + " bytes";
    simdjson::dom::element doc;
    if (parser.parse(metadata[i]).get(doc) || !doc.is_object())
      return "id '" + ids[i] + "': metadata is not a JSON object";
  }
  return {};
}

} // namespace p2p
