#pragma once
// `p2p-agent bench`: the data of each step, the raw-library baselines, the steps run against a
// node, and the report (JSON of DESIGN.md §6 and a table beside the guide and the baselines).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/node_config.hpp"
#include "perf/harness/scenario.hpp"

namespace p2p {
class node_session;
}

namespace p2p::bench {

/// What one step sends, made once per bench run so that every node count gets the same work.
struct workload {
  std::vector<std::string> ids;   // documents or chunks (text steps), vector ids (vector_store)
  std::vector<std::string> texts; // documents, chunks, or the message (one entry)
  uint32_t dim = 0;
  std::vector<float> vectors;     // vector_store: base rows; vector_search: the queries
  size_t rows = 0;
  size_t base_step = 0;           // vector_search: the index of the vector_store step searched
  std::vector<double> kth;        // vector_search: exact k-th best similarity of each query
};

/// Makes (or reads from the step's input) the data of every step; exact answers of searches.
std::vector<workload> make_workloads(const scenario& sc, metric_kind metric);

/// The same operation done directly with the library, in this process, in the same run.
struct baseline {
  std::string name;
  double rate_per_s = 0, p50_us = 0, p99_us = 0;
  double recall = -1; // searches only
  uint32_t ef = 0;    // searches: the ef it ran at (chosen by the step's recall when it names one)
};

/// `cfg` is the nodes' config: the baseline gets its threads (`runtime.workers` for text,
/// `runtime.scheduler_threads` for shards, at most the step's window), its `hnsw` parameters and
/// its CAF settings.
baseline measure_baseline(const scenario& sc, size_t step, const std::vector<workload>& w, const node_config& cfg,
                          const std::string& work_dir);

/// The guide's expectation for a step: its floor and ceiling (0 when it sets none).
struct guide_range {
  double low = 0, high = 0;
  const char* unit = "";
};
guide_range guide_for(step_kind k);

/// The efs a search step that names a recall tries, least first, on the raw graph and on the
/// node alike; each keeps the least that reaches the recall.
inline constexpr uint32_t ef_ladder[] = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024};

struct step_result {
  std::string step;
  std::string label; // the step, told apart from others of its type ("messaging_one_way")
  uint32_t nodes = 1;
  uint64_t count = 0;  // items asked for
  uint64_t done = 0;   // items the node acknowledged as done
  uint64_t errors = 0; // items refused or failed
  double seconds = 0, rate_per_s = 0, p50_us = 0, p99_us = 0;
  uint32_t k = 0;
  double recall = -1; // vector_search: recall@k against exact search (ties count as hits)
  uint32_t ef = 0;     // vector_search: the ef the node searched at (0: its ef_search)
  double index_wait_s = 0; // vector_search: time waited before it for the HNSW graphs to take every vector
  uint32_t batch = 0, window = 0;
  baseline raw;
  // What the step cost (perf/harness/steps.cpp, from /proc): CPU seconds of this client process
  // and of the nodes, each node's resident memory sampled every 20 ms (the largest peak; the
  // mean over nodes of each one's mean), and the storage bytes the nodes read and wrote. The
  // nodes' figures are -1 where bench cannot see their processes (--peer); an embedded node's
  // are this process's, its CPU counted once, as the nodes'.
  double client_cpu_s = 0, nodes_cpu_s = -1;
  double peak_rss_mb = -1, mean_rss_mb = -1;
  double read_bytes = -1, write_bytes = -1;
  std::string error; // the first error, if any
  // Over repeats (combine_repeats): the rate, the baseline's rate and their ratio in each repeat;
  // the figures above are then medians over them.
  std::vector<double> run_rates, raw_run_rates, run_ratios, run_seconds;
  double vs_raw = 0; // the median of run_ratios: each repeat's node against its own baseline
};

/// One result per step (and node count) from the results of several repeats of the same runs,
/// in the same order: rate, latencies, recall, index wait and the baseline's figures are medians;
/// the ratio to raw is the median of each repeat's own ratio; done is the fewest any repeat
/// finished, errors the most, error the first seen. Throws if the repeats do not line up.
std::vector<step_result> combine_repeats(const std::vector<std::vector<step_result>>& repeats);

/// The median of `xs` (the mean of the middle two for an even count; 0 when empty).
double median(std::vector<double> xs);

struct run_options {
  unsigned timeout_s = 120;
  // kill_node and restart_node steps: stops or starts node-N of the cluster bench started and
  // returns the seconds until the cluster noticed (dropped it; it caught up). Empty: no cluster
  // (embedded or --peer), and such steps fail.
  std::function<double(step_kind, uint32_t node)> node_control;
  bool progress = false;
  metric_kind metric = metric_kind::cosine; // the nodes' vectors.metric: recall is judged by it
  // The node processes, asked before each step (a restarted node has a new pid); 0 means this
  // process (an embedded node). Empty function: not visible (--peer).
  std::function<std::vector<int>()> node_pids;
};

/// CPU microseconds (client and nodes) per item done, and the cores they kept busy on average;
/// -1 when nothing was done.
double cpu_us_per_item(const step_result& r);
double cores_used(const step_result& r);

/// Runs every step of `sc` against the node of `s` (reached through it: embedded or remote).
std::vector<step_result> run_steps(node_session& s, const scenario& sc, const std::vector<workload>& w,
                                   uint32_t nodes, const run_options& o);

/// Where the steps ran: a node count per loopback cluster started by bench (empty: one
/// embedded node), or a running node reached at `peer` with its cluster's member count.
struct run_target {
  std::vector<uint32_t> node_counts;
  std::string peer;
};

/// The result document of DESIGN.md §6 ("bench --out").
std::string result_json(const scenario& sc, const run_target& where, const std::vector<step_result>& results,
                        uint32_t repeats = 1);

/// The readable table: each figure beside the guide and the raw baseline; per node count when
/// there are several.
std::string result_table(const scenario& sc, const run_target& where, const std::vector<step_result>& results,
                         uint32_t repeats = 1);

double percentile(std::vector<double> xs, double p);

} // namespace p2p::bench
