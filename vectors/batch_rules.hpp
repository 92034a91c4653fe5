#pragma once
// The rules a batch of vectors must meet before anything of it is stored: pure logic, so that a
// batch is applied entirely or not at all.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

/// Empty when `ids`, `values` (ids.size() x dim floats) and `metadata` (empty, or one JSON
/// object or empty string per id) of `collection` can be stored; else what is wrong, naming the
/// id or row.
[[nodiscard]] std::string check_vector_batch(std::string_view collection, uint32_t dim,
                                             const std::vector<std::string>& ids, const std::vector<float>& values,
                                             const std::vector<std::string>& metadata);

} // namespace p2p
