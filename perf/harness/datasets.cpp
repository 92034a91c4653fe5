#include "perf/harness/datasets.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace p2p::datasets {

std::vector<float> random_vectors(size_t rows, uint32_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> out(rows * dim);
  for (auto& x : out)
    x = dist(rng);
  return out;
}

std::vector<float> embedding_like_vectors(size_t rows, uint32_t dim, uint64_t seed, uint64_t space_seed,
                                          uint32_t latent) {
  auto map = random_vectors(latent, dim, space_seed);
  auto z = random_vectors(rows, latent, seed);
  auto noise = random_vectors(rows, dim, seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<float> out(rows * dim);
  const float noise_scale = 0.1f * std::sqrt(float(latent));
  for (size_t r = 0; r < rows; ++r) {
    float* x = &out[r * dim];
    for (uint32_t j = 0; j < latent; ++j) {
      float zj = z[r * latent + j];
      const float* a = &map[size_t(j) * dim];
      for (uint32_t i = 0; i < dim; ++i)
        x[i] += zj * a[i];
    }
    for (uint32_t i = 0; i < dim; ++i)
      x[i] += noise_scale * noise[r * dim + i];
  }
  return out;
}

double naive_similarity(metric_kind m, const float* a, const float* b, uint32_t dim) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (uint32_t i = 0; i < dim; ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
    l2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  }
  switch (m) {
    case metric_kind::cosine: return dot / (std::sqrt(na) * std::sqrt(nb));
    case metric_kind::ip: return dot;
    case metric_kind::l2: return -std::sqrt(l2);
  }
  return 0;
}

std::vector<double> kth_best_similarity(metric_kind m, const std::vector<float>& base, const std::vector<float>& queries,
                                        uint32_t dim, size_t k) {
  size_t n = base.size() / dim, nq = queries.size() / dim;
  std::vector<double> out(nq), sims(n);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < n; ++i)
      sims[i] = naive_similarity(m, &queries[q * dim], &base[i * dim], dim);
    std::nth_element(sims.begin(), sims.begin() + (k - 1), sims.end(), std::greater<>());
    out[q] = sims[k - 1];
  }
  return out;
}

} // namespace p2p::datasets

#include "vectors/distance.hpp"

namespace p2p::datasets {

namespace {

/// The rows of one result list, each once: a row returned twice is one hit.
std::vector<size_t> distinct(std::vector<size_t> rows) {
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

} // namespace

size_t recall_hits(metric_kind m, const float* query, const std::vector<float>& base, uint32_t dim,
                   const std::vector<size_t>& rows, double kth) {
  size_t hits = 0;
  for (size_t row : distinct(rows))
    hits += naive_similarity(m, query, &base[row * dim], dim) >= kth - 1e-6;
  return hits;
}

double cosine_recall(const std::vector<float>& base, const std::vector<size_t>& rows, const std::vector<float>& queries,
                     uint32_t dim, size_t k, const std::vector<std::vector<size_t>>& results) {
  std::vector<float> unit_base(base), unit_q(queries);
  for (size_t i = 0; i < unit_base.size() / dim; ++i)
    normalize(&unit_base[i * dim], dim);
  for (size_t i = 0; i < unit_q.size() / dim; ++i)
    normalize(&unit_q[i * dim], dim);
  size_t hits = 0;
  std::vector<float> sims(rows.size());
  for (size_t q = 0; q < results.size(); ++q) {
    const float* qv = &unit_q[q * dim];
    for (size_t i = 0; i < rows.size(); ++i)
      sims[i] = dot(qv, &unit_base[rows[i] * dim], dim);
    std::nth_element(sims.begin(), sims.begin() + (k - 1), sims.end(), std::greater<>());
    float kth = sims[k - 1];
    for (size_t row : distinct(results[q]))
      if (dot(qv, &unit_base[row * dim], dim) >= kth - 1e-5f)
        ++hits;
  }
  return double(hits) / double(results.size() * k);
}

} // namespace p2p::datasets
