#pragma once
// The rules a batch of vectors must meet before anything of it is stored: pure logic, so that a
// batch is applied entirely or not at all.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

/// The most bytes of metadata (minified JSON) one vector may carry.
constexpr size_t max_metadata_bytes = 64 * 1024;

/// Empty when `ids`, `values` (ids.size() x dim floats) and `metadata` (empty, or one JSON
/// object of at most max_metadata_bytes, or an empty string, per id) of `collection` can be
/// stored; else what is wrong, naming the id or row.
[[nodiscard]] std::string check_vector_batch(std::string_view collection, uint32_t dim,
                                             const std::vector<std::string>& ids, const std::vector<float>& values,
                                             const std::vector<std::string>& metadata);

} // namespace p2p
