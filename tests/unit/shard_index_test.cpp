#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "tests/support/data.hpp"
#include "vectors/distance.hpp"
#include "vectors/shard_index.hpp"

using namespace p2p;

namespace {

constexpr uint32_t dim = 32;
const hnsw_config params{16, 100, 64};

std::vector<std::string> ids_of(const shard_index& idx, const std::vector<shard_hit>& hits) {
  std::vector<std::string> out;
  for (auto& h : hits)
    out.emplace_back(idx.id_of(h.label));
  return out;
}

void fill(shard_index& idx, const std::vector<float>& base) {
  for (size_t i = 0; i < base.size() / dim; ++i)
    idx.upsert(std::to_string(i), &base[i * dim]);
}

/// Recall@k with ties counted as hits: a result is a hit when its exact similarity reaches the k-th best.
double recall(metric_kind m, const shard_index& idx, const std::vector<float>& base, const std::vector<float>& queries,
              size_t k, bool exact) {
  auto kth = test::kth_best_similarity(m, base, queries, dim, k);
  size_t hits = 0, nq = queries.size() / dim;
  std::vector<shard_hit> out;
  for (size_t q = 0; q < nq; ++q) {
    idx.search(&queries[q * dim], k, 64, exact, out);
    for (auto& h : out) {
      size_t row = std::stoul(std::string(idx.id_of(h.label)));
      if (test::naive_similarity(m, &queries[q * dim], &base[row * dim], dim) >= kth[q] - 1e-5)
        ++hits;
    }
  }
  return double(hits) / double(nq * k);
}

} // namespace

TEST_CASE("shard search matches exact search, before and after the graph is built") {
  for (auto m : {metric_kind::cosine, metric_kind::ip, metric_kind::l2}) {
    INFO("metric " << to_string(m));
    auto base = test::random_vectors(3000, dim, 11);
    auto queries = test::random_vectors(100, dim, 12);
    shard_index idx(dim, m, params);
    fill(idx, base);
    CHECK(idx.pending() == 3000);
    CHECK(recall(m, idx, base, queries, 10, false) == doctest::Approx(1.0)); // all pending: exact scan
    while (idx.index_pending(500) > 0) {
    }
    CHECK(idx.pending() == 0);
    CHECK(idx.size() == 3000);
    CHECK(recall(m, idx, base, queries, 10, true) == doctest::Approx(1.0));
    CHECK(recall(m, idx, base, queries, 10, false) >= 0.95);
  }
}

TEST_CASE("results come best first and scores follow the metric") {
  auto base = test::random_vectors(200, dim, 5);
  shard_index idx(dim, metric_kind::l2, params);
  fill(idx, base);
  idx.index_pending(100); // half in the graph, half pending
  std::vector<shard_hit> out;
  idx.search(&base[42 * dim], 5, 64, false, out);
  REQUIRE(out.size() == 5);
  CHECK(idx.id_of(out[0].label) == "42");
  CHECK(out[0].distance == doctest::Approx(0.0));
  CHECK(std::is_sorted(out.begin(), out.end(), [](auto& a, auto& b) { return a.distance < b.distance; }));
}

TEST_CASE("an upsert of an existing id replaces its vector, pending or indexed") {
  auto base = test::random_vectors(500, dim, 7);
  auto replacement = test::random_vectors(1, dim, 99);
  for (bool indexed : {false, true}) {
    INFO("indexed first: " << indexed);
    shard_index idx(dim, metric_kind::cosine, params);
    fill(idx, base);
    if (indexed)
      idx.index_pending(1000);
    idx.upsert("7", replacement.data());
    CHECK(idx.size() == 500);
    std::vector<shard_hit> out;
    idx.search(replacement.data(), 1, 64, false, out);
    REQUIRE(out.size() == 1);
    CHECK(idx.id_of(out[0].label) == "7");
    CHECK(score_of(metric_kind::cosine, out[0].distance) == doctest::Approx(1.0).epsilon(1e-4));
    idx.search(&base[7 * dim], 3, 64, true, out); // the old vector no longer matches id 7 exactly
    for (auto& h : out)
      if (idx.id_of(h.label) == "7")
        CHECK(score_of(metric_kind::cosine, h.distance) < 0.9f);
    idx.index_pending(1000);
    idx.search(replacement.data(), 1, 64, false, out);
    REQUIRE(out.size() == 1);
    CHECK(idx.id_of(out[0].label) == "7");
    CHECK(idx.size() == 500);
  }
}

TEST_CASE("a deleted id is gone from results at once and can come back") {
  auto base = test::random_vectors(400, dim, 8);
  shard_index idx(dim, metric_kind::cosine, params);
  fill(idx, base);
  idx.index_pending(200); // ids 0..199 indexed, 200..399 pending
  std::vector<shard_hit> out;
  for (const char* id : {"10", "300"}) {
    INFO("id " << id);
    size_t row = std::stoul(id);
    CHECK(idx.erase(id));
    CHECK_FALSE(idx.contains(id));
    CHECK_FALSE(idx.erase(id));
    for (bool exact : {false, true}) {
      idx.search(&base[row * dim], 20, 64, exact, out);
      auto ids = ids_of(idx, out);
      CHECK(std::find(ids.begin(), ids.end(), std::string(id)) == ids.end());
    }
  }
  CHECK(idx.size() == 398);
  CHECK_FALSE(idx.erase("no-such-id"));
  idx.upsert("10", &base[10 * dim]);
  idx.search(&base[10 * dim], 1, 64, false, out);
  REQUIRE(out.size() == 1);
  CHECK(idx.id_of(out[0].label) == "10");
  while (idx.index_pending(1000) > 0) {
  }
  idx.search(&base[10 * dim], 1, 64, false, out);
  CHECK(idx.id_of(out[0].label) == "10");
  CHECK(idx.size() == 399);
}

TEST_CASE("ids are distinct keys however many there are") {
  shard_index idx(4, metric_kind::l2, params);
  std::vector<float> v{1, 2, 3, 4};
  std::set<std::string> ids;
  for (int i = 0; i < 20000; ++i) {
    auto id = "doc-" + std::to_string(i * 7919 % 100003);
    ids.insert(id);
    idx.upsert(id, v.data());
  }
  CHECK(idx.size() == ids.size());
  CHECK(idx.contains("doc-0"));
  CHECK_FALSE(idx.contains("doc-1"));
}
