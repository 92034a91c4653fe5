#pragma once
// The node's configuration: the JSON schema of DESIGN.md §6, every field defaulted.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/durability.hpp"
#include "vectors/metric.hpp"

namespace p2p {

struct agent_config {
  std::string name;
  std::vector<std::string> capabilities;
};

struct node_config {
  // node
  std::string id = "node-1";
  std::string host = "127.0.0.1";
  uint16_t port = 7401;
  std::string data_dir = "./p2p-data";
  // cluster
  std::string cluster_name = "default"; // a node joins only a cluster of the same name
  std::vector<std::string> bootstrap;
  uint32_t gossip_interval_ms = 500;
  uint32_t heartbeat_ms = 1000;
  uint32_t failure_timeout_ms = 5000;
  uint32_t replication_factor = 2; // copies of every vector (capped at the member count)
  // runtime
  uint32_t scheduler_threads = 2;
  std::string scheduler_policy = "sharing"; // CAF scheduler: "sharing" or "stealing"
  uint32_t workers = 2;
  // agents
  std::vector<agent_config> agents = {
    {"worker", {"text_processing", "embedding", "vector_store", "vector_search", "messaging"}}};
  // vectors
  uint32_t dim = 512;
  metric_kind metric = metric_kind::cosine;
  uint32_t shards = 4;
  // Scheduler threads that building graphs may take at once; 0: scheduler_threads - 1 (at
  // least 1), so that one is left for messages, puts, searches and tasks.
  uint32_t index_threads = 0;
  hnsw_config hnsw;
  // tasks
  uint32_t default_timeout_ms = 30000;
  uint32_t max_retries = 3;
  uint32_t queue_limit = 100000;
  // storage
  durability_mode durability = durability_mode::wal;
  // metrics
  uint16_t metrics_port = 0;
  uint32_t max_inflight_mb = 256; // puts accepted and not yet acknowledged, per node; past it: busy
  uint16_t http_port = 0;   // the HTTP/JSON API (runtime/http_server.hpp); 0: off
  std::string http_api_key; // when set, every HTTP request but /healthz needs "Authorization: Bearer KEY"
  // security
  bool insecure_plaintext = false; // serve a non-loopback node.host without TLS
  // security.tls: PEM files; all three or none. With them every BASP link (node to node,
  // client to node) is TLS with certificates of the CA `tls_ca` required on both sides.
  std::string tls_ca, tls_certificate, tls_key;
  // Limits on the BASP port (protocol/wire_guard.hpp), with or without TLS.
  uint32_t max_connections = 1024;     // accepted connections open at once; past it new ones are closed
  uint32_t handshake_timeout_ms = 5000; // a connection that has not finished its handshake by then is closed
  uint32_t max_message_mb = 256;       // a BASP frame announcing more closes its connection

  /// index_threads as it applies: 0 means scheduler_threads - 1, at least 1.
  [[nodiscard]] uint32_t graph_threads() const {
    return index_threads > 0 ? index_threads : (scheduler_threads > 1 ? scheduler_threads - 1 : 1);
  }
  [[nodiscard]] bool tls() const { return !tls_ca.empty() || !tls_certificate.empty() || !tls_key.empty(); }
};

/// The outcome of reading a config: empty on success, else one line naming the key path.
struct config_error {
  std::string message;
  explicit operator bool() const { return !message.empty(); }
};

/// Parses a JSON document into `out` (fields absent from the document keep their defaults).
[[nodiscard]] config_error parse_config(std::string_view json, node_config& out);

/// Reads and parses a config file; the error names the file.
[[nodiscard]] config_error load_config_file(const std::string& path, node_config& out);

/// Whether `id` can name a node: 1 to 128 printable ASCII characters, no spaces (it appears in
/// logs, JSON and metric labels).
[[nodiscard]] bool valid_node_id(std::string_view id);

/// Checks a "host:port" address; fills host and port on success.
[[nodiscard]] bool parse_address(std::string_view addr, std::string& host, uint16_t& port);

/// Re-checks cross-field rules after command-line overrides.
[[nodiscard]] config_error validate(const node_config& cfg);

/// The TLS files of a client: DIR/ca.pem, DIR/client.pem and DIR/client.key (what
/// scripts/make-certs.sh writes), into `cfg`.
void use_client_tls_dir(node_config& cfg, const std::string& dir);

/// Checks that security.tls names all three files and that each can be read.
[[nodiscard]] config_error check_tls_files(const node_config& cfg);

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
[[nodiscard]] bool is_loopback(std::string_view host);

/// The rule for a node that serves a port (`p2p-agent node`): without TLS it binds loopback only,
/// unless security.insecure_plaintext is true.
[[nodiscard]] config_error serving_rules(const node_config& cfg);

} // namespace p2p
