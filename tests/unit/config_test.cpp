#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "config/json_position.hpp"
#include "config/node_config.hpp"

using namespace p2p;

namespace {

std::string error_of(const std::string& json) {
  node_config cfg;
  return parse_config(json, cfg).message;
}

} // namespace

TEST_CASE("an empty object is a valid config with every default") {
  node_config cfg;
  REQUIRE_FALSE(parse_config("{}", cfg));
  CHECK(cfg.id == "node-1");
  CHECK(cfg.port == 7401);
  CHECK(cfg.dim == 512);
  CHECK(cfg.metric == metric_kind::cosine);
  CHECK(cfg.shards == 4);
  CHECK(cfg.hnsw.m == 16);
  CHECK(cfg.hnsw.ef_construction == 200);
  CHECK(cfg.hnsw.ef_search == 64);
  CHECK(cfg.durability == durability_mode::wal);
  CHECK(cfg.metrics_port == 0);
}

TEST_CASE("every field of the design's example config is read") {
  node_config cfg;
  auto err = parse_config(R"({
    "node": {"id": "node-7", "host": "127.0.0.2", "port": 7409, "data_dir": "/tmp/x"},
    "cluster": {"name": "prod-eu.1", "bootstrap": ["127.0.0.1:7400"], "gossip_interval_ms": 250, "heartbeat_ms": 100, "failure_timeout_ms": 900},
    "runtime": {"scheduler_threads": 3, "scheduler_policy": "stealing", "workers": 5},
    "agents": [{"name": "a", "capabilities": ["embedding"]}],
    "vectors": {"dim": 128, "metric": "l2", "shards": 2, "index_threads": 2, "hnsw": {"m": 8, "ef_construction": 50, "ef_search": 20}},
    "tasks": {"default_timeout_ms": 1000, "max_retries": 1, "queue_limit": 10},
    "storage": {"durability": "fsync"},
    "metrics": {"port": 9100},
    "security": {"insecure_plaintext": true}})",
                          cfg);
  REQUIRE_MESSAGE(!err, err.message);
  CHECK(cfg.id == "node-7");
  CHECK(cfg.host == "127.0.0.2");
  CHECK(cfg.port == 7409);
  CHECK(cfg.data_dir == "/tmp/x");
  CHECK(cfg.bootstrap == std::vector<std::string>{"127.0.0.1:7400"});
  CHECK(cfg.gossip_interval_ms == 250);
  CHECK(cfg.failure_timeout_ms == 900);
  CHECK(cfg.scheduler_threads == 3);
  CHECK(cfg.scheduler_policy == "stealing");
  CHECK(cfg.workers == 5);
  REQUIRE(cfg.agents.size() == 1);
  CHECK(cfg.agents[0].capabilities == std::vector<std::string>{"embedding"});
  CHECK(cfg.dim == 128);
  CHECK(cfg.metric == metric_kind::l2);
  CHECK(cfg.shards == 2);
  CHECK(cfg.index_threads == 2);
  CHECK(cfg.graph_threads() == 2);
  CHECK(cfg.hnsw.m == 8);
  CHECK(cfg.hnsw.ef_construction == 50);
  CHECK(cfg.hnsw.ef_search == 20);
  CHECK(cfg.default_timeout_ms == 1000);
  CHECK(cfg.max_retries == 1);
  CHECK(cfg.queue_limit == 10);
  CHECK(cfg.durability == durability_mode::fsync);
  CHECK(cfg.metrics_port == 9100);
  CHECK(cfg.cluster_name == "prod-eu.1");
  CHECK(cfg.insecure_plaintext);
}

TEST_CASE("a cluster name is 1 to 64 plain characters, and the default is \"default\"") {
  node_config cfg;
  REQUIRE_FALSE(parse_config("{}", cfg));
  CHECK(cfg.cluster_name == "default");
  CHECK_FALSE(cfg.insecure_plaintext);
  auto err = parse_config(R"({"cluster": {"name": "a b"}})", cfg);
  CHECK(err.message == "config: cluster.name: expected 1 to 64 letters, digits, '.', '_' or '-', got \"a b\"");
  CHECK(parse_config(R"({"cluster": {"name": ""}})", cfg).message == "config: cluster.name: expected a non-empty string");
  CHECK(parse_config(R"({"security": {"insecure_plaintext": "yes"}})", cfg).message.find("security.insecure_plaintext")
        != std::string::npos);
}

TEST_CASE("a node without TLS serves loopback only unless security.insecure_plaintext is true") {
  for (auto host : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) {
    CAPTURE(host);
    CHECK(is_loopback(host));
  }
  for (auto host : {"0.0.0.0", "10.0.0.5", "127.0.0", "127.0.0.256", "127.0.0.1.5", "1270.0.0.1", "example.org", ""}) {
    CAPTURE(host);
    CHECK_FALSE(is_loopback(host));
  }
  node_config cfg;
  CHECK_FALSE(serving_rules(cfg));
  cfg.host = "0.0.0.0";
  auto err = serving_rules(cfg);
  CHECK(err.message.find("node.host: \"0.0.0.0\" is not a loopback address") != std::string::npos);
  CHECK(err.message.find("security.insecure_plaintext") != std::string::npos);
  cfg.insecure_plaintext = true;
  CHECK_FALSE(serving_rules(cfg));
}

TEST_CASE("security.tls takes all three files or none, each readable, and lets a node serve a non-loopback host") {
  auto dir = std::filesystem::temp_directory_path() / "p2p-config-tls";
  std::filesystem::create_directories(dir);
  for (auto f : {"ca.pem", "node.pem", "node.key"})
    std::ofstream(dir / f) << "-----BEGIN-----\n";
  auto d = dir.string();
  node_config cfg;
  REQUIRE_FALSE(parse_config(R"({"node": {"host": "10.0.0.5"}, "security": {"tls": {"ca": ")" + d + R"(/ca.pem", "certificate": ")"
                               + d + R"(/node.pem", "key": ")" + d + R"(/node.key"}}})",
                             cfg));
  CHECK(cfg.tls());
  CHECK(cfg.tls_ca == d + "/ca.pem");
  CHECK_FALSE(serving_rules(cfg)); // TLS: a non-loopback host needs no insecure_plaintext
  auto partial = cfg;
  partial.tls_key.clear();
  CHECK(serving_rules(partial).message.find("security.tls.key: required") != std::string::npos);
  auto missing = cfg;
  missing.tls_ca = d + "/nope.pem";
  CHECK(serving_rules(missing).message.find("security.tls.ca: cannot read '" + d + "/nope.pem'") != std::string::npos);
  CHECK(error_of(R"({"security": {"tls": {"cert": "x"}}})").find("unknown key 'security.tls.cert'") != std::string::npos);
  node_config client;
  use_client_tls_dir(client, d);
  CHECK(client.tls_certificate == d + "/client.pem");
  CHECK(check_tls_files(client).message.find("security.tls.certificate: cannot read") != std::string::npos);
}

TEST_CASE("an unknown key is refused with its full path") {
  CHECK(error_of(R"({"node": {"idd": "x"}})").find("unknown key 'node.idd'") != std::string::npos);
  CHECK(error_of(R"({"vector": {}})").find("unknown key 'vector'") != std::string::npos);
  CHECK(error_of(R"({"vectors": {"hnsw": {"M": 4}}})").find("unknown key 'vectors.hnsw.M'") != std::string::npos);
}

TEST_CASE("a wrong type is refused naming the key and the expected type") {
  CHECK(error_of(R"({"node": {"port": "7401"}})")
        == "config: node.port: expected an integer from 0 to 65535, got a string");
  CHECK(error_of(R"({"vectors": {"metric": 3}})") == "config: vectors.metric: expected a string, got an integer");
  CHECK(error_of(R"({"cluster": {"bootstrap": "127.0.0.1:1"}})")
        == "config: cluster.bootstrap: expected an array of strings, got a string");
  CHECK(error_of(R"({"vectors": 5})") == "config: vectors: expected an object, got an integer");
  CHECK(error_of(R"({"vectors": {"dim": 1.5}})").find("vectors.dim: expected an integer") != std::string::npos);
}

TEST_CASE("an out-of-range value is refused naming the key and the range") {
  CHECK(error_of(R"({"vectors": {"dim": 0}})") == "config: vectors.dim: expected an integer from 1 to 65536, got 0");
  CHECK(error_of(R"({"node": {"port": 70000}})")
        == "config: node.port: expected an integer from 0 to 65535, got 70000");
  CHECK(error_of(R"({"vectors": {"shards": -1}})").find("vectors.shards") != std::string::npos);
  CHECK(error_of(R"({"vectors": {"index_threads": 257}})")
        == "config: vectors.index_threads: expected an integer from 0 to 256, got 257");
  CHECK(error_of(R"({"vectors": {"metric": "hamming"}})")
        == "config: vectors.metric: expected \"cosine\", \"ip\" or \"l2\", got \"hamming\"");
  CHECK(error_of(R"({"storage": {"durability": "none"}})").find("storage.durability") != std::string::npos);
  CHECK(error_of(R"({"cluster": {"bootstrap": ["nohost"]}})")
        == "config: cluster.bootstrap[0]: expected HOST:PORT, got 'nohost'");
  CHECK(error_of(R"({"cluster": {"heartbeat_ms": 2000, "failure_timeout_ms": 1000}})")
          .find("cluster.failure_timeout_ms") != std::string::npos);
}

TEST_CASE("a document that is not JSON is refused") {
  CHECK(error_of("{\"node\": ").find("config: not valid JSON") == 0);
  CHECK(error_of("[1, 2]") == "config: (top level): expected an object, got an array");
}

TEST_CASE("a config file that cannot be read is named") {
  node_config cfg;
  auto err = load_config_file("/nonexistent/p2p.json", cfg);
  CHECK(err.message == "config: cannot read '/nonexistent/p2p.json'");
}

TEST_CASE("addresses parse as HOST:PORT") {
  std::string host;
  uint16_t port = 0;
  CHECK(parse_address("127.0.0.1:7401", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 7401);
  CHECK_FALSE(parse_address("127.0.0.1", host, port));
  CHECK_FALSE(parse_address(":80", host, port));
  CHECK_FALSE(parse_address("h:99999", host, port));
  CHECK_FALSE(parse_address("h:8x", host, port));
}

TEST_CASE("every example config in config/examples parses") {
  size_t seen = 0;
  for (auto& entry : std::filesystem::directory_iterator(P2P_SOURCE_DIR "/config/examples")) {
    node_config cfg;
    auto err = load_config_file(entry.path().string(), cfg);
    CHECK_MESSAGE(!err, err.message);
    ++seen;
  }
  CHECK(seen >= 3);
}

TEST_CASE("a JSON syntax error in a config is placed by line and column") {
  node_config cfg;
  auto err = parse_config("{\n  \"node\": {\"id\": \"a\"}\n  \"vectors\": {}\n}", cfg); // missing comma
  CHECK(err.message.rfind("config: not valid JSON at line 3, column 3: ", 0) == 0);
  err = parse_config("{\"node\": {\"port\": 74O1}}", cfg);
  CHECK(err.message.rfind("config: not valid JSON at line 1, column 21: ", 0) == 0);
  err = parse_config("{\"a\": [1, 2", cfg);
  CHECK(err.message.rfind("config: not valid JSON at line 1, column 12: ", 0) == 0);
  CHECK(json_error_offset(R"({"a": [1, 2.5e-3, "x\"y", true, null, {}]})") == std::string_view::npos);
  CHECK(json_error_offset("{} x") == 3);
  CHECK(json_error_offset("[01]") == 2);
  CHECK(json_error_offset("\"\\q\"") == 2);
}
