#pragma once
// How vectors are compared and how their HNSW graphs are built: the parameters of a collection.

#include <cstdint>
#include <optional>
#include <string_view>

namespace p2p {

enum class metric_kind : uint8_t { cosine, ip, l2 };

[[nodiscard]] std::string_view to_string(metric_kind m);
[[nodiscard]] std::optional<metric_kind> parse_metric(std::string_view s);

/// hnswlib's build and search parameters.
struct hnsw_config {
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  uint32_t ef_search = 64;
};

} // namespace p2p
