#include <doctest/doctest.h>

#include "perf/harness/datasets.hpp"

using namespace p2p;

namespace {

// Four base vectors on the unit circle and one query at (1, 0): rows 0 and 1 are its top 2.
const std::vector<float> base{1.0f, 0.0f, 0.8f, 0.6f, 0.0f, 1.0f, -1.0f, 0.0f};
const std::vector<float> query{1.0f, 0.0f};

} // namespace

TEST_CASE("recall counts a row returned twice as one hit") {
  auto kth = datasets::kth_best_similarity(metric_kind::cosine, base, query, 2, 2);
  REQUIRE(kth.size() == 1);
  CHECK(datasets::recall_hits(metric_kind::cosine, query.data(), base, 2, {0, 1}, kth[0]) == 2);
  CHECK(datasets::recall_hits(metric_kind::cosine, query.data(), base, 2, {0, 0}, kth[0]) == 1);
  CHECK(datasets::recall_hits(metric_kind::cosine, query.data(), base, 2, {2, 3}, kth[0]) == 0);
}

TEST_CASE("cosine recall of a list that repeats the best vector is not 1") {
  std::vector<size_t> rows{0, 1, 2, 3};
  CHECK(datasets::cosine_recall(base, rows, query, 2, 2, {{0, 1}}) == doctest::Approx(1.0));
  CHECK(datasets::cosine_recall(base, rows, query, 2, 2, {{0, 0}}) == doctest::Approx(0.5));
  CHECK(datasets::cosine_recall(base, rows, query, 2, 2, {{1, 0, 0, 1}}) == doctest::Approx(1.0));
}
