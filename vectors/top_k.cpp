#include "vectors/top_k.hpp"

#include <algorithm>
#include <unordered_set>

#include "vectors/distance.hpp"

namespace p2p {

std::vector<scored_id> top_k_unique(std::vector<scored_id> candidates, size_t k, metric_kind metric) {
  std::sort(candidates.begin(), candidates.end(), [metric](const scored_id& a, const scored_id& b) {
    if (a.score != b.score)
      return better_score(metric, a.score, b.score);
    return a.id < b.id;
  });
  std::vector<scored_id> out;
  out.reserve(std::min(k, candidates.size()));
  std::unordered_set<std::string_view> seen;
  for (auto& c : candidates) {
    if (out.size() == k)
      break;
    if (seen.insert(c.id).second)
      out.push_back(c);
  }
  return out;
}

} // namespace p2p
