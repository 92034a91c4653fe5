#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
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

namespace {

std::vector<std::string> top_ids(const shard_index& idx, const float* q, size_t k) {
  std::vector<shard_hit> out;
  idx.search(q, k, 64, false, out);
  return ids_of(idx, out);
}

void flip_byte(const std::string& path, size_t at) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  REQUIRE(f);
  std::fseek(f, long(at), SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, long(at), SEEK_SET);
  std::fputc(c ^ 0x40, f);
  std::fclose(f);
}

} // namespace

TEST_CASE("a saved graph loads with the same answers, ids, versions and deletes") {
  auto dir = test::fresh_dir("graph-save");
  auto base = test::random_vectors(2000, dim, 21);
  auto queries = test::random_vectors(20, dim, 22);
  shard_index idx(dim, metric_kind::cosine, params);
  fill(idx, base);
  for (size_t i = 0; i < 2000; ++i)
    idx.set_version(std::to_string(i), 100 + i);
  while (idx.index_pending(500) > 0) {
  }
  CHECK(idx.erase("7"));
  idx.set_version("7", 5000);
  idx.upsert("8", &base[9 * dim]); // pending at the save: its graph copy is dead
  idx.set_version("8", 5001);
  CHECK(idx.graph_changes() > 0);
  REQUIRE(idx.save(dir + "/g", 77) == "");
  CHECK(idx.graph_changes() == 0);

  auto l = shard_index::load(dir + "/g", dim, metric_kind::cosine, params);
  REQUIRE_MESSAGE(l.index, l.problem);
  auto& back = *l.index;
  CHECK(l.sequence == 77);
  CHECK(back.labels() == idx.labels());
  CHECK(back.pending() == 0);
  CHECK_FALSE(back.contains("7"));
  CHECK(back.version_of("7") == 5000);
  CHECK_FALSE(back.contains("8")); // pending at the save: the caller reads it again
  CHECK(back.version_of("8") == 5001);
  CHECK(back.contains("1999"));
  CHECK(back.version_of("1999") == 2099);
  CHECK(back.size() == 1998);
  for (size_t q = 0; q < 20; ++q) {
    auto a = top_ids(back, &queries[q * dim], 10);
    CHECK(std::find(a.begin(), a.end(), "7") == a.end());
    CHECK(std::find(a.begin(), a.end(), "8") == a.end());
  }
  // Deletes, replacements and new ids after loading work as before.
  back.upsert("8", &base[9 * dim]);
  back.upsert("new", &base[3 * dim]);
  CHECK(back.erase("3"));
  while (back.index_pending(100) > 0) {
  }
  CHECK(back.size() == 1999);
  CHECK(top_ids(back, &base[3 * dim], 1) == std::vector<std::string>{"new"});
  CHECK(back.graph_dead() == 2); // "7" and "3"
}

TEST_CASE("a truncated, altered or mismatched graph file is never loaded") {
  auto dir = test::fresh_dir("graph-bad");
  auto base = test::random_vectors(500, dim, 31);
  shard_index idx(dim, metric_kind::l2, params);
  fill(idx, base);
  while (idx.index_pending(500) > 0) {
  }
  REQUIRE(idx.save(dir + "/g", 1) == "");
  CHECK(shard_index::load(dir + "/nothing", dim, metric_kind::l2, params).problem == "missing");
  CHECK_FALSE(shard_index::load(dir + "/g", dim, metric_kind::cosine, params).index); // other metric
  CHECK_FALSE(shard_index::load(dir + "/g", dim + 1, metric_kind::l2, params).index);  // other dimension
  REQUIRE(shard_index::load(dir + "/g", dim, metric_kind::l2, params).index);

  flip_byte(dir + "/g.hnsw", 5000);
  auto altered = shard_index::load(dir + "/g", dim, metric_kind::l2, params);
  CHECK_FALSE(altered.index);
  CHECK(altered.problem.find("does not match") != std::string::npos);

  REQUIRE(idx.save(dir + "/g", 2) == "");
  std::filesystem::resize_file(dir + "/g.hnsw", std::filesystem::file_size(dir + "/g.hnsw") - 100);
  CHECK_FALSE(shard_index::load(dir + "/g", dim, metric_kind::l2, params).index);

  REQUIRE(idx.save(dir + "/g", 3) == "");
  flip_byte(dir + "/g.meta", 40);
  auto meta = shard_index::load(dir + "/g", dim, metric_kind::l2, params);
  CHECK_FALSE(meta.index);
  CHECK(meta.problem == "meta file checksum mismatch");
}

TEST_CASE("compacting a graph keeps every live vector and drops the dead") {
  auto base = test::random_vectors(1000, dim, 41);
  auto queries = test::random_vectors(50, dim, 42);
  shard_index idx(dim, metric_kind::ip, params);
  fill(idx, base);
  while (idx.index_pending(500) > 0) {
  }
  for (size_t i = 0; i < 1000; i += 2)
    idx.erase(std::to_string(i));
  CHECK(idx.graph_dead() == 500);
  idx.compact();
  CHECK(idx.graph_dead() == 0);
  CHECK(idx.size() == 500);
  CHECK(idx.pending() == 500);
  while (idx.index_pending(500) > 0) {
  }
  CHECK(idx.graph_size() == 500);
  // only odd ids are left
  std::vector<shard_hit> out;
  for (size_t q = 0; q < 50; ++q) {
    idx.search(&queries[q * dim], 10, 64, false, out);
    for (auto& h : out)
      CHECK(std::stoul(std::string(idx.id_of(h.label))) % 2 == 1);
  }
}

TEST_CASE("the counts an index puts up for other threads follow every change, a reload included") {
  // Tombstones are counted as they come and go; a scan of the labels is the reference.
  auto scan_tombstones = [](const shard_index& idx) {
    size_t n = 0;
    for (uint32_t label = 0; label < idx.labels(); ++label)
      n += !idx.live_label(label) && idx.version_at(label) > 0;
    return n;
  };
  auto check = [&](const shard_index& idx) {
    auto c = idx.counts();
    CHECK(idx.tombstones() == scan_tombstones(idx));
    CHECK(c->live.load() == idx.size());
    CHECK(c->pending.load() == idx.pending());
    CHECK(c->tombstones.load() == idx.tombstones());
  };
  auto base = test::random_vectors(600, dim, 31);
  shard_index idx(dim, metric_kind::l2, params);
  auto counts = idx.counts(); // one object for the index's life: a reader keeps it
  CHECK(counts->live.load() == 0);
  uint64_t state = 12345, version = 1;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (size_t step = 0; step < 3000; ++step) {
    auto id = std::to_string(next() >> 33 & 255); // 256 ids: each is put, deleted and forgotten often
    switch (next() >> 40 & 7) {
      case 0: case 1: case 2:
        idx.upsert(id, &base[(next() >> 35 & 511) * dim]);
        idx.set_version(id, ++version);
        break;
      case 3:
        if (idx.erase(id))
          idx.set_version(id, ++version); // a delete leaves a tombstone
        break;
      case 4:
        idx.erase(id);
        idx.set_version(id, 0); // handed to its owner: forgotten
        break;
      case 5:
        idx.set_version(id, ++version); // a tombstone for an id never seen, or a newer version
        break;
      case 6:
        idx.index_pending(next() >> 40 & 63);
        break;
      default:
        if (step % 500 == 7)
          idx.compact();
        break;
    }
    if (step % 50 == 0)
      check(idx);
  }
  check(idx);
  CHECK(idx.tombstones() > 0);
  CHECK(idx.size() > 0);
  CHECK(counts == idx.counts());

  while (idx.index_pending(1000) > 0) {
  }
  auto dir = test::fresh_dir("graph-counts");
  REQUIRE(idx.save(dir + "/g", 1) == "");
  auto l = shard_index::load(dir + "/g", dim, metric_kind::l2, params);
  REQUIRE_MESSAGE(l.index, l.problem);
  check(*l.index);
  CHECK(l.index->tombstones() == idx.tombstones());
  CHECK(l.index->counts()->live.load() == idx.size());
}
