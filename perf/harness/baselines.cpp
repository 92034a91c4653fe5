// Raw-library baselines of bench steps, measured in this process before the node runs: the
// text kernels and the embedder called directly, RocksDB WriteBatch, hnswlib alone, and plain
// CAF request/response between two actor systems over loopback BASP.

#include <chrono>
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

baseline text_kernels(const workload& w, bool embed) {
  document_summary summary;
  hashing_embedder embedder(512);
  std::vector<float> v(512);
  size_t sink = 0;
  auto t0 = clock_type::now();
  for (auto& text : w.texts) {
    auto err = process_document(text, 200, 20, 10, summary);
    sink += summary.words;
    if (embed && err.empty())
      for (auto& c : summary.chunks) {
        embedder.embed(std::string_view(text).substr(c.begin, c.end - c.begin), v.data());
        sink += v[0] > 0;
      }
  }
  double secs = since(t0);
  keep(double(sink));
  return {embed ? "text kernels + embedder, 1 thread" : "text kernels, 1 thread", double(w.texts.size()) / secs};
}

baseline embedder_alone(const workload& w) {
  hashing_embedder embedder(512);
  std::vector<float> v(512);
  float sink = 0;
  auto t0 = clock_type::now();
  for (auto& text : w.texts) {
    embedder.embed(text, v.data());
    sink += v[0];
  }
  double secs = since(t0);
  keep(sink);
  return {"hashing embedder, 1 thread", double(w.texts.size()) / secs};
}

/// The keys, values and batch size the node writes, straight into a RocksDB of its own.
baseline rocksdb_store(const scenario_step& s, const workload& w, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::string error;
  auto db = database::open(dir, durability_mode::wal, error);
  if (!db)
    throw std::runtime_error("baseline RocksDB: " + error);
  std::vector<double> us;
  auto t0 = clock_type::now();
  for (size_t first = 0; first < w.rows; first += s.batch) {
    auto b0 = clock_type::now();
    rocksdb::WriteBatch wb;
    for (size_t i = first; i < std::min(w.rows, first + s.batch); ++i)
      wb.Put(db->cf(column::vectors), vector_key(local_shard("node-1", 4, w.ids[i]), s.collection, w.ids[i]),
             rocksdb::Slice(reinterpret_cast<const char*>(&w.vectors[i * w.dim]), w.dim * sizeof(float)));
    if (!db->write(wb).ok())
      throw std::runtime_error("baseline RocksDB: write failed");
    us.push_back(micros(b0));
  }
  double secs = since(t0);
  db.reset();
  std::filesystem::remove_all(dir);
  return {"RocksDB WriteBatch", double(w.rows) / secs, percentile(us, 0.5), percentile(us, 0.99)};
}

/// hnswlib alone: the graph built over the stored vectors (2 threads, m 16, ef_construction
/// 200 as the node's defaults), then every query searched on one thread.
baseline hnswlib_search(const scenario_step& s, const workload& q, const workload& base, metric_kind metric) {
  uint32_t dim = base.dim;
  auto prepared = [&](const std::vector<float>& v) {
    auto out = v;
    if (metric == metric_kind::cosine)
      for (size_t i = 0; i < out.size() / dim; ++i)
        normalize(&out[i * dim], dim);
    return out;
  };
  auto rows = prepared(base.vectors), queries = prepared(q.vectors);
  raw_hnsw graph(dim, metric, base.rows, 16, 200);
  std::vector<std::thread> builders;
  for (size_t t = 0; t < 2; ++t)
    builders.emplace_back([&, t] {
      for (size_t i = t; i < base.rows; i += 2)
        graph.add(&rows[i * dim], i);
    });
  for (auto& b : builders)
    b.join();
  size_t ef = s.ef ? s.ef : 64;
  graph.set_ef(std::max<size_t>(ef, s.k));
  std::vector<double> us;
  std::vector<std::vector<size_t>> results(q.rows);
  auto t0 = clock_type::now();
  for (size_t i = 0; i < q.rows; ++i) {
    auto a = clock_type::now();
    results[i] = graph.search(&queries[i * dim], s.k);
    us.push_back(micros(a));
  }
  double secs = since(t0);
  size_t hits = 0, total = 0;
  for (size_t i = 0; i < q.rows; ++i) {
    hits += datasets::recall_hits(metric, &q.vectors[i * dim], base.vectors, dim, results[i], q.kth[i]);
    total += std::min<size_t>(s.k, base.rows);
  }
  baseline b{"hnswlib, 1 thread, ef " + std::to_string(ef), double(q.rows) / secs, percentile(us, 0.5),
             percentile(us, 0.99)};
  b.recall = total ? double(hits) / double(total) : 0;
  return b;
}

/// Plain CAF: a second actor system in this process publishes an echo actor on loopback; this
/// one sends it the same number of messages the step sends, one at a time.
baseline plain_caf(const scenario_step& s, const workload& w) {
  node_config cfg;
  runtime_config server_cfg(cfg), client_cfg(cfg);
  caf::actor_system server{server_cfg}, client{client_cfg};
  auto echo = server.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](ping_atom, const std::string& text) { return text.size(); }};
  });
  auto port = server.middleman().publish(echo, 0, "127.0.0.1");
  if (!port)
    throw std::runtime_error("baseline CAF: publish failed: " + caf::to_string(port.error()));
  auto remote = client.middleman().remote_actor("127.0.0.1", *port);
  if (!remote)
    throw std::runtime_error("baseline CAF: connect failed: " + caf::to_string(remote.error()));
  caf::scoped_actor self{client};
  auto& text = w.texts.front();
  std::vector<double> us;
  auto t0 = clock_type::now();
  if (s.one_way) {
    for (uint64_t i = 0; i < s.count; ++i)
      self->send(*remote, ping_atom::value, text);
  }
  for (uint64_t i = 0; i < (s.one_way ? 1 : s.count); ++i) {
    auto a = clock_type::now();
    self->request(*remote, std::chrono::seconds(30), ping_atom::value, text)
      .receive([](size_t) {}, [](caf::error& e) { throw std::runtime_error("baseline CAF: " + caf::to_string(e)); });
    us.push_back(micros(a));
  }
  double secs = since(t0);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return {s.one_way ? "plain CAF one-way, loopback" : "plain CAF request/response, loopback", double(s.count) / secs,
          s.one_way ? 0 : percentile(us, 0.5), s.one_way ? 0 : percentile(us, 0.99)};
}

} // namespace

baseline measure_baseline(const scenario& sc, size_t step, const std::vector<workload>& w, metric_kind metric,
                          const std::string& work_dir) {
  auto& s = sc.steps[step];
  switch (s.kind) {
    case step_kind::text_processing: return text_kernels(w[step], false);
    case step_kind::embedding: return embedder_alone(w[step]);
    case step_kind::ingest: return text_kernels(w[step], true);
    case step_kind::vector_store: return rocksdb_store(s, w[step], work_dir + "/baseline-rocksdb");
    case step_kind::vector_search: return hnswlib_search(s, w[step], w[w[step].base_step], metric);
    case step_kind::messaging: return plain_caf(s, w[step]);
  }
  return {};
}

} // namespace p2p::bench
