#pragma once
// Distance kernels. Every kernel returns a distance: lower is closer, the convention of hnswlib.

#include <cstddef>

#include "vectors/metric.hpp"

namespace p2p {

[[nodiscard]] float dot(const float* a, const float* b, size_t n);
[[nodiscard]] float l2_squared(const float* a, const float* b, size_t n);

/// Scales `v` to unit length in place; a zero vector stays zero.
void normalize(float* v, size_t n);

/// Distance under `m`, for vectors already prepared (cosine: both unit length).
[[nodiscard]] inline float distance(metric_kind m, const float* a, const float* b, size_t n) {
  return m == metric_kind::l2 ? l2_squared(a, b, n) : 1.0f - dot(a, b, n);
}

/// The user-facing score of DESIGN.md §6: similarity for cosine/ip, Euclidean distance for l2.
[[nodiscard]] float score_of(metric_kind m, float distance);

/// True when `a` ranks closer than `b` by score.
[[nodiscard]] inline bool better_score(metric_kind m, float a, float b) {
  return m == metric_kind::l2 ? a < b : a > b;
}

} // namespace p2p
