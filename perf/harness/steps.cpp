// Bench steps against a node: the same messages the CLI commands send, pipelined, with the round
// trip of every request timed at the client.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "perf/harness/bench.hpp"
#include "core/process_stats.hpp"
#include "runtime/client.hpp"
#include "tasks/task.hpp"
#include "perf/harness/datasets.hpp"

namespace p2p::bench {

namespace {

using clock_type = std::chrono::steady_clock;

/// Times each request from its send to its reply, and counts items done and failed.
struct step_clock {
  std::vector<double> us;
  uint64_t done = 0, errors = 0;
  clock_type::time_point start = clock_type::now();
  std::string first_error;

  void fail(const std::string& e) {
    ++errors;
    if (first_error.empty())
      first_error = e;
  }

  void finish(step_result& r, const caf::error& pipeline_error) {
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    r.done = done;
    r.errors = errors + (r.count > done + errors ? r.count - done - errors : 0);
    r.rate_per_s = r.seconds > 0 ? double(done) / r.seconds : 0;
    r.p50_us = percentile(us, 0.5);
    r.p99_us = percentile(us, 0.99);
    r.error = pipeline_error ? error_text(pipeline_error) : first_error;
  }
};

double micros_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t).count();
}

client::client_options client_of(const run_options& o) {
  client::client_options c;
  c.timeout_s = o.timeout_s;
  return c;
}

/// The node's status; a failure ends the bench run.
node_status status_of(node_session& s, const run_options& o) {
  auto status = client::try_ask<node_status>(s, client_of(o), status_atom::value);
  if (!status)
    throw std::runtime_error("status: " + error_text(status.error()));
  return std::move(*status);
}

/// Sends `total` items in requests of `st.batch`, `st.window` in flight; `make(first, last)` gives
/// a request's message elements as a tuple, `on_reply(first, reply, clock)` counts its items.
/// Times each request from its send to its reply and draws the progress line.
template <class Reply, class Make, class OnReply>
void run_pipelined(node_session& s, const scenario_step& st, size_t total, const run_options& o, step_result& r,
                   Make make, OnReply on_reply) {
  auto c = client_of(o);
  client::request_pipeline<Reply> pipeline(s, c, st.window);
  client::progress_line progress(r.label, total, o.progress);
  step_clock clock;
  for (size_t first = 0; first < total && !pipeline.error(); first += st.batch) {
    auto sent = clock_type::now();
    std::apply(
      [&](auto&&... xs) {
        pipeline.send(
          [&, sent, first](Reply& reply) {
            clock.us.push_back(micros_since(sent));
            on_reply(first, reply, clock);
            progress.update(clock.done + clock.errors);
          },
          std::forward<decltype(xs)>(xs)...);
      },
      make(first, std::min(total, first + st.batch)));
  }
  pipeline.drain();
  progress.finish();
  clock.finish(r, pipeline.error());
}

/// text_processing or embedding: documents as tasks, `batch` per submission, waited for (so the
/// node holds them in memory only).
void run_tasks(node_session& s, const scenario_step& st, const workload& w, const run_options& o, step_result& r) {
  bool text = st.kind == step_kind::text_processing;
  auto make = [&](size_t first, size_t last) {
    task_submission sub;
    sub.type = text ? "text_processing" : "embedding";
    sub.params = text ? "200 20 10" : "512";
    sub.payloads.assign(w.texts.begin() + first, w.texts.begin() + last);
    return std::make_tuple(task_submit_wait_atom::value, std::move(sub));
  };
  run_pipelined<task_outcomes>(s, st, w.texts.size(), o, r, make, [text](size_t, task_outcomes& out, step_clock& clock) {
    for (size_t i = 0; i < out.states.size(); ++i) {
      if (task_state(out.states[i]) != task_state::completed)
        clock.fail(out.errors[i]);
      else if (!text && out.results[i].size() != 512 * sizeof(float)) // an embedding is its 512 floats
        clock.fail("an embedding result of " + std::to_string(out.results[i].size()) + " bytes, not 512 floats");
      else
        ++clock.done;
    }
  });
}

void run_ingest(node_session& s, const scenario_step& st, const workload& w, const run_options& o, step_result& r) {
  auto make = [&](size_t first, size_t last) {
    document_batch b;
    b.collection = st.collection;
    b.ids.assign(w.ids.begin() + first, w.ids.begin() + last);
    b.texts.assign(w.texts.begin() + first, w.texts.begin() + last);
    return std::make_tuple(ingest_atom::value, std::move(b));
  };
  run_pipelined<ingest_result>(s, st, w.texts.size(), o, r, make, [](size_t, ingest_result& out, step_clock& clock) {
    clock.done += out.documents;
    for (auto& e : out.errors)
      clock.fail(e);
  });
}

void run_store(node_session& s, const scenario_step& st, const workload& w, const run_options& o, step_result& r) {
  auto make = [&](size_t first, size_t last) {
    vector_batch b{st.collection, w.dim, {w.ids.begin() + first, w.ids.begin() + last}, {}, {}, {}};
    b.values.assign(w.vectors.begin() + first * w.dim, w.vectors.begin() + last * w.dim);
    return std::make_tuple(put_atom::value, std::move(b));
  };
  run_pipelined<uint64_t>(s, st, w.rows, o, r, make,
                          [](size_t, uint64_t stored, step_clock& clock) { clock.done += stored; });
}

/// Searches every query at `ef` (0: the node's ef_search); each query's hits go to `found`.
void search_all(node_session& s, const scenario_step& st, const workload& q, uint32_t ef, const run_options& o,
                step_result& r, std::vector<std::vector<std::string>>& found) {
  uint32_t dim = q.dim;
  found.assign(q.rows, {});
  auto make = [&](size_t first, size_t last) {
    search_request req;
    req.collection = st.collection;
    req.dim = dim;
    req.queries.assign(q.vectors.begin() + first * dim, q.vectors.begin() + last * dim);
    req.k = st.k;
    req.ef = ef;
    return std::make_tuple(search_atom::value, std::move(req));
  };
  run_pipelined<search_result>(s, st, q.rows, o, r, make, [&](size_t first, search_result& out, step_clock& clock) {
    size_t hit = 0;
    for (size_t i = 0; i < out.counts.size(); ++i, ++clock.done)
      for (uint32_t j = 0; j < out.counts[i]; ++j)
        found[first + i].push_back(std::move(out.ids[hit++]));
  });
}

/// recall@k of what a search found, against an exact scan of the base vectors (ties count as hits).
double recall_of(const std::vector<std::vector<std::string>>& found, const workload& q, const workload& base,
                 metric_kind metric, uint32_t k) {
  std::unordered_map<std::string, size_t> row_of;
  for (size_t i = 0; i < base.rows; ++i)
    row_of.emplace(base.ids[i], i);
  size_t hits = 0, expected = 0;
  std::vector<size_t> rows;
  for (size_t qi = 0; qi < q.rows; ++qi) {
    rows.clear();
    for (auto& id : found[qi])
      if (auto it = row_of.find(id); it != row_of.end())
        rows.push_back(it->second);
    hits += datasets::recall_hits(metric, &q.vectors[qi * q.dim], base.vectors, q.dim, rows, q.kth[qi]);
    expected += std::min<size_t>(k, base.rows);
  }
  return expected ? double(hits) / double(expected) : 0;
}

/// The ef a search step runs at: its own, or, when it names a recall and no ef, the least ef of
/// the ladder (ef_ladder) whose recall on the step's queries reaches it, tried in untimed passes,
/// as its raw hnswlib baseline chose its own: the two are compared at the same recall. The
/// node's shards are several graphs, each searched at that ef, so the node often needs a smaller
/// ef than one graph of every vector does.
uint32_t choose_ef(node_session& s, const scenario_step& st, const workload& q, const workload& base,
                   metric_kind metric, const run_options& o) {
  if (st.ef != 0 || st.recall <= 0)
    return st.ef;
  run_options quiet = o;
  quiet.progress = false;
  std::vector<std::vector<std::string>> found;
  uint32_t ef = st.ef;
  for (uint32_t candidate : ef_ladder) {
    ef = std::max(candidate, st.k);
    step_result trial;
    trial.count = q.rows;
    search_all(s, st, q, ef, quiet, trial, found);
    if (!trial.error.empty())
      throw std::runtime_error("search at ef " + std::to_string(ef) + ": " + trial.error);
    if (recall_of(found, q, base, metric, st.k) >= st.recall)
      break;
  }
  return ef;
}

/// Searches every query at `ef`; recall@k is judged after the clock stops.
void run_search(node_session& s, const scenario_step& st, const workload& q, const workload& base,
                metric_kind metric, uint32_t ef, const run_options& o, step_result& r) {
  std::vector<std::vector<std::string>> found;
  search_all(s, st, q, ef, o, r, found);
  r.k = st.k;
  r.ef = ef;
  r.recall = recall_of(found, q, base, metric, st.k);
}

/// Waits (up to 10 minutes) until no node of the cluster has vectors of `collection` waiting
/// for its HNSW graph, so that searches measure the index, as the raw hnswlib baseline does.
/// Returns the seconds waited; a wait that runs out fails the bench rather than timing a search
/// that would partly be an exact scan.
double wait_indexed(node_session& s, const std::string& collection, const run_options& o) {
  auto t0 = clock_type::now();
  auto status = status_of(s, o);
  std::vector<caf::actor> nodes{s.node()};
  for (auto& m : status.members) {
    if (m.state != "alive") // a node down (a kill_node step): its copies wait for it, searches do not
      continue;
    std::string host;
    uint16_t port = 0;
    if (m.id == status.id || !parse_address(m.address, host, port))
      continue;
    auto peer = connect_node(s.system(), host, port, std::chrono::seconds(30));
    if (!peer)
      throw std::runtime_error("cannot reach " + m.id + " at " + m.address + ": " + caf::to_string(peer.error()));
    nodes.push_back(*peer);
  }
  caf::scoped_actor self{s.system()};
  uint64_t pending = 0;
  for (auto deadline = t0 + std::chrono::minutes(10); clock_type::now() < deadline;) {
    pending = 0;
    for (auto& node : nodes)
      self->request(node, std::chrono::seconds(o.timeout_s), status_atom::value)
        .receive(
          [&](node_status& st) {
            for (auto& c : st.collections)
              if (c.name == collection)
                pending += c.pending;
          },
          [&](caf::error& e) { throw std::runtime_error("status: " + error_text(e)); });
    if (pending == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (pending != 0)
    throw std::runtime_error("index wait: " + std::to_string(pending) + " vectors of '" + collection
                             + "' still wait for the HNSW graph after 10 minutes");
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// The agent messages go to: the step's `to`, else the "worker" agent of the last member the
/// node knows (another peer in a cluster, the node itself alone).
std::string message_target(node_session& s, const scenario_step& st, const run_options& o) {
  if (!st.to.empty())
    return st.to;
  auto status = status_of(s, o);
  std::string last = status.id;
  for (auto& m : status.members)
    if (m.state == "alive")
      last = m.id;
  return last + "/worker";
}

void run_messaging(node_session& s, const scenario_step& st, const workload& w, const run_options& o,
                   step_result& r) {
  auto to = message_target(s, st, o);
  auto make = [&](size_t, size_t) {
    return std::make_tuple(send_atom::value, to, std::string("bench"), w.texts.front(), st.one_way);
  };
  run_pipelined<std::string>(s, st, st.count, o, r, make, [](size_t, std::string&, step_clock& clock) { ++clock.done; });
}

/// Messages from node-1 to another node: one request asks node-1 to send them all (`window` in
/// flight) and to time them on its own clock; the client only waits for that answer.
void run_messaging_from_node(node_session& s, const scenario_step& st, const workload& w, const run_options& o,
                             step_result& r) {
  auto to = message_target(s, st, o);
  auto c = client_of(o);
  c.timeout_s += unsigned(std::min<uint64_t>(st.count / 1000, 1000000)); // one request: at least 1,000 a second
  client::progress_line progress(r.label, st.count, o.progress);
  auto t0 = clock_type::now();
  auto reply = client::try_ask<std::string>(s, c, send_atom::value, to, std::string("bench"), w.texts.front(), st.one_way,
                                            uint64_t(st.count), uint32_t(st.window));
  progress.finish();
  if (!reply) {
    r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    r.errors = st.count;
    r.error = error_text(reply.error());
    return;
  }
  client::message_run run;
  if (!client::read_message_run(*reply, run))
    throw std::runtime_error("messages from the node: cannot read its answer '" + *reply + "'");
  r.seconds = run.seconds;
  r.done = run.done;
  r.errors = run.errors + (st.count > run.done + run.errors ? st.count - run.done - run.errors : 0);
  r.rate_per_s = run.seconds > 0 ? double(run.done) / run.seconds : 0;
  r.p50_us = run.p50_us;
  r.p99_us = run.p99_us;
  r.error = run.error;
}

/// Samples the step's processes: CPU and storage I/O at its start and end, resident memory every
/// 20 ms in between.
class resource_watch {
public:
  explicit resource_watch(std::vector<int> pids) : pids_(std::move(pids)) {
    embedded_ = std::find(pids_.begin(), pids_.end(), 0) != pids_.end();
    client_start_ = embedded_ ? 0 : sample_process(0).cpu_seconds;
    for (int pid : pids_)
      start_.push_back(sample_process(pid));
    peak_.assign(pids_.size(), 0);
    sum_.assign(pids_.size(), 0);
    if (!pids_.empty())
      sampler_ = std::thread([this] {
        std::unique_lock<std::mutex> lock(mutex_);
        do
          sample_rss();
        while (!stop_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_; }));
      });
  }

  ~resource_watch() { finish(); }

  void finish() {
    if (sampler_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      stop_.notify_all();
      sampler_.join();
    }
  }

  void fill(step_result& r) {
    finish();
    sample_rss();
    r.client_cpu_s = embedded_ ? 0 : sample_process(0).cpu_seconds - client_start_;
    if (pids_.empty())
      return;
    r.nodes_cpu_s = r.peak_rss_mb = r.mean_rss_mb = r.read_bytes = r.write_bytes = 0;
    for (size_t i = 0; i < pids_.size(); ++i) {
      auto end = sample_process(pids_[i]);
      if (end.ok && start_[i].ok) {
        r.nodes_cpu_s += end.cpu_seconds - start_[i].cpu_seconds;
        r.read_bytes += double(end.read_bytes - start_[i].read_bytes);
        r.write_bytes += double(end.write_bytes - start_[i].write_bytes);
      }
      r.peak_rss_mb = std::max(r.peak_rss_mb, double(peak_[i]) / 1e6);
      r.mean_rss_mb += samples_ ? double(sum_[i]) / double(samples_) / 1e6 / double(pids_.size()) : 0;
    }
  }

private:
  void sample_rss() {
    for (size_t i = 0; i < pids_.size(); ++i) {
      auto rss = sample_process(pids_[i]).rss_bytes;
      peak_[i] = std::max(peak_[i], rss);
      sum_[i] += rss;
    }
    ++samples_;
  }

  std::vector<int> pids_;
  bool embedded_ = false;
  double client_start_ = 0;
  std::vector<process_sample> start_;
  std::vector<uint64_t> peak_, sum_;
  uint64_t samples_ = 0;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread sampler_;
};

} // namespace

double cpu_us_per_item(const step_result& r) {
  if (r.done == 0)
    return -1;
  return (r.client_cpu_s + std::max(0.0, r.nodes_cpu_s)) / double(r.done) * 1e6;
}

double cores_used(const step_result& r) {
  return r.seconds > 0 ? (r.client_cpu_s + std::max(0.0, r.nodes_cpu_s)) / r.seconds : 0;
}

std::vector<step_result> run_steps(node_session& s, const scenario& sc, const std::vector<workload>& w,
                                   uint32_t nodes, const run_options& o) {
  std::vector<step_result> out;
  for (size_t i = 0; i < sc.steps.size(); ++i) {
    auto& st = sc.steps[i];
    step_result r;
    r.step = std::string(to_string(st.kind));
    r.label = r.step + (st.kind == step_kind::messaging && st.from_node ? "_between_nodes" : "")
              + (st.kind == step_kind::messaging && st.one_way ? "_one_way"
                 : st.kind == step_kind::vector_search && st.batch == 1 ? "_one_query" : "");
    if (is_node_step(st.kind))
      r.label = std::string(st.kind == step_kind::kill_node ? "kill" : "restart") + " node-" + std::to_string(st.node);
    r.nodes = nodes;
    r.batch = st.batch;
    r.window = st.window;
    // Before the watch: the wait for the graphs and the passes that choose ef are not the search's.
    uint32_t ef = 0;
    if (st.kind == step_kind::vector_search) {
      r.index_wait_s = wait_indexed(s, st.collection, o);
      ef = choose_ef(s, st, w[i], w[w[i].base_step], o.metric, o);
    }
    // A node step's figures would be the restart's, not work's: not watched.
    std::optional<resource_watch> watch;
    if (!is_node_step(st.kind))
      watch.emplace(o.node_pids ? o.node_pids() : std::vector<int>{});
    switch (st.kind) {
      case step_kind::text_processing:
      case step_kind::embedding: r.count = w[i].texts.size(); run_tasks(s, st, w[i], o, r); break;
      case step_kind::ingest: r.count = w[i].texts.size(); run_ingest(s, st, w[i], o, r); break;
      case step_kind::vector_store: r.count = w[i].rows; run_store(s, st, w[i], o, r); break;
      case step_kind::vector_search: {
        r.count = w[i].rows;
        run_search(s, st, w[i], w[w[i].base_step], o.metric, ef, o, r);
        break;
      }
      case step_kind::messaging:
        r.count = st.count;
        (st.from_node ? run_messaging_from_node : run_messaging)(s, st, w[i], o, r);
        break;
      case step_kind::kill_node:
      case step_kind::restart_node:
        r.count = 1;
        if (!o.node_control) {
          r.error = "needs a cluster that bench starts (topology.nodes), not an embedded node or --peer";
          r.errors = 1;
          break;
        }
        try {
          r.seconds = o.node_control(st.kind, st.node);
          r.done = 1;
        } catch (const std::exception& e) {
          r.error = e.what();
          r.errors = 1;
        }
        break;
    }
    if (watch)
      watch->fill(r);
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace p2p::bench
