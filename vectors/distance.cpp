#include "vectors/distance.hpp"

#include <cmath>

namespace p2p {

float dot(const float* a, const float* b, size_t n) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (size_t i = 0; i < n; ++i)
    sum += a[i] * b[i];
  return sum;
}

float l2_squared(const float* a, const float* b, size_t n) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (size_t i = 0; i < n; ++i) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

void normalize(float* v, size_t n) {
  float norm = std::sqrt(dot(v, v, n));
  if (norm == 0)
    return;
  float inv = 1.0f / norm;
  for (size_t i = 0; i < n; ++i)
    v[i] *= inv;
}

float score_of(metric_kind m, float distance) {
  return m == metric_kind::l2 ? std::sqrt(std::max(distance, 0.0f)) : 1.0f - distance;
}

} // namespace p2p
