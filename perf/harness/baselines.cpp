// Raw-library baselines of bench steps, measured in this process before the node runs: the
// text kernels and the embedder called directly, RocksDB WriteBatch, hnswlib alone, and plain
// CAF between two actor systems over loopback BASP. Each gets what one node gets: its worker
// or scheduler threads, the step's in-flight window, its hnsw parameters, the same
// acknowledgement per message.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "runtime/actor_runtime.hpp"
#include "perf/harness/bench.hpp"
#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "text/embedder.hpp"
#include "text/text_kernels.hpp"
#include "perf/harness/datasets.hpp"
#include "vectors/distance.hpp"
#include "vectors/placement.hpp"
#include "perf/harness/raw_hnsw.hpp"

namespace p2p::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using ping_atom = caf::atom_constant<caf::atom("b_ping")>;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }
/// Keeps a computed value alive so that the measured loop is not optimised away.
volatile double kept;
void keep(double x) { kept = x; }

double micros(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

/// Runs `work(first, last)` over [0, n) cut into `threads` interleaved parts of `chunk` items
/// (part t takes chunks t, t + threads, ...), one thread each; the seconds it all took.
template <class Work>
double on_threads(size_t threads, size_t n, size_t chunk, Work work) {
  threads = std::max<size_t>(1, threads);
  chunk = std::max<size_t>(1, chunk);
  std::vector<std::thread> pool;
  auto t0 = clock_type::now();
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t first = t * chunk; first < n; first += threads * chunk)
        work(t, first, std::min(n, first + chunk));
    });
  for (auto& th : pool)
    th.join();
  return since(t0);
}

std::string threads_text(size_t n) { return std::to_string(n) + (n == 1 ? " thread" : " threads"); }

/// The text kernels (and the embedder over each chunk) on the node's `workers` threads, as its
/// text workers run them.
baseline text_kernels(const workload& w, bool embed, size_t threads) {
  std::vector<size_t> sink(threads, 0);
  double secs = on_threads(threads, w.texts.size(), 16, [&](size_t t, size_t first, size_t last) {
    document_summary summary;
    hashing_embedder embedder(512);
    std::vector<float> v(512);
    for (size_t i = first; i < last; ++i) {
      auto& text = w.texts[i];
      auto err = process_document(text, 200, 20, 10, summary);
      sink[t] += summary.words;
      if (embed && err.empty())
        for (auto& c : summary.chunks) {
          embedder.embed(std::string_view(text).substr(c.begin, c.end - c.begin), v.data());
          sink[t] += v[0] > 0;
        }
    }
  });
  keep(double(std::accumulate(sink.begin(), sink.end(), size_t(0))));
  return {std::string(embed ? "text kernels + embedder, " : "text kernels, ") + threads_text(threads),
          double(w.texts.size()) / secs};
}

baseline embedder_alone(const workload& w, size_t threads) {
  std::vector<float> sink(threads, 0);
  double secs = on_threads(threads, w.texts.size(), 16, [&](size_t t, size_t first, size_t last) {
    hashing_embedder embedder(512);
    std::vector<float> v(512);
    for (size_t i = first; i < last; ++i) {
      embedder.embed(w.texts[i], v.data());
      sink[t] += v[0];
    }
  });
  keep(std::accumulate(sink.begin(), sink.end(), 0.0));
  return {"hashing embedder, " + threads_text(threads), double(w.texts.size()) / secs};
}

/// The keys, values and batch size the node writes, straight into a RocksDB of its own, from as
/// many threads as the node has scheduler threads for its shards (at most the step's window).
baseline rocksdb_store(const scenario_step& s, const workload& w, const std::string& dir, size_t threads) {
  std::filesystem::remove_all(dir);
  std::string error;
  auto db = database::open(dir, durability_mode::wal, error);
  if (!db)
    throw std::runtime_error("baseline RocksDB: " + error);
  std::vector<std::vector<double>> us(threads);
  std::atomic<bool> failed{false};
  double secs = on_threads(threads, w.rows, s.batch, [&](size_t t, size_t first, size_t last) {
    auto b0 = clock_type::now();
    rocksdb::WriteBatch wb;
    for (size_t i = first; i < last; ++i)
      wb.Put(db->cf(column::vectors), vector_key(local_shard("node-1", 4, w.ids[i]), s.collection, w.ids[i]),
             rocksdb::Slice(reinterpret_cast<const char*>(&w.vectors[i * w.dim]), w.dim * sizeof(float)));
    if (!db->write(wb).ok())
      failed = true;
    us[t].push_back(micros(b0));
  });
  db.reset();
  std::filesystem::remove_all(dir);
  if (failed)
    throw std::runtime_error("baseline RocksDB: write failed");
  std::vector<double> all;
  for (auto& u : us)
    all.insert(all.end(), u.begin(), u.end());
  return {"RocksDB WriteBatch, " + threads_text(threads), double(w.rows) / secs, percentile(all, 0.5),
          percentile(all, 0.99)};
}

/// hnswlib alone with the node's graph parameters (`hnsw.m`, `hnsw.ef_construction`; built on 2
/// threads), searched at the step's ef (else the node's `hnsw.ef_search`) on as many threads as
/// the node has scheduler threads (at most the step's window), one query per call.
baseline hnswlib_search(const scenario_step& s, const workload& q, const workload& base, const node_config& cfg,
                        size_t threads) {
  uint32_t dim = base.dim;
  auto metric = cfg.metric;
  auto prepared = [&](const std::vector<float>& v) {
    auto out = v;
    if (metric == metric_kind::cosine)
      for (size_t i = 0; i < out.size() / dim; ++i)
        normalize(&out[i * dim], dim);
    return out;
  };
  auto rows = prepared(base.vectors), queries = prepared(q.vectors);
  raw_hnsw graph(dim, metric, base.rows, cfg.hnsw.m, cfg.hnsw.ef_construction);
  on_threads(2, base.rows, 1, [&](size_t, size_t first, size_t) { graph.add(&rows[first * dim], first); });
  auto recall_at = [&](size_t ef) {
    graph.set_ef(std::max<size_t>(ef, s.k));
    size_t hits = 0, total = 0;
    for (size_t i = 0; i < q.rows; ++i) {
      auto found = graph.search(&queries[i * dim], s.k);
      hits += datasets::recall_hits(metric, &q.vectors[i * dim], base.vectors, dim, found, q.kth[i]);
      total += std::min<size_t>(s.k, base.rows);
    }
    return total ? double(hits) / double(total) : 0;
  };
  size_t ef = s.ef ? s.ef : cfg.hnsw.ef_search;
  if (s.ef == 0 && s.recall > 0) // the smallest ef (of a doubling-ish ladder) that reaches the recall
    for (size_t candidate : ef_ladder) {
      ef = std::max<size_t>(candidate, s.k);
      if (recall_at(ef) >= s.recall)
        break;
    }
  graph.set_ef(std::max<size_t>(ef, s.k));
  std::vector<std::vector<double>> us(threads);
  std::vector<std::vector<size_t>> results(q.rows);
  double secs = on_threads(threads, q.rows, 1, [&](size_t t, size_t i, size_t) {
    auto a = clock_type::now();
    results[i] = graph.search(&queries[i * dim], s.k);
    us[t].push_back(micros(a));
  });
  size_t hits = 0, total = 0;
  for (size_t i = 0; i < q.rows; ++i) {
    hits += datasets::recall_hits(metric, &q.vectors[i * dim], base.vectors, dim, results[i], q.kth[i]);
    total += std::min<size_t>(s.k, base.rows);
  }
  std::vector<double> all;
  for (auto& u : us)
    all.insert(all.end(), u.begin(), u.end());
  auto name = "hnswlib, " + threads_text(threads) + ", m " + std::to_string(cfg.hnsw.m) + ", ef " + std::to_string(ef);
  if (s.ef == 0 && s.recall > 0) {
    char target[32];
    std::snprintf(target, sizeof target, "%g", s.recall);
    name += std::string(" (the least reaching recall ") + target + ")";
  }
  baseline b{name, double(q.rows) / secs, percentile(all, 0.5), percentile(all, 0.99)};
  b.recall = total ? double(hits) / double(total) : 0;
  b.ef = uint32_t(ef);
  return b;
}

/// Plain CAF: a second actor system in this process (the node's runtime settings) publishes an
/// echo actor on loopback; this one sends it the step's messages with the step's window in
/// flight, each one acknowledged, as the node's messaging steps are (one-way included: the node
/// acknowledges a one-way message once the peer has it, without the agent's answer).
baseline plain_caf(const scenario_step& s, const workload& w, const node_config& cfg) {
  runtime_config server_cfg(cfg), client_cfg(cfg);
  caf::actor_system server{server_cfg}, client{client_cfg};
  auto echo = server.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](ping_atom, uint64_t seq, const std::string&) { return seq; }};
  });
  auto port = server.middleman().publish(echo, 0, "127.0.0.1");
  if (!port)
    throw std::runtime_error("baseline CAF: publish failed: " + caf::to_string(port.error()));
  auto remote = client.middleman().remote_actor("127.0.0.1", *port);
  if (!remote)
    throw std::runtime_error("baseline CAF: connect failed: " + caf::to_string(remote.error()));
  caf::scoped_actor self{client};
  auto& text = w.texts.front();
  size_t window = std::max<size_t>(1, s.window);
  std::vector<clock_type::time_point> sent(s.count);
  std::vector<double> us;
  uint64_t next = 0;
  auto t0 = clock_type::now();
  auto send_next = [&] {
    sent[next] = clock_type::now();
    self->send(*remote, ping_atom::value, next, text);
    ++next;
  };
  while (next < std::min<uint64_t>(window, s.count))
    send_next();
  for (uint64_t acked = 0; acked < s.count; ++acked) {
    self->receive([&](uint64_t seq) { us.push_back(micros(sent[seq])); },
                  caf::after(std::chrono::seconds(30)) >> [] { throw std::runtime_error("baseline CAF: no answer in 30 s"); });
    if (next < s.count)
      send_next();
  }
  double secs = since(t0);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return {"plain CAF, loopback, " + std::to_string(window) + " in flight, each acked", double(s.count) / secs,
          percentile(us, 0.5), percentile(us, 0.99)};
}

} // namespace

baseline measure_baseline(const scenario& sc, size_t step, const std::vector<workload>& w, const node_config& cfg,
                          const std::string& work_dir) {
  auto& s = sc.steps[step];
  size_t workers = std::max<uint32_t>(1, cfg.workers);
  size_t shard_threads = std::clamp<size_t>(std::min<size_t>(cfg.scheduler_threads, s.window), 1, 64);
  switch (s.kind) {
    case step_kind::text_processing: return text_kernels(w[step], false, workers);
    case step_kind::embedding: return embedder_alone(w[step], workers);
    case step_kind::ingest: return text_kernels(w[step], true, workers);
    case step_kind::vector_store: return rocksdb_store(s, w[step], work_dir + "/baseline-rocksdb", shard_threads);
    case step_kind::vector_search: return hnswlib_search(s, w[step], w[w[step].base_step], cfg, shard_threads);
    case step_kind::messaging: return plain_caf(s, w[step], cfg);
    case step_kind::kill_node:
    case step_kind::restart_node: return {}; // nothing raw to compare a node stopping or starting with
  }
  return {};
}

} // namespace p2p::bench
