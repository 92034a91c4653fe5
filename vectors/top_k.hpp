#pragma once
// Merging per-shard top-k lists into one: pure logic, no CAF.

#include <cstddef>
#include <string_view>
#include <vector>

#include "vectors/metric.hpp"

namespace p2p {

/// A search hit: its score under the metric (similarity for cosine/ip, distance for l2) and id.
struct scored_id {
  float score;
  std::string_view id;
};

/// The best `k` of `candidates` under `metric`, best first, each id at most once (kept with its
/// best score: a vector found by two shards, as during a handoff, is one hit). Equal scores are
/// ordered by id, so the answer does not depend on the order the shards replied in.
[[nodiscard]] std::vector<scored_id> top_k_unique(std::vector<scored_id> candidates, size_t k, metric_kind metric);

} // namespace p2p
