#pragma once
// Data sets for benchmarks and tests: seeded random vectors, exact top-k, and recall with ties
// counted as hits. Pure logic: no CAF, no RocksDB.

#include <cstdint>
#include <string>
#include <vector>

#include "vectors/metric.hpp"

namespace p2p::datasets {

/// `rows` x `dim` Gaussian floats from `seed`. Every direction is equally likely: the hardest
/// case for any ANN index, unlike real embeddings.
std::vector<float> random_vectors(size_t rows, uint32_t dim, uint64_t seed);

/// Vectors shaped like text embeddings: a fixed random map of a `latent`-dimensional Gaussian
/// into `dim` dimensions plus 10 % isotropic noise. The map depends on `space_seed` only, so
/// base vectors and queries made with the same space share it.
std::vector<float> embedding_like_vectors(size_t rows, uint32_t dim, uint64_t seed, uint64_t space_seed = 1,
                                          uint32_t latent = 32);

/// Similarity used for ranking (higher is closer) under `m`, computed naively in double.
double naive_similarity(metric_kind m, const float* a, const float* b, uint32_t dim);

/// For each query, the exact similarity of the k-th best base vector.
std::vector<double> kth_best_similarity(metric_kind m, const std::vector<float>& base, const std::vector<float>& queries,
                                        uint32_t dim, size_t k);

} // namespace p2p::datasets

namespace p2p::datasets {

/// Hits among one query's result `rows` (row numbers of `base`): rows whose exact similarity
/// reaches `kth` (ties count as hits). A row returned twice counts once: a list that repeats the
/// best vector k times scores 1 hit, not k.
[[nodiscard]] size_t recall_hits(metric_kind m, const float* query, const std::vector<float>& base, uint32_t dim,
                                 const std::vector<size_t>& rows, double kth);

/// Cosine recall@k of `results` (ids per query, as row numbers) with ties counted as hits:
/// a result is a hit when its exact similarity reaches the k-th best among `rows` of `base`.
double cosine_recall(const std::vector<float>& base, const std::vector<size_t>& rows, const std::vector<float>& queries,
                     uint32_t dim, size_t k, const std::vector<std::vector<size_t>>& results);

} // namespace p2p::datasets
