// A real node process on 127.0.0.1, driven through its port by real CLI processes.

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include <sys/stat.h>

#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "vectors/vector_io.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

constexpr uint32_t dim = 512;

/// Polls `status` until nothing is pending; fails the test if vectors still wait at the deadline.
collection_counts wait_indexed(const std::string& addr, const std::string& dir, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  collection_counts c;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = run_agent({"status", "--peer", addr, "--json"}, dir);
    REQUIRE(r.exit_code == 0);
    c = parse_status(r.out);
    if (c.pending == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE_MESSAGE(c.pending == 0, c.pending << " vectors still wait for the HNSW graph after " << timeout_s << " s");
  return c;
}

} // namespace

TEST_CASE("a node stores 20,000 vectors put through its port and searches them with recall@10 >= 0.95") {
  auto dir = fresh_dir("node-20k");
  auto base = embedding_like_vectors(20000, dim, 101);
  auto queries = embedding_like_vectors(1000, dim, 202);
  REQUIRE(write_fvecs(dir + "/base.fvecs", base.data(), 20000, dim));
  REQUIRE(write_fvecs(dir + "/queries.fvecs", queries.data(), 1000, dim));
  node_process node(dir, R"({"vectors": {"dim": 512, "metric": "cosine", "shards": 4}})");

  auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/base.fvecs", "--json"}, dir);
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  CHECK(json_number(put.out, "stored") == 20000);

  auto counts = wait_indexed(node.address(), dir, 300);
  CHECK(counts.count == 20000);
  CHECK(counts.pending == 0);

  auto search = run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--k", "10", "--json"},
                          dir);
  REQUIRE_MESSAGE(search.exit_code == 0, search.err);
  auto lines = parse_search(search.out);
  REQUIRE(lines.size() == 1000);
  for (auto& l : lines) {
    REQUIRE(l.ids.size() == 10);
    CHECK(std::is_sorted(l.scores.rbegin(), l.scores.rend()));
  }
  std::vector<size_t> all_rows(20000);
  std::iota(all_rows.begin(), all_rows.end(), 0);
  double recall = cosine_recall(base, all_rows, queries, dim, 10, result_rows(lines));
  MESSAGE("recall@10 over 1000 queries: " << recall);
  CHECK(recall >= 0.95);

  { // get returns the stored vector exactly
    auto get = run_agent({"get", "--peer", node.address(), "--id", "12345", "--json"}, dir);
    REQUIRE_MESSAGE(get.exit_code == 0, get.err);
    auto v = parse_get(get.out);
    CHECK(v == std::vector<float>(base.begin() + 12345 * dim, base.begin() + 12346 * dim));
  }

  { // an exact search returns the true top-k
    auto exact = run_agent(
      {"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--k", "10", "--exact", "--json"}, dir);
    REQUIRE(exact.exit_code == 0);
    auto exact_lines = parse_search(exact.out);
    REQUIRE(exact_lines.size() == 1000);
    exact_lines.resize(50);
    std::vector<float> first_queries(queries.begin(), queries.begin() + 50 * dim);
    CHECK(cosine_recall(base, all_rows, first_queries, dim, 10, result_rows(exact_lines)) == doctest::Approx(1.0));
  }

  { // a deleted vector is gone from results at once; an upsert replaces vector and metadata
    REQUIRE(write_fvecs(dir + "/q5.fvecs", &base[5 * dim], 1, dim));
    auto before = run_agent({"search", "--peer", node.address(), "--input", dir + "/q5.fvecs", "--k", "3", "--json"}, dir);
    REQUIRE(parse_search(before.out).at(0).ids.at(0) == "5");
    auto del = run_agent({"delete", "--peer", node.address(), "--id", "5"}, dir);
    REQUIRE_MESSAGE(del.exit_code == 0, del.err);
    auto after = run_agent({"search", "--peer", node.address(), "--input", dir + "/q5.fvecs", "--k", "10", "--json"}, dir);
    auto ids = parse_search(after.out).at(0).ids;
    CHECK(std::find(ids.begin(), ids.end(), "5") == ids.end());
    auto again = run_agent({"delete", "--peer", node.address(), "--id", "5"}, dir);
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("not found") != std::string::npos);

    std::ofstream(dir + "/upsert.jsonl") << "{\"id\": \"6\", \"vector\": [" << [&] {
      std::string s;
      for (uint32_t i = 0; i < dim; ++i)
        s += (i ? "," : "") + std::to_string(i % 7);
      return s;
    }() << "], \"metadata\": {\"source\": \"test\"}}\n";
    auto up = run_agent({"put", "--peer", node.address(), "--input", dir + "/upsert.jsonl"}, dir);
    REQUIRE_MESSAGE(up.exit_code == 0, up.err);
    std::string metadata;
    auto v = parse_get(run_agent({"get", "--peer", node.address(), "--id", "6", "--json"}, dir).out, &metadata);
    REQUIRE(v.size() == dim);
    CHECK(v[8] == 1.0f);
    CHECK(metadata == R"({"source":"test"})");
    auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    CHECK(parse_status(status.out).count == 19999);
  }

  CHECK(node.stop() == 0);
}

TEST_CASE("a node stopped with SIGTERM has every vector back after a restart, and so does an embedded node") {
  auto dir = fresh_dir("node-restart");
  auto base = random_vectors(3000, 64, 7);
  REQUIRE(write_fvecs(dir + "/base.fvecs", base.data(), 3000, 64));
  const char* config = R"({"vectors": {"dim": 64, "metric": "l2", "shards": 3}})";
  {
    node_process node(dir, config);
    auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/base.fvecs", "--collection", "c1"}, dir);
    REQUIRE_MESSAGE(put.exit_code == 0, put.err);
    auto stop = node.stop();
    CHECK(stop == 0);
    CHECK(node.process().err().find("stopped cleanly") != std::string::npos);
  }
  node_process node(dir, config);
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  CHECK(parse_status(status.out, "c1").count == 3000);
  REQUIRE(write_fvecs(dir + "/q.fvecs", &base[2999 * 64], 1, 64));
  auto search = run_agent(
    {"search", "--peer", node.address(), "--input", dir + "/q.fvecs", "--collection", "c1", "--k", "1", "--json"}, dir);
  auto lines = parse_search(search.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].ids.at(0) == "2999");
  CHECK(lines[0].scores.at(0) == doctest::Approx(0.0)); // l2 distance to itself
  REQUIRE(node.stop() == 0);

  // The same data dir, embedded: put then search across invocations.
  auto cfg = node.config_path();
  auto data = node.data_dir();
  auto embedded = run_agent({"search", "--config", cfg, "--data-dir", data, "--input", dir + "/q.fvecs",
                             "--collection", "c1", "--k", "1", "--json"},
                            dir);
  REQUIRE_MESSAGE(embedded.exit_code == 0, embedded.err);
  CHECK(parse_search(embedded.out).at(0).ids.at(0) == "2999");
}

TEST_CASE("two collections of different dimensions and metrics live side by side: put, search, get, drop each") {
  auto dir = fresh_dir("node-collections");
  auto data_dir = dir + "/data";
  auto agent = [&](std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(data_dir);
    return run_agent(args, dir);
  };
  REQUIRE(agent({"collection", "create", "small", "--dim", "4", "--metric", "l2"}).exit_code == 0);
  REQUIRE(agent({"collection", "create", "wide", "--dim", "16", "--metric", "ip"}).exit_code == 0);
  auto again = agent({"collection", "create", "small", "--dim", "4", "--metric", "l2"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("already exists") != std::string::npos);
  auto clash = agent({"collection", "create", "small", "--dim", "5"});
  CHECK(clash.exit_code != 0);
  CHECK(clash.err.find("collection 'small' exists with dimension 4, l2") != std::string::npos);
  CHECK(agent({"collection", "create", "bad", "--dim", "4", "--metric", "hamming"}).exit_code == 2);
  CHECK(agent({"collection", "create", "bad"}).exit_code == 2);

  {
    std::ofstream small(dir + "/small.jsonl");
    small << R"({"id": "near", "vector": [1, 1, 0, 0]})" << "\n"
          << R"({"id": "far", "vector": [9, 9, 9, 9]})" << "\n";
    std::ofstream wide(dir + "/wide.jsonl");
    for (int i = 0; i < 16; ++i) { // unit vectors e_i, with e_3 scaled up: the best inner product
      wide << R"({"id": "e)" << i << R"(", "vector": [)";
      for (int j = 0; j < 16; ++j)
        wide << (j ? ", " : "") << (j == i ? (i == 3 ? 5 : 1) : 0);
      wide << "]}\n";
    }
  }
  REQUIRE(agent({"put", "--input", dir + "/small.jsonl", "--collection", "small"}).exit_code == 0);
  REQUIRE(agent({"put", "--input", dir + "/wide.jsonl", "--collection", "wide"}).exit_code == 0);
  auto wrong_dim = agent({"put", "--input", dir + "/small.jsonl", "--collection", "wide"});
  CHECK(wrong_dim.exit_code == 1);
  CHECK(wrong_dim.err.find("collection 'wide' has dimension 16, got vectors of dimension 4") != std::string::npos);

  {
    std::ofstream q(dir + "/q4.jsonl");
    q << R"({"id": "q", "vector": [1, 1, 0, 0.5]})" << "\n";
    std::ofstream q16(dir + "/q16.jsonl");
    q16 << R"({"id": "q", "vector": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]})" << "\n";
  }
  auto s4 = agent({"search", "--input", dir + "/q4.jsonl", "--collection", "small", "--k", "2", "--json"});
  REQUIRE_MESSAGE(s4.exit_code == 0, s4.err);
  auto l4 = parse_search(s4.out);
  REQUIRE(l4.size() == 1);
  CHECK(l4[0].ids == std::vector<std::string>{"near", "far"});
  CHECK(l4[0].scores[0] == doctest::Approx(0.5)); // l2: the distance
  auto s16 = agent({"search", "--input", dir + "/q16.jsonl", "--collection", "wide", "--k", "1", "--json"});
  REQUIRE_MESSAGE(s16.exit_code == 0, s16.err);
  auto l16 = parse_search(s16.out);
  REQUIRE(l16.size() == 1);
  CHECK(l16[0].ids == std::vector<std::string>{"e3"});
  CHECK(l16[0].scores[0] == doctest::Approx(5.0)); // ip: the inner product
  CHECK(agent({"get", "--id", "e3", "--collection", "wide"}).exit_code == 0);

  auto list = agent({"collection", "list", "--json"});
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find(R"({"name": "small", "dim": 4, "metric": "l2", "count": 2)") != std::string::npos);
  CHECK(list.out.find(R"({"name": "wide", "dim": 16, "metric": "ip", "count": 16)") != std::string::npos);

  auto drop = agent({"collection", "drop", "small"});
  REQUIRE_MESSAGE(drop.exit_code == 0, drop.err);
  CHECK(drop.out.find("(2 stored vectors removed") != std::string::npos);
  auto gone = agent({"get", "--id", "near", "--collection", "small"});
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find("no collection 'small'") != std::string::npos);
  CHECK(agent({"collection", "drop", "small"}).exit_code == 1);
  list = agent({"collection", "list", "--json"});
  CHECK(list.out.find("small") == std::string::npos);
  CHECK(list.out.find(R"("name": "wide")") != std::string::npos);
  // A delete is counted as a tombstone (embedded put built the graph before it exited: nothing pending).
  REQUIRE(agent({"delete", "--id", "e0", "--collection", "wide"}).exit_code == 0);
  list = agent({"collection", "list", "--json"});
  CHECK_MESSAGE(list.out.find(R"("name": "wide", "dim": 16, "metric": "ip", "count": 15, "pending": 0, "tombstones": 1,)")
                  != std::string::npos,
                list.out);
  // Created again, it starts empty: nothing of the dropped one comes back.
  REQUIRE(agent({"collection", "create", "small", "--dim", "4", "--metric", "l2"}).exit_code == 0);
  list = agent({"collection", "list", "--json"});
  CHECK(list.out.find(R"({"name": "small", "dim": 4, "metric": "l2", "count": 0)") != std::string::npos);
  REQUIRE(agent({"collection", "drop", "wide"}).exit_code == 0);
  CHECK(agent({"search", "--input", dir + "/q16.jsonl", "--collection", "wide"}).exit_code == 1);
}

namespace {

/// Recall@k of `got` against `want`, per query line, as ids in common.
double overlap(const std::vector<search_line>& got, const std::vector<search_line>& want) {
  size_t common = 0, total = 0;
  for (size_t q = 0; q < want.size() && q < got.size(); ++q) {
    for (auto& id : want[q].ids)
      common += std::find(got[q].ids.begin(), got[q].ids.end(), id) != got[q].ids.end();
    total += want[q].ids.size();
  }
  return total ? double(common) / double(total) : 0.0;
}

} // namespace

TEST_CASE("a filtered search returns only matching vectors, with the recall of an exact filtered search") {
  constexpr uint32_t fdim = 48, n = 20000, nq = 50;
  auto dir = fresh_dir("node-filter");
  auto data = embedding_like_vectors(n + nq, fdim, 61);
  {
    std::ofstream rows(dir + "/rows.jsonl");
    for (uint32_t i = 0; i < n; ++i) {
      rows << "{\"id\": \"" << i << "\", \"vector\": [";
      for (uint32_t d = 0; d < fdim; ++d)
        rows << (d ? ", " : "") << data[size_t(i) * fdim + d];
      rows << "], \"metadata\": {\"half\": " << (i % 2) << ", \"rare\": " << (i % 100 == 0 ? "true" : "false")
           << ", \"tag\": \"t" << (i % 10) << "\", \"row\": " << i << "}}\n";
    }
  }
  REQUIRE(write_fvecs(dir + "/queries.fvecs", data.data() + size_t(n) * fdim, nq, fdim));
  node_process node(dir, R"({"vectors": {"dim": 48, "shards": 2}})");
  auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/rows.jsonl", "--collection", "f"}, dir);
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"search", "--peer", node.address(), "--input", dir + "/queries.fvecs",
                                  "--collection", "f", "--k", "10", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_agent(args, dir);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  // Wait (bounded) for the graphs, so that the HNSW path is the one measured.
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
       std::chrono::steady_clock::now() < deadline;) {
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    REQUIRE(s.exit_code == 0);
    if (parse_status(s.out, "f").pending == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto [filter, share] : {std::pair{std::string("half=0"), 2}, std::pair{std::string("rare=true"), 100}}) {
    INFO(filter);
    auto hnsw = search({"--filter", filter, "--with-payload"});
    auto exact = search({"--filter", filter, "--exact"});
    auto got = parse_search(hnsw), want = parse_search(exact);
    REQUIRE(got.size() == nq);
    size_t results = 0, wrong = 0;
    for (auto& line : got)
      for (auto& id : line.ids) {
        ++results;
        wrong += std::stoul(id) % size_t(share) != 0;
      }
    CHECK(results == nq * 10);
    CHECK(wrong == 0);
    double recall = overlap(got, want);
    MESSAGE("filter " << filter << " (1 in " << share << "): recall@10 against the exact filtered search " << recall);
    CHECK(recall >= 0.95);
    CHECK(hnsw.find("\"half\":0") != std::string::npos); // the payload came along
  }
  // All conditions hold together; any-of, not-equal and ranges work on the same fields.
  auto both = parse_search(search({"--filter", "half=0", "--filter", "tag=t2|t4", "--filter", "row>=100", "--filter", "row<=5000", "--filter", "tag!=t4"}));
  size_t n_both = 0;
  for (auto& line : both)
    for (auto& id : line.ids) {
      auto row = std::stoul(id);
      ++n_both;
      CHECK((row % 2 == 0 && row % 10 == 2 && row >= 100 && row <= 5000));
    }
  CHECK(n_both == nq * 10);
  auto none = parse_search(search({"--filter", "tag=nothing"}));
  for (auto& line : none)
    CHECK(line.ids.empty());
  // A bad filter is a usage error naming it.
  auto bad = run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--collection", "f",
                        "--filter", "row>=many"},
                       dir);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--filter 'row>=many': expected a number after >=, got 'many'") != std::string::npos);
  CHECK(run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--filter", "=x"}, dir).exit_code == 2);
}

TEST_CASE("a snapshot of a node under puts, restored into a new data dir, holds every vector acknowledged before it") {
  constexpr uint32_t sdim = 32, n = 60000, marked = 200;
  auto dir = fresh_dir("node-snapshot");
  auto load = embedding_like_vectors(n, sdim, 71);
  REQUIRE(write_fvecs(dir + "/load.fvecs", load.data(), n, sdim));
  auto mine = embedding_like_vectors(marked, sdim, 72);
  REQUIRE(write_fvecs(dir + "/mine.fvecs", mine.data(), marked, sdim));
  const char* config = R"({"vectors": {"dim": 32, "shards": 2}})";
  std::string restored = dir + "/restored";
  uint64_t before = 0;
  {
    node_process node(dir, config);
    // A put keeps writing while the snapshot is taken.
    child flood({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", dir + "/load.fvecs", "--first-id", "1000000"},
                dir, "flood");
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         std::chrono::steady_clock::now() < deadline && flood.running();) {
      auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
      REQUIRE(s.exit_code == 0);
      if ((before = parse_status(s.out).count) >= 5000)
        break;
    }
    auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/mine.fvecs"}, dir);
    REQUIRE_MESSAGE(put.exit_code == 0, put.err); // acknowledged: in the snapshot that follows
    auto snap = run_agent({"snapshot", "--peer", node.address(), "--out", dir + "/snap"}, dir);
    REQUIRE_MESSAGE(snap.exit_code == 0, snap.err);
    MESSAGE(snap.out << "(the flood was " << std::string(flood.running() ? "still running" : "done") << ")");
    CHECK(run_agent({"snapshot", "--peer", node.address(), "--out", dir + "/snap"}, dir).exit_code != 0); // exists
    CHECK(flood.wait(120) == 0); // the flood itself was acknowledged whole
  }
  auto restore = run_agent({"restore", "--from", dir + "/snap", "--data-dir", restored}, dir);
  REQUIRE_MESSAGE(restore.exit_code == 0, restore.err);
  CHECK(run_agent({"restore", "--from", dir + "/snap", "--data-dir", restored}, dir).exit_code == 2); // not empty
  CHECK(run_agent({"restore", "--from", dir, "--data-dir", dir + "/other"}, dir).exit_code == 2);      // no snapshot
  auto agent = [&](std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(restored);
    args.push_back("--config");
    args.push_back(dir + "/config.json");
    return run_agent(args, dir);
  };
  auto s = agent({"status", "--json"});
  REQUIRE_MESSAGE(s.exit_code == 0, s.err);
  CHECK(parse_status(s.out).count >= before + marked);
  size_t missing = 0, wrong = 0;
  for (uint32_t i = 0; i < marked; i += 7) {
    auto get = agent({"get", "--id", std::to_string(i), "--json"});
    if (get.exit_code != 0) {
      ++missing;
      continue;
    }
    wrong += parse_get(get.out) != std::vector<float>(mine.begin() + i * sdim, mine.begin() + (i + 1) * sdim);
  }
  CHECK(missing == 0);
  CHECK(wrong == 0);
  auto search = agent({"search", "--input", dir + "/mine.fvecs", "--k", "1", "--json"});
  REQUIRE_MESSAGE(search.exit_code == 0, search.err);
  auto lines = parse_search(search.out);
  size_t self_first = 0;
  for (size_t q = 0; q < lines.size(); ++q)
    self_first += !lines[q].ids.empty() && lines[q].ids[0] == std::to_string(q);
  CHECK(self_first >= marked * 99 / 100);
}

TEST_CASE("past vectors.max_inflight_mb a node answers busy, and clients that are told so retry until all is stored") {
  constexpr uint32_t bdim = 128, n = 20000, clients = 4;
  auto dir = fresh_dir("node-busy");
  auto data = embedding_like_vectors(n, bdim, 81);
  REQUIRE(write_fvecs(dir + "/rows.fvecs", data.data(), n, bdim));
  auto port = free_ports(1);
  node_process node(dir, R"({"vectors": {"dim": 128, "max_inflight_mb": 1}, "metrics": {"port": )" + std::to_string(port) + "}}");
  std::vector<std::unique_ptr<child>> puts;
  for (uint32_t c = 0; c < clients; ++c)
    puts.push_back(std::make_unique<child>(std::vector<std::string>{P2P_AGENT_BIN, "put", "--peer", node.address(), "--input",
                                                                    dir + "/rows.fvecs", "--first-id", std::to_string(c * n)},
                                           dir, "put-" + std::to_string(c)));
  size_t told_busy = 0;
  for (auto& p : puts) {
    CHECK(p->wait(300) == 0);
    CHECK(p->out().find("stored 20000 vectors") != std::string::npos);
    told_busy += p->err().find("the node answered busy") != std::string::npos;
  }
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  REQUIRE(status.exit_code == 0);
  CHECK(parse_status(status.out).count == n * clients); // every batch stored once
  std::string metrics;
  REQUIRE(http_get(port, "/metrics", metrics) == 200);
  auto at = metrics.find("p2p_errors_total{kind=\"busy\"} ");
  REQUIRE(at != std::string::npos);
  auto busy = std::stoull(metrics.substr(at + std::string("p2p_errors_total{kind=\"busy\"} ").size()));
  MESSAGE(busy << " busy answers; " << told_busy << " of " << clients << " clients were told so");
  CHECK(busy > 0);
  CHECK(told_busy > 0);
}

namespace {

/// Resident memory of a process (VmHWM: its peak so far, or VmRSS: now), in bytes; 0 if gone.
uint64_t process_memory(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0)
      return std::stoull(line.substr(std::strlen(field) + 1)) * 1024; // "VmRSS:   1234 kB"
  return 0;
}

} // namespace

/// The answers `status --watch` printed: each under a line "--- HH:MM:SS.mmm, answer N, answered
/// in X ms" numbered from 1, and followed by the node's status.
static size_t watch_answers(const std::string& out) {
  size_t n = 0;
  std::istringstream in(out);
  std::string line;
  bool status_follows = false;
  while (std::getline(in, line)) {
    if (line.rfind("--- ", 0) == 0) {
      CHECK_MESSAGE(line.find(", answer " + std::to_string(n + 1) + ", answered in ") != std::string::npos, line);
      bool timed = line.size() > 3 && line.substr(line.size() - 3) == " ms";
      CHECK_MESSAGE(timed, line);
      ++n;
      status_follows = true;
    } else if (status_follows) {
      CHECK_MESSAGE(line.rfind("node        ", 0) == 0, line);
      status_follows = false;
    }
  }
  return n;
}

TEST_CASE("status --watch asks again over one connection, times each answer, and stops at --count or a signal") {
  auto dir = fresh_dir("node-watch");
  node_process node(dir, "{}");
  auto r = run_agent({"status", "--peer", node.address(), "--watch", "0.05", "--count", "3"}, dir, 60);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(watch_answers(r.out) == 3);
  CHECK(r.err.find("status: 3 answers over one connection, answered in p50 ") != std::string::npos);
  // With --json: one object per line, nothing else on stdout.
  auto j = run_agent({"status", "--peer", node.address(), "--watch", "0.05", "--count", "2", "--json"}, dir, 60);
  REQUIRE_MESSAGE(j.exit_code == 0, j.err);
  std::istringstream lines(j.out);
  std::string line;
  size_t objects = 0;
  while (std::getline(lines, line)) {
    bool one_object = !line.empty() && line.front() == '{' && line.back() == '}';
    CHECK_MESSAGE(one_object, line);
    CHECK(json_number(line, "shards") > 0);
    ++objects;
  }
  CHECK(objects == 2);
  // Without --count it runs until told to stop, then says what it saw.
  child watch({P2P_AGENT_BIN, "status", "--peer", node.address(), "--watch", "0.05"}, dir, "watch");
  for (int i = 0; i < 200 && watch_answers(watch.out()) < 2; ++i) // bounded: 20 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  watch.signal(SIGINT);
  CHECK(watch.wait(60) == 0);
  auto n = watch_answers(watch.out());
  CHECK(n >= 2);
  CHECK(watch.err().find("status: " + std::to_string(n) + " answers over one connection") != std::string::npos);
  // The node going away ends a watch with the client's usual error.
  child orphan({P2P_AGENT_BIN, "status", "--peer", node.address(), "--watch", "0.05", "--timeout", "5"}, dir, "orphan");
  for (int i = 0; i < 200 && watch_answers(orphan.out()) < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(node.stop() == 0);
  CHECK(orphan.wait(60) == 1);
  CHECK(!orphan.err().empty());
}

/// A node that takes at most 2 MiB of puts at once, and `n` rows of 128 floats in DIR/rows.fvecs
/// (batches of 0.5 MB) to put into it.
constexpr const char* small_inflight_config = R"({"vectors": {"dim": 128, "max_inflight_mb": 2}})";
static void write_flood_rows(const std::string& dir, uint32_t n, uint32_t seed) {
  auto data = embedding_like_vectors(n, 128, seed);
  REQUIRE(write_fvecs(dir + "/rows.fvecs", data.data(), n, 128));
}

TEST_CASE("a client that never waits is refused with busy, the node's memory stays bounded and status answers") {
  constexpr uint32_t n = 60000;
  auto dir = fresh_dir("node-flood");
  write_flood_rows(dir, n, 83);
  node_process node(dir, small_inflight_config);
  pid_t pid = node.process().pid();
  // Every one of the 60 batches (30 MB) is sent before the first answer comes back.
  child put({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", dir + "/rows.fvecs", "--window", "100000",
             "--window-mb", "0"},
            dir, "flood");
  // Besides a process per status call below, one client asks every 50 ms over one connection.
  child watch({P2P_AGENT_BIN, "status", "--peer", node.address(), "--watch", "0.05"}, dir, "flood-watch");
  size_t asked = 0, answered = 0, with_late = 0, status_late = 0;
  // The parts that are asked (the rest is read at once from what the actors keep current).
  std::set<std::string> parts{"collections", "members", "status"};
  bool late_named = true, own_known = true;
  for (int i = 0; i < 600 && put.running(); ++i) { // bounded: at most 600 status calls
    ++asked;
    if (i % 2 == 0) {
      answered += run_agent({"status", "--peer", node.address()}, dir, 60).exit_code == 0;
      continue;
    }
    // With a deadline the answer may name parts that were busy; each is one the node has.
    // Every other one with a deadline of 1 ms, which the node's own status part often misses.
    auto s = run_agent({"status", "--peer", node.address(), "--json", "--deadline-ms", i % 4 == 1 ? "200" : "1"}, dir, 60);
    answered += s.exit_code == 0;
    auto late = json_string_array(s.out, "late");
    with_late += !late.empty();
    status_late += std::count(late.begin(), late.end(), "status");
    for (auto& part : late)
      late_named = late_named && parts.count(part);
    // Whatever was late, what the node knows of itself is there (not 0 shards and no uptime).
    if (s.exit_code == 0)
      own_known = own_known && json_number(s.out, "uptime_ms") > 0 && json_number(s.out, "shards") > 0;
  }
  REQUIRE(put.wait(300) == 0);
  CHECK(put.out().find("stored 60000 vectors") != std::string::npos);
  CHECK(put.err().find("the node answered busy") != std::string::npos); // refused, then sent again
  watch.signal(SIGTERM); // ends the watch after the answer it waits for, with its summary
  CHECK(watch.wait(60) == 0);
  auto watched = watch_answers(watch.out());
  MESSAGE(watched << " answers over one connection during the flood; " << watch.err());
  CHECK(watched >= 1);
  CHECK(watch.err().find("status: " + std::to_string(watched) + " answers over one connection, answered in p50 ")
        != std::string::npos);
  MESSAGE(answered << " of " << asked << " status calls answered during the flood");
  MESSAGE(with_late << " answers with a deadline named late parts, " << status_late << " the node's own status part");
  CHECK(asked >= 1);
  CHECK(answered == asked);
  CHECK(late_named);
  CHECK(own_known);
  // Once every vector is in the graph, what the node holds is its data; the flood's peak may not
  // be more than twice that.
  for (int i = 0; i < 600; ++i) {
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    if (s.exit_code == 0 && parse_status(s.out).pending == 0 && parse_status(s.out).count == n)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Without a deadline (--json's default) every part is fresh: nothing is named late.
  auto fresh = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  REQUIRE(fresh.exit_code == 0);
  CHECK(json_string_array(fresh.out, "late").empty());
  CHECK(parse_status(fresh.out).count == n);
  uint64_t peak = process_memory(pid, "VmHWM:"), held = process_memory(pid, "VmRSS:");
  MESSAGE("node memory: peak " << (peak >> 20) << " MiB during the flood, " << (held >> 20) << " MiB holding the data");
  REQUIRE(held > 0);
  CHECK(peak <= 2 * held);
  CHECK(node.stop() == 0);
}

TEST_CASE("put --window-mb bounds the vectors a client has in flight: the flood above, bounded, is never refused busy") {
  auto dir = fresh_dir("node-window-mb");
  write_flood_rows(dir, 30000, 84);
  node_process node(dir, small_inflight_config);
  // Batches of 1,000 x 128 floats are about 0.5 MB (batch_bytes, which client and node both
  // count): at most 1 MiB in flight stays under the node's 2 MiB, however large the window.
  auto bounded = run_agent({"put", "--peer", node.address(), "--input", dir + "/rows.fvecs", "--window", "100000",
                            "--window-mb", "1"},
                           dir, 300);
  CHECK(bounded.exit_code == 0);
  CHECK(bounded.out.find("stored 30000 vectors") != std::string::npos);
  CHECK(bounded.err.find("busy") == std::string::npos);
  // The same put without the bound sends all 30 batches at once and is refused busy (then retried).
  auto unbounded = run_agent({"put", "--peer", node.address(), "--input", dir + "/rows.fvecs", "--window", "100000",
                              "--window-mb", "0", "--first-id", "30000"},
                             dir, 300);
  CHECK(unbounded.exit_code == 0);
  CHECK(unbounded.out.find("stored 30000 vectors") != std::string::npos);
  CHECK(unbounded.err.find("the node answered busy") != std::string::npos);
  auto bad = run_agent({"put", "--peer", node.address(), "--input", dir + "/rows.fvecs", "--window-mb", "70000"}, dir);
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("--window-mb: expected 0 (no bound) to 65536, got 70000") != std::string::npos);
  CHECK(node.stop() == 0);
}

TEST_CASE("a put fails at its --timeout when its node hangs, and at once when its node is killed") {
  auto dir = fresh_dir("node-put-hung");
  std::signal(SIGPIPE, SIG_IGN); // the writer below may outlive its reader
  // The put reads JSON Lines from a FIFO, so the test decides when each batch of 1,000 is sent.
  auto rows = [](std::ostream& out, int first, int n) {
    for (int i = first; i < first + n; ++i)
      out << "{\"id\": \"r" << i << "\", \"vector\": [" << i % 7 << ", 1, 2, 3]}\n";
    out.flush();
  };
  auto count_of = [&](const std::string& address) {
    auto s = run_agent({"status", "--peer", address, "--json"}, dir, 60);
    return s.exit_code == 0 ? parse_status(s.out).count : 0;
  };
  for (bool kill_it : {false, true}) {
    auto node_dir = dir + (kill_it ? "/killed" : "/hung");
    std::filesystem::create_directories(node_dir);
    node_process node(node_dir, R"({"vectors": {"dim": 4}})");
    auto fifo = dir + (kill_it ? "/killed.jsonl" : "/hung.jsonl");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // --window 1: each batch waits for the one before it to be answered.
    child put({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", fifo, "--window", "1", "--timeout",
               kill_it ? "60" : "3"},
              dir, kill_it ? "put-killed" : "put-hung");
    std::ofstream writer(fifo); // opens once the put has opened its end
    rows(writer, 0, 1000);
    for (int i = 0; i < 300 && count_of(node.address()) < 1000; ++i) // bounded: about 30 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(count_of(node.address()) == 1000);
    node.process().signal(kill_it ? SIGKILL : SIGSTOP);
    auto t0 = std::chrono::steady_clock::now();
    // Two more batches: the second waits for the answer to the first, which never comes.
    std::thread more([&] { rows(writer, 1000, 2000); });
    int code = put.wait(kill_it ? 30 : 60);
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(std::string(kill_it ? "killed" : "hung") << " node: the put ended after " << took << " s: " << put.err());
    CHECK(code == 1);
    if (kill_it) {
      CHECK(put.err().find("went down") != std::string::npos);
      CHECK(took < 30); // not its 60 s timeout
    } else {
      CHECK(put.err().find("timed out") != std::string::npos);
      CHECK(took >= 3);
      node.process().signal(SIGCONT);
      // The node serves on, and stores the batch it took while stopped (bounded wait: ~30 s).
      for (int i = 0; i < 300 && count_of(node.address()) < 2000; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      CHECK(count_of(node.address()) >= 2000);
    }
    more.join();
    writer.close();
  }
}

TEST_CASE("a client waits for the handshake of a node that answers late, and gives up on one that never does") {
  auto dir = fresh_dir("node-late-handshake");
  node_process node(dir, R"({"vectors": {"dim": 4}})");
  // Stopped, the node's kernel still accepts the connection, but CAF's handshake waits until
  // it runs again: 2.5 s, past the client's first BASP heartbeat tick (1 s). CAF 0.17 dropped
  // the connection at that tick ("connection_timeout"), as it did under a flood.
  node.process().signal(SIGSTOP);
  child late({P2P_AGENT_BIN, "status", "--peer", node.address(), "--json"}, dir, "late-status");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  node.process().signal(SIGCONT);
  CHECK_MESSAGE(late.wait(30) == 0, late.err());
  CHECK(late.out().find("\"id\": \"node-1\"") != std::string::npos);

  // A node that never answers: the connect ends at its own timeout (the failure timeout, 5 s by
  // default), with the reason.
  node.process().signal(SIGSTOP);
  auto never = run_agent({"status", "--peer", node.address()}, dir, 60);
  node.process().signal(SIGCONT);
  CHECK(never.exit_code == 1);
  CHECK_MESSAGE(never.err.find("cannot reach node at " + node.address() + ": no CAF handshake within 5000 ms")
                  != std::string::npos,
                never.err);

  // A node that hangs after the connect: its heartbeats stop, and the client gives up after the
  // failure timeout (5 s), long before the put's --timeout of 120 s.
  auto fifo = dir + "/rows.jsonl";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  child put({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", fifo, "--window", "1"}, dir, "put-hangs");
  std::ofstream writer(fifo); // opens once the put has opened its end, after its connect
  std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // the connect is done by now
  node.process().signal(SIGSTOP);
  auto t0 = std::chrono::steady_clock::now();
  writer << "{\"id\": \"r1\", \"vector\": [1, 2, 3, 4]}\n";
  writer.close();
  int code = put.wait(60);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  node.process().signal(SIGCONT);
  MESSAGE("the put against a hung node ended after " << took << " s: " << put.err());
  CHECK(code == 1);
  CHECK_MESSAGE(put.err().find("the node at " + node.address() + " sent nothing for 5000 ms") != std::string::npos,
                put.err());
  CHECK(took < 30);
  CHECK(node.stop() == 0);
}
