#pragma once
// Test data: the benchmarks' data sets (perf/harness/datasets.hpp) and scratch directories.

#include <string>

#include "perf/harness/datasets.hpp"

namespace p2p::test {

using datasets::cosine_recall;
using datasets::embedding_like_vectors;
using datasets::kth_best_similarity;
using datasets::naive_similarity;
using datasets::random_vectors;

/// A fresh empty directory under the build's test-tmp folder.
std::string fresh_dir(const std::string& name);

} // namespace p2p::test
