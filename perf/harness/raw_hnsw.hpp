#pragma once
// hnswlib on its own, with nothing of the project around it: the baseline that benchmarks put
// the node's search beside.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "vectors/metric.hpp"

namespace p2p {

class raw_hnsw {
public:
  /// An empty graph for `capacity` vectors of `dim` under `metric` (cosine: callers normalise).
  raw_hnsw(uint32_t dim, metric_kind metric, size_t capacity, uint32_t m, uint32_t ef_construction);
  ~raw_hnsw();

  /// Adds row `label`; safe from several threads at once (hnswlib's own locking).
  void add(const float* v, size_t label);
  void set_ef(size_t ef);
  /// Labels of the k nearest, nearest first.
  [[nodiscard]] std::vector<size_t> search(const float* q, size_t k) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace p2p
