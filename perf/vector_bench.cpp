// vector_store and vector_search on N x 512-d vectors, next to raw RocksDB (WriteBatch) and raw
// hnswlib doing the same work in the same run, plus resident memory per stored vector of a real
// `p2p-agent node` process. Prints a table; see perf/README.md.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <atomic>
#include <thread>

#include <boost/program_options.hpp>

#include "perf/harness/program_options.hpp"

#include "perf/harness/bench_node.hpp"
#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "perf/harness/datasets.hpp"
#include "vectors/distance.hpp"
#include "vectors/placement.hpp"
#include "vectors/vector_io.hpp"

namespace po = boost::program_options;
using namespace p2p;

namespace {

struct options {
  size_t n = 20000;
  size_t queries = 1000;
  uint32_t dim = 512;
  uint32_t k = 10;
  int repeats = 3;
  std::string data = "embedding";
  std::string dir = "build/bench-tmp";
  bool skip_memory = false;
  std::string only; // "", store, search or memory
};

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

std::string spread(const std::vector<double>& xs) {
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f..%.0f", *lo, *hi);
  return buf;
}

std::string fresh(const options& o, const std::string& name) {
  auto d = std::filesystem::path(o.dir) / name;
  std::filesystem::remove_all(d);
  return d.string();
}

/// Raw RocksDB: the same keys (shard placement of a default node-1 with 4 shards), values and
/// options as the node, WriteBatches of 1000, from `threads` threads (the node's scheduler
/// threads, which run its shards' writes).
double raw_rocksdb_store(const options& o, const std::vector<float>& base, size_t threads) {
  std::string error;
  auto db = database::open(fresh(o, "raw-rocksdb"), durability_mode::wal, error);
  if (!db)
    throw std::runtime_error(error);
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  auto t0 = clock_type::now();
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      rocksdb::WriteBatch wb(1000 * (o.dim * 4 + 64)); // reserved, as the node reuses its batch buffer
      for (size_t first = t * 1000; first < o.n; first += threads * 1000) {
        wb.Clear();
        for (size_t i = first; i < std::min(o.n, first + 1000); ++i) {
          auto id = std::to_string(i);
          wb.Put(db->cf(column::vectors), vector_key(local_shard("node-1", 4, id), "bench", id),
                 rocksdb::Slice(reinterpret_cast<const char*>(&base[i * o.dim]), o.dim * 4));
        }
        if (!db->write(wb).ok())
          failed = true;
      }
    });
  for (auto& th : pool)
    th.join();
  if (failed)
    throw std::runtime_error("raw write failed");
  return double(o.n) / since(t0);
}

node_config node_cfg(const options& o, const std::string& dir, uint32_t shards, uint32_t threads, uint32_t ef) {
  node_config cfg;
  cfg.data_dir = dir;
  cfg.dim = o.dim;
  cfg.shards = shards;
  cfg.scheduler_threads = threads;
  cfg.hnsw.ef_search = ef;
  return cfg;
}

double recall_of(const options& o, const std::vector<float>& base, const std::vector<float>& queries,
                 const std::vector<std::vector<size_t>>& results) {
  std::vector<size_t> rows(o.n);
  for (size_t i = 0; i < o.n; ++i)
    rows[i] = i;
  return datasets::cosine_recall(base, rows, queries, o.dim, o.k, results);
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

uint64_t json_field(const std::string& json, const std::string& key) {
  auto pos = json.find("\"" + key + "\": ");
  return pos == std::string::npos ? 0 : std::stoull(json.substr(pos + key.size() + 4));
}

/// RSS of a real node process (4 shards): idle; with half the vectors and with all of them,
/// each after a restart (memtables flushed, graphs rebuilt); and right after the second put.
struct memory_figures {
  uint64_t idle = 0, half = 0, full = 0, after_put = 0;
};

memory_figures measure_memory(const options& o, const std::vector<float>& base) {
  memory_figures m;
  auto dir = fresh(o, "memory");
  std::filesystem::create_directories(dir);
  size_t half = o.n / 2;
  write_fvecs(dir + "/first.fvecs", base.data(), half, o.dim);
  // Second half with ids continuing after the first: JSON Lines carry explicit ids.
  {
    std::ofstream out(dir + "/second.jsonl");
    for (size_t i = half; i < o.n; ++i) {
      out << "{\"id\": \"" << i << "\", \"vector\": [";
      for (uint32_t d = 0; d < o.dim; ++d)
        out << (d ? "," : "") << base[i * o.dim + d];
      out << "]}\n";
    }
  }
  std::string agent = P2P_AGENT_BIN;
  auto start = [&] {
    auto cmd = agent + " node --port 0 --data-dir " + dir + "/data --log-level warn > " + dir + "/node.out 2>&1 & echo $!";
    auto pid = std::stoi(run_capture(cmd));
    std::string addr;
    for (int i = 0; i < 500 && addr.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto out = run_capture("cat " + dir + "/node.out");
      auto pos = out.find("listening on ");
      if (pos != std::string::npos)
        addr = out.substr(pos + 13, out.find(' ', pos + 13) - pos - 13);
    }
    return std::pair{pid, addr};
  };
  auto stop = [&](int pid) {
    run_capture("kill -TERM " + std::to_string(pid) + "; while kill -0 " + std::to_string(pid)
                + " 2>/dev/null; do sleep 0.05; done");
  };
  auto settled_rss = [&](const std::string& addr) {
    for (int i = 0; i < 3000; ++i) {
      auto s = run_capture(agent + " status --peer " + addr + " --json");
      if (s.find("\"pending\": 0") != std::string::npos || s.find("\"collections\": []") != std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200)); // let the last index step trim
        return json_field(run_capture(agent + " status --peer " + addr + " --json"), "rss_bytes");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return uint64_t(0);
  };
  auto [pid, addr] = start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  m.idle = settled_rss(addr);
  run_capture(agent + " put --peer " + addr + " --input " + dir + "/first.fvecs --json");
  stop(pid);
  std::tie(pid, addr) = start();
  m.half = settled_rss(addr);
  run_capture(agent + " put --peer " + addr + " --input " + dir + "/second.jsonl --json");
  m.after_put = settled_rss(addr);
  stop(pid);
  std::tie(pid, addr) = start();
  m.full = settled_rss(addr);
  stop(pid);
  return m;
}

void row(const char* figure, const std::string& ours, const std::string& raw, const std::string& ratio,
         const char* target) {
  std::printf("| %-40s | %14s | %14s | %7s | %-26s |\n", figure, ours.c_str(), raw.c_str(), ratio.c_str(), target);
}

std::string num(double v, const char* fmt = "%.0f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  po::options_description desc("vector_bench options");
  desc.add_options()("help,h", "show this help")
    ("n", po::value(&o.n)->default_value(o.n), "stored vectors")
    ("queries", po::value(&o.queries)->default_value(o.queries), "search queries")
    ("dim", po::value(&o.dim)->default_value(o.dim), "dimension")
    ("repeats", po::value(&o.repeats)->default_value(o.repeats), "timed repetitions (median reported)")
    ("data", po::value(&o.data)->default_value(o.data), "embedding (low intrinsic dimension, like text embeddings) or gaussian")
    ("dir", po::value(&o.dir)->default_value(o.dir), "scratch directory")
    ("skip-memory", po::bool_switch(&o.skip_memory), "skip the node-process memory measurement")
    ("only", po::value(&o.only), "run one part: store, search or memory (for profiling)");
  po::variables_map vm;
  if (auto status = p2p::bench::parse_program_options("vector_bench", argc, argv, desc, vm))
    return *status;
  if (o.data != "embedding" && o.data != "gaussian") {
    std::cerr << "vector_bench: --data: expected embedding or gaussian\n";
    return 2;
  }
  std::filesystem::create_directories(o.dir);
  std::cout << "vector_bench: " << o.n << " x " << o.dim << "-d " << o.data << " vectors, " << o.queries
            << " queries, k=" << o.k << ", " << o.repeats << " repeats, " << std::thread::hardware_concurrency()
            << " cores" << std::endl;
  bool gaussian = o.data == "gaussian";
  auto base = gaussian ? datasets::random_vectors(o.n, o.dim, 1) : datasets::embedding_like_vectors(o.n, o.dim, 1);
  auto queries = gaussian ? datasets::random_vectors(o.queries, o.dim, 2) : datasets::embedding_like_vectors(o.queries, o.dim, 2);

  auto wanted = [&](const char* part) { return o.only.empty() || o.only == part; };
  // vector_store: durable, acknowledged writes, 4 shards on 2 scheduler threads.
  std::vector<double> raw_store, node_store;
  for (int r = 0; r < o.repeats && wanted("store"); ++r) {
    raw_store.push_back(raw_rocksdb_store(o, base, 2));
    bench::bench_node node(node_cfg(o, fresh(o, "store"), 4, 2, 64));
    node_store.push_back(double(o.n) / node.put(base, o.n, o.dim));
    std::cout << "  store run " << r + 1 << ": node " << num(node_store.back()) << "/s, raw RocksDB "
              << num(raw_store.back()) << "/s" << std::endl;
  }


  // vector_search: raw hnswlib (perf/hnswlib_raw, a separate process: hnswlib 0.6.2's header
  // cannot be in two translation units of one binary) picks the smallest ef with recall >= 0.99;
  // the node, one shard on one scheduler thread, searches at that ef.
  auto raw_out = !wanted("search") ? std::string() : run_capture(std::string(HNSWLIB_RAW_BIN) + " --n " + std::to_string(o.n) + " --queries "
                             + std::to_string(o.queries) + " --dim " + std::to_string(o.dim) + " --data " + o.data
                             + " --repeats " + std::to_string(o.repeats));
  std::cout << raw_out;
  auto raw_value = [&](const std::string& key) {
    auto pos = raw_out.find("result " + key + "=");
    if (!wanted("search"))
      return 1.0;
    if (pos == std::string::npos)
      throw std::runtime_error("hnswlib_raw did not report " + key);
    return std::stod(raw_out.substr(pos + key.size() + 8));
  };
  auto ef = size_t(raw_value("ef"));
  double raw_recall = raw_value("recall");
  double raw_build = raw_value("build_per_s");
  std::vector<double> raw_qps;
  for (int r = 0; r < o.repeats; ++r)
    raw_qps.push_back(raw_value("qps" + std::to_string(r)));
  std::vector<std::vector<size_t>> results;
  std::vector<double> node_qps;
  double node_recall = 0, index_seconds = 1;
  if (wanted("search")) {
  bench::bench_node node(node_cfg(o, fresh(o, "search"), 1, 1, uint32_t(ef)));
  node.put(base, o.n, o.dim);
  index_seconds = node.wait_indexed();
  for (int r = 0; r < o.repeats; ++r) {
    node_qps.push_back(double(o.queries) / node.search(queries, o.dim, o.k, uint32_t(ef), results));
    node_recall = recall_of(o, base, queries, results);
    std::cout << "  search run " << r + 1 << ": node " << num(node_qps.back()) << " q/s" << std::endl;
  }
  }

  memory_figures mem;
  if (!o.skip_memory && wanted("memory"))
    mem = measure_memory(o, base);

  std::printf("\n| %-40s | %14s | %14s | %7s | %-26s |\n", "figure", "p2p-agent", "raw library", "ratio", "target");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(42, '-').c_str(), std::string(16, '-').c_str(),
              std::string(16, '-').c_str(), std::string(9, '-').c_str(), std::string(28, '-').c_str());
  if (wanted("store")) {
  double ms = median(node_store), rs = median(raw_store);
  row("vector_store, durable, 2 threads (vec/s)", num(ms), num(rs), num(100 * ms / rs, "%.0f%%"), ">= 100,000/s, >= 70% raw");
  row("  spread over runs", spread(node_store), spread(raw_store), "", "");
  }
  if (wanted("search")) {
  double mq = median(node_qps), rq = median(raw_qps);
  row(("vector_search, 1 thread, ef=" + std::to_string(ef) + " (q/s)").c_str(), num(mq), num(rq),
      num(100 * mq / rq, "%.0f%%"), ">= 90% raw");
  row("  spread over runs", spread(node_qps), spread(raw_qps), "", "");
  row("recall@10 (ties count)", num(node_recall, "%.4f"), num(raw_recall, "%.4f"), "", ">= 0.99");
  row("graph build, 1 thread (vectors/s)", num(double(o.n) / index_seconds), num(raw_build),
      num(100 * (double(o.n) / index_seconds) / raw_build, "%.0f%%"), "off the ack path");
  }
  if (!o.skip_memory && wanted("memory")) {
    double half = double(o.n / 2);
    row("node RSS idle (MB)", num(double(mem.idle) / 1e6, "%.1f"), "", "", "<= 50 MB");
    row("RSS per added vector, N/2 -> N (bytes)", num(double(mem.full - mem.half) / (double(o.n) - half)), "",
        "", "<= 2,400");
    row("RSS per vector incl. fixed costs (bytes)", num(double(mem.full - mem.idle) / double(o.n)), "", "", "");
    row("RSS per vector right after a put (bytes)", num(double(mem.after_put - mem.idle) / double(o.n)), "", "",
        "memtables not yet flushed");
  }
  std::printf("\nguide's expectations: storage 1,000-5,000 vectors/s, search 100-1,000 queries/s\n");
  return 0;
}
