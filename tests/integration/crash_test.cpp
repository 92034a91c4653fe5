// SIGKILL a node in the middle of a large put, restart it: every acknowledged vector is back,
// whole, and search still meets the recall bar.

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "vectors/vector_io.hpp"

using namespace p2p;
using namespace p2p::test;

TEST_CASE("a node killed with SIGKILL during a put of 100,000 vectors keeps every acknowledged batch") {
  constexpr uint32_t dim = 512;
  constexpr size_t n = 100000;
  auto dir = fresh_dir("crash-put");
  auto base = embedding_like_vectors(n, dim, 31);
  REQUIRE(write_fvecs(dir + "/base.fvecs", base.data(), n, dim));
  const char* config = R"({"vectors": {"dim": 512, "shards": 4}})";

  size_t acknowledged = 0;
  std::string data_dir;
  {
    node_process node(dir, config);
    data_dir = node.data_dir();
    child put({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", dir + "/base.fvecs", "--json"}, dir, "put");
    // Kill once a fifth of the vectors are in, while the put is still sending (bounded wait).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    uint64_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline && put.running()) {
      auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
      if (s.exit_code == 0 && (seen = parse_status(s.out).count) >= n / 5)
        break;
    }
    REQUIRE_MESSAGE(put.running(), "the put ended before the kill; stored " << seen);
    node.kill();
    CHECK(put.wait(60) == 1); // the client sees the node go away
    acknowledged = size_t(json_number(put.out(), "stored"));
    MESSAGE("seen " << seen << " stored before the kill, " << acknowledged << " acknowledged to the client");
    CHECK(put.err().find("a batch was not stored: ") != std::string::npos);
    REQUIRE(acknowledged >= 1000);
    REQUIRE(acknowledged < n);
  }

  size_t stored = 0;
  {
    node_process node(dir, config);
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    REQUIRE(s.exit_code == 0);
    stored = parse_status(s.out).count;
    CHECK(stored >= acknowledged);
    for (size_t id : {size_t(0), acknowledged / 2, acknowledged - 1}) {
      auto get = run_agent({"get", "--peer", node.address(), "--id", std::to_string(id), "--json"}, dir);
      REQUIRE_MESSAGE(get.exit_code == 0, get.err);
      CHECK(parse_get(get.out) == std::vector<float>(base.begin() + id * dim, base.begin() + (id + 1) * dim));
    }
    auto queries = embedding_like_vectors(200, dim, 32);
    REQUIRE(write_fvecs(dir + "/queries.fvecs", queries.data(), 200, dim));
    auto search_all = [&] {
      auto search = run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--json"}, dir);
      REQUIRE_MESSAGE(search.exit_code == 0, search.err);
      auto lines = parse_search(search.out);
      REQUIRE(lines.size() == 200); // parse_search checks that no result list holds an id twice
      return result_rows(lines);
    };
    // Right after the restart every vector waits for the graph: this search is the exact scan.
    CHECK(parse_status(s.out).pending > 0);
    auto exact_results = search_all();
    // Then the graph: wait (bounded) until it holds every vector, and say so if it does not.
    uint64_t pending = 0;
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
         std::chrono::steady_clock::now() < deadline;) {
      auto st = run_agent({"status", "--peer", node.address(), "--json"}, dir);
      REQUIRE(st.exit_code == 0);
      if ((pending = parse_status(st.out).pending) == 0)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    REQUIRE_MESSAGE(pending == 0, pending << " vectors still wait for the graph after 300 s");
    auto results = search_all();
    // Exact search over what is stored: the acknowledged prefix and any of the batches in flight.
    std::set<size_t> ids;
    {
      REQUIRE(node.stop() == 0);
      std::string error;
      auto db = database::open(data_dir, durability_mode::wal, error);
      REQUIRE_MESSAGE(db, error);
      size_t half_written = 0, wrong = 0;
      for (uint16_t shard = 0; shard < 4; ++shard)
        db->scan(column::vectors, shard_prefix(shard), [&](std::string_view key, std::string_view value) {
          vector_key_parts parts;
          REQUIRE(parse_vector_key(key, parts));
          size_t id = std::stoul(std::string(parts.id));
          if (value.size() != dim * 4)
            ++half_written;
          else if (std::memcmp(value.data(), &base[id * dim], dim * 4) != 0)
            ++wrong;
          ids.insert(id);
        });
      CHECK(half_written == 0);
      CHECK(wrong == 0);
      CHECK(ids.size() == stored);
      size_t missing = 0;
      for (size_t id = 0; id < acknowledged; ++id)
        missing += ids.count(id) ? 0 : 1;
      CHECK(missing == 0); // every vector of every acknowledged batch is there
    }
    std::vector<size_t> rows(ids.begin(), ids.end());
    double exact = cosine_recall(base, rows, queries, dim, 10, exact_results);
    double recall = cosine_recall(base, rows, queries, dim, 10, results);
    MESSAGE("recall@10 after the restart: " << exact << " (exact scan), " << recall << " (HNSW graph)");
    CHECK(exact >= 0.99);
    CHECK(recall >= 0.95);
  }
}

namespace {

/// Sums the numbers that follow `before` in `log` (one per shard's log line).
uint64_t sum_after(const std::string& log, const std::string& before) {
  uint64_t total = 0;
  for (size_t at = log.find(before); at != std::string::npos; at = log.find(before, at + 1))
    total += std::stoull(log.substr(at + before.size()));
  return total;
}

size_t count_of(const std::string& log, const std::string& what) {
  size_t n = 0;
  for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1))
    ++n;
  return n;
}

/// Waits (bounded) until the node has no vector pending for its graph; the last count seen.
uint64_t wait_indexed(const std::string& address, const std::string& dir) {
  uint64_t pending = 1;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
       pending > 0 && std::chrono::steady_clock::now() < deadline;) {
    auto st = run_agent({"status", "--peer", address, "--json"}, dir);
    REQUIRE(st.exit_code == 0);
    if ((pending = parse_status(st.out).pending) > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pending;
}

} // namespace

TEST_CASE("a node killed after 20,000 puts loads its saved graphs and adds only what came after") {
  constexpr uint32_t dim = 64;
  constexpr size_t n = 20000, later = 300;
  auto dir = fresh_dir("crash-graph");
  auto base = embedding_like_vectors(n + later, dim, 51);
  REQUIRE(write_fvecs(dir + "/base.fvecs", base.data(), n, dim));
  REQUIRE(write_fvecs(dir + "/later.fvecs", base.data() + n * dim, later, dim));
  auto queries = embedding_like_vectors(100, dim, 52);
  REQUIRE(write_fvecs(dir + "/queries.fvecs", queries.data(), 100, dim));
  const char* config = R"({"vectors": {"dim": 64, "shards": 2}})";
  std::vector<size_t> rows;
  for (size_t i = 0; i < n + later; ++i)
    if (i != 5)
      rows.push_back(i);
  auto recall_of = [&](node_process& node) {
    auto search = run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--json"}, dir);
    REQUIRE_MESSAGE(search.exit_code == 0, search.err);
    return cosine_recall(base, rows, queries, dim, 10, result_rows(parse_search(search.out)));
  };
  auto saved_graphs = [&](const std::string& data_dir) {
    size_t metas = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(data_dir + "/graphs", ec))
      metas += e.path().extension() == ".meta";
    return metas;
  };

  double before = 0;
  std::string data_dir;
  {
    node_process node(dir, config);
    data_dir = node.data_dir();
    auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/base.fvecs"}, dir);
    REQUIRE_MESSAGE(put.exit_code == 0, put.err);
    REQUIRE(wait_indexed(node.address(), dir) == 0);
    // The background save follows the last indexing step (bounded wait).
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         saved_graphs(data_dir) < 2 && std::chrono::steady_clock::now() < deadline;)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(saved_graphs(data_dir) == 2);
    put = run_agent({"put", "--peer", node.address(), "--input", dir + "/later.fvecs", "--first-id", std::to_string(n)}, dir);
    REQUIRE_MESSAGE(put.exit_code == 0, put.err);
    REQUIRE(run_agent({"delete", "--peer", node.address(), "--id", "5"}, dir).exit_code == 0);
    REQUIRE(wait_indexed(node.address(), dir) == 0);
    before = recall_of(node);
    node.kill();
  }
  {
    node_process node(dir, config);
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    REQUIRE(s.exit_code == 0); // answered by every shard: each has loaded what it holds
    auto log = node.process().err();
    INFO(log);
    CHECK(count_of(log, "loaded its graph of") == 2);
    CHECK(count_of(log, "reloaded") == 0); // no shard read its rows back
    CHECK(sum_after(log, "; added ") == later);
    CHECK(sum_after(log, "written after it, deleted ") == 1);
    CHECK(parse_status(s.out).count == n + later - 1);
    REQUIRE(wait_indexed(node.address(), dir) == 0);
    double after = recall_of(node);
    MESSAGE("recall@10 before the kill " << before << ", after the restart " << after);
    CHECK(after >= 0.95);
    CHECK(after >= before - 0.01);
    CHECK(run_agent({"get", "--peer", node.address(), "--id", "5"}, dir).exit_code != 0);
    REQUIRE(node.stop() == 0); // a clean stop saves the graphs with the later vectors
  }
  // A graph file altered on disk is detected and rebuilt; the answers stay right.
  std::string victim;
  for (auto& e : std::filesystem::directory_iterator(data_dir + "/graphs"))
    if (e.path().extension() == ".hnsw")
      victim = e.path().string();
  REQUIRE(!victim.empty());
  {
    std::FILE* f = std::fopen(victim.c_str(), "r+b");
    REQUIRE(f);
    std::fseek(f, 4096, SEEK_SET);
    std::fputc(0x5a, f);
    std::fputc(0xa5, f);
    std::fclose(f);
  }
  {
    node_process node(dir, config);
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    REQUIRE(s.exit_code == 0);
    auto log = node.process().err();
    CHECK(count_of(log, "saved graph not used") == 1);
    CHECK(count_of(log, "loaded its graph of") == 1);
    CHECK(parse_status(s.out).count == n + later - 1);
    REQUIRE(wait_indexed(node.address(), dir) == 0);
    double rebuilt = recall_of(node);
    MESSAGE("recall@10 after rebuilding one shard's graph: " << rebuilt);
    CHECK(rebuilt >= 0.95);
  }
}
