#pragma once
// A bench scenario: where it runs (embedded, or a loopback cluster of N nodes per run) and the
// steps it measures. Read from JSON with the same strict rules as the node config.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

enum class step_kind : uint8_t {
  text_processing, embedding, vector_store, vector_search, messaging, ingest,
  kill_node,   // SIGKILL node-N of the cluster bench started; timed until node-1 sees it down
  restart_node // start node-N again with its data; timed until it has caught up
};

/// Steps that stop or start a node instead of sending work.
[[nodiscard]] inline bool is_node_step(step_kind k) { return k == step_kind::kill_node || k == step_kind::restart_node; }

[[nodiscard]] std::string_view to_string(step_kind k);
[[nodiscard]] std::optional<step_kind> parse_step_kind(std::string_view s);

struct scenario_step {
  step_kind kind = step_kind::text_processing;
  uint64_t count = 0;  // documents, chunks, vectors, queries or messages
  uint32_t size = 0;   // words per document or chunk, bytes per message, dimensions of a vector (0: default)
  std::string input;   // documents (.jsonl) or vectors (.fvecs/.jsonl); empty: generated
  std::string collection; // default: "bench" ("bench-docs" for ingest)
  uint32_t k = 10;     // vector_search
  uint32_t ef = 0;     // vector_search: 0 = the node's ef_search, or chosen by `recall`
  double recall = 0;   // vector_search without ef: the smallest ef whose raw hnswlib recall@k reaches this
  uint32_t batch = 0;  // items per request (0: the step's default)
  uint32_t window = 0; // requests in flight (0: the step's default)
  bool one_way = false; // messaging
  std::string to;      // messaging: PEER/AGENT (empty: the last peer's "worker")
  bool from_node = false; // messaging: the messages start at the node bench talks to, not at the client
  uint32_t node = 0;   // kill_node, restart_node: node-N (2 or more: node-1 is where bench talks)
};

struct scenario {
  std::string name; // default: the file's stem
  std::string description;
  std::vector<uint32_t> nodes; // node counts, one run each; empty: one embedded node
  std::string topology = "star";
  uint32_t replicas = 0; // copies of every vector (cluster.replication_factor); 0: the nodes' default
  uint64_t seed = 42;
  std::vector<scenario_step> steps;
};

/// Parses a scenario; relative input paths are resolved against `base_dir`, and every input must
/// exist. Empty on success, else one line naming the key path ("scenario: steps[1].count: ...").
[[nodiscard]] std::string parse_scenario(std::string_view json, const std::string& base_dir, scenario& out);

/// Reads a scenario file; a missing file or bad JSON is named in the error.
[[nodiscard]] std::string load_scenario_file(const std::string& path, scenario& out);

} // namespace p2p
