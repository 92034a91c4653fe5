// p2p-agent bench end to end: a small scenario on an embedded node and on a 2-node loopback
// cluster it starts itself; malformed scenarios refused naming the key.

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>

#include <simdjson.h>

#include "tests/support/data.hpp"
#include "tests/support/process.hpp"

using namespace p2p::test;

namespace {

struct small_step {
  std::string type;
  uint64_t count;
  std::string label; // in the results
  std::string more;  // more keys of the step
};

/// Steps of a small scenario and the count each asks for.
const std::vector<small_step> small_steps = {
  {"text_processing", 200, "text_processing", ""},
  {"embedding", 150, "embedding", ""},
  {"vector_store", 1000, "vector_store", ""},
  {"vector_search", 100, "vector_search", ""},
  {"messaging", 120, "messaging", ""},
  // Sent by node-1 itself (to the last peer's agent, or its own alone) and timed there.
  {"messaging", 300, "messaging_between_nodes_one_way", ", \"from\": \"node\", \"one_way\": true"},
  {"ingest", 80, "ingest", ""}};

std::string small_scenario(const std::string& topology, const std::string& search = "\"k\": 10, \"ef\": 128") {
  std::string steps;
  for (auto& [type, count, label, more] : small_steps)
    steps += std::string(steps.empty() ? "" : ", ") + "{\"type\": \"" + type + "\", \"count\": " + std::to_string(count)
             + (type == "vector_search" ? ", " + search : "") + more + "}";
  return "{\"name\": \"small\", " + topology + "\"steps\": [" + steps + "]}";
}

/// Checks the result document: every field, the counts asked for, recall reported.
void check_results(const std::string& path, uint32_t nodes) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.load(path).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["scenario"]) == "small");
  CHECK(int64_t(doc["nodes"]) == nodes);
  simdjson::dom::array results = doc["results"];
  REQUIRE(results.size() == small_steps.size());
  size_t i = 0;
  for (simdjson::dom::element r : results) {
    auto& [type, count, label, more] = small_steps[i++];
    CAPTURE(label);
    CHECK(std::string_view(r["step"]) == type);
    CHECK(std::string_view(r["label"]) == label);
    CHECK(int64_t(r["nodes"]) == nodes);
    CHECK(uint64_t(int64_t(r["count"])) == count);
    CHECK(uint64_t(int64_t(r["done"])) == count);
    CHECK(int64_t(r["errors"]) == 0);
    CHECK(double(r["seconds"]) > 0);
    CHECK(double(r["rate_per_s"]) > 0);
    CHECK(double(r["p50_us"]) > 0);
    CHECK(double(r["p99_us"]) >= double(r["p50_us"]));
    CHECK(double(r["baseline"]["rate_per_s"]) > 0);
    CHECK(!std::string_view(r["baseline"]["name"]).empty());
    CHECK(r["guide"]["unit"].is_string());
    if (type == "vector_search") {
      CHECK(int64_t(r["k"]) == 10);
      double recall = r["recall_at_k"];
      CHECK(recall >= 0.9);
      CHECK(recall <= 1.0);
      CHECK(double(r["baseline"]["recall_at_k"]) >= 0.9);
    } else {
      CHECK(r["recall_at_k"].error() == simdjson::NO_SUCH_FIELD);
    }
  }
}

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

} // namespace

TEST_CASE("bench runs a small scenario end to end on an embedded node, twice with --repeats 2") {
  auto dir = fresh_dir("bench-embedded");
  auto scenario = write_file(dir + "/small.json", small_scenario(""));
  auto r = run_agent({"bench", "--scenario", scenario, "--out", dir + "/out.json", "--work-dir", dir + "/work",
                      "--repeats", "2"}, dir, 600);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  check_results(dir + "/out.json", 1);
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.load(dir + "/out.json").get(doc) == simdjson::SUCCESS);
    CHECK(int64_t(doc["repeats"]) == 2);
    for (simdjson::dom::element res : doc["results"].get_array()) {
      simdjson::dom::array rates = res["runs_rate_per_s"], raw = res["runs_baseline_rate_per_s"];
      CHECK(rates.size() == 2);
      CHECK(raw.size() == 2);
      for (double x : rates)
        CHECK(x > 0);
    }
  }
  CHECK(r.out.find("medians of 2 repeats") != std::string::npos);
  CHECK(r.err.find("repeat 2/2: 1 node(s): ingest 80") != std::string::npos);
  auto bad = run_agent({"bench", "--scenario", scenario, "--repeats", "0"}, dir, 60);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--repeats: expected 1 to 100, got 0") != std::string::npos);
  CHECK(r.out.find("scenario small: embedded node") != std::string::npos);
  for (auto& step : small_steps)
    CHECK(r.out.find("| " + step.label + " ") != std::string::npos);
  CHECK(r.out.find("\r") == std::string::npos); // no progress line when stdout is not a terminal
  CHECK(r.err.find("\r") == std::string::npos);
}

TEST_CASE("bench --peer runs on a running node and says so, with the node's member count") {
  auto dir = fresh_dir("bench-peer");
  node_process node(dir, "{}");
  // The search names a recall and no ef: the raw graph and the node each search at the least ef
  // of the ladder that reaches it.
  auto scenario = write_file(dir + "/small.json", small_scenario("", "\"k\": 10, \"recall\": 0.95"));
  auto r = run_agent({"bench", "--scenario", scenario, "--peer", node.address(), "--out", dir + "/out.json"}, dir, 600);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  check_results(dir + "/out.json", 1);
  CHECK(r.out.find("scenario small: remote node " + node.address() + " (1 member)") != std::string::npos);
  CHECK(r.out.find("embedded") == std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.load(dir + "/out.json").get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["topology"]) == "remote");
  CHECK(std::string_view(doc["peer"]) == node.address());
  const std::set<int64_t> ladder{10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024};
  for (simdjson::dom::element res : doc["results"].get_array()) {
    if (std::string_view(res["step"]) != "vector_search")
      continue;
    CHECK(double(res["recall_at_k"]) >= 0.95);
    CHECK(double(res["baseline"]["recall_at_k"]) >= 0.95);
    CHECK(ladder.count(int64_t(res["ef"])) == 1);
    CHECK(ladder.count(int64_t(res["baseline"]["ef"])) == 1);
    CHECK(int64_t(res["batch"]) == 32); // a search step's default: 32 queries per request
  }
  CHECK(r.out.find(", ef ") != std::string::npos); // the table shows recall and ef: "0.993, ef 24 (raw ...)"
}

TEST_CASE("bench starts a 2-node cluster with cluster.sh, runs the scenario on it and stops it") {
  auto dir = fresh_dir("bench-cluster");
  auto scenario = write_file(dir + "/small.json", small_scenario(R"("topology": {"nodes": 2, "shape": "star"}, )"));
  auto port = free_ports(2);
  setenv("P2P_AGENT", P2P_AGENT_BIN, 1);
  auto r = run_agent({"bench", "--scenario", scenario, "--out", dir + "/out.json", "--work-dir", dir + "/work",
                      "--base-port", std::to_string(port), "--cluster-script", P2P_SOURCE_DIR "/scripts/cluster.sh"},
                     dir, 600);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  check_results(dir + "/out.json", 2);
  CHECK(r.out.find("scenario small: 2 nodes (star, 127.0.0.1, 2 copies of each vector)") != std::string::npos);
  // What each step cost, read from the two nodes' /proc: the store step used their CPU and
  // memory and wrote to disk.
  CHECK(r.out.find("cost of each step") != std::string::npos);
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.load(dir + "/out.json").get(doc) == simdjson::SUCCESS);
    bool store_seen = false;
    for (simdjson::dom::element step : doc["results"].get_array()) {
      if (std::string_view(step["step"]) != "vector_store")
        continue;
      store_seen = true;
      simdjson::dom::element res = step["resources"];
      CHECK(double(res["nodes_cpu_s"]) > 0);
      CHECK(double(res["cpu_us_per_item"]) > 0);
      CHECK(double(res["peak_rss_mb"]) > 1);
      CHECK(double(res["mean_rss_mb"]) > 1);
      CHECK(double(res["write_bytes_per_item"]) > 0); // the WAL: 2 copies of each vector
    }
    CHECK(store_seen);
  }
  // Both nodes were stopped cleanly after the run.
  CHECK(r.err.find("cluster up: 2 nodes") != std::string::npos);
  CHECK(r.err.find("cluster down: stopped 2 nodes") != std::string::npos);
  for (auto node : {"node-1", "node-2"}) {
    CAPTURE(node);
    std::ifstream log(dir + "/work/cluster-2/" + node + "/node.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    CHECK(text.find("stopped cleanly") != std::string::npos);
  }
}

TEST_CASE("bench kills and restarts a node mid-scenario: with two copies the store and search steps see no error") {
  auto dir = fresh_dir("bench-failover");
  auto scenario = write_file(dir + "/failover.json", R"({"name": "failover", "topology": {"nodes": 3, "replicas": 2},
    "steps": [{"type": "vector_store", "count": 2000, "size": 512},
              {"type": "kill_node", "node": 3},
              {"type": "vector_store", "count": 2000, "size": 512},
              {"type": "vector_search", "count": 100, "ef": 64},
              {"type": "restart_node", "node": 3},
              {"type": "vector_search", "count": 100, "ef": 64}]})");
  auto port = free_ports(3);
  setenv("P2P_AGENT", P2P_AGENT_BIN, 1);
  auto r = run_agent({"bench", "--scenario", scenario, "--out", dir + "/out.json", "--work-dir", dir + "/work",
                      "--base-port", std::to_string(port), "--cluster-script", P2P_SOURCE_DIR "/scripts/cluster.sh"},
                     dir, 600);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.load(dir + "/out.json").get(doc) == simdjson::SUCCESS);
  std::vector<std::string> labels;
  simdjson::dom::array results = doc["results"];
  for (simdjson::dom::element step : results) {
    labels.emplace_back(std::string_view(step["label"]));
    CHECK_MESSAGE(int64_t(step["errors"]) == 0, labels.back());
    if (labels.back() == "kill node-3" || labels.back() == "restart node-3")
      CHECK(double(step["seconds"]) > 0);
    if (labels.back() == "vector_search")
      CHECK(double(step["recall_at_k"]) >= 0.9);
  }
  CHECK(labels == std::vector<std::string>{"vector_store", "kill node-3", "vector_store", "vector_search", "restart node-3",
                                           "vector_search"});
  CHECK(r.out.find("kill node-3") != std::string::npos);
  // node-3 caught up from the others before the last search, and stopped cleanly at the end.
  std::ifstream log(dir + "/work/cluster-3/node-3/node.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(text.find("caught up: pulled") != std::string::npos);
  CHECK(text.find("stopped cleanly") != std::string::npos);
}

TEST_CASE("an installed p2p-agent tells its version and runs a cluster scenario from another directory") {
  auto dir = fresh_dir("install");
  auto prefix = dir + "/prefix";
  auto cmake = run_program({"/usr/bin/cmake", "--install", P2P_BINARY_DIR, "--prefix", prefix}, dir, 120);
  REQUIRE_MESSAGE(cmake.exit_code == 0, cmake.err);
  auto agent = prefix + "/bin/p2p-agent";
  auto version = run_program({agent, "--version"}, "/", 30);
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("p2p-agent ") == 0);
  // bench finds PREFIX/share/p2p-agent/scripts/cluster.sh beside the installed binary, and the
  // script starts that binary's nodes.
  auto scenario = write_file(dir + "/small.json", small_scenario(R"("topology": {"nodes": 2, "shape": "star"}, )"));
  auto port = free_ports(2);
  unsetenv("P2P_AGENT");
  auto r = run_program({agent, "bench", "--scenario", scenario, "--work-dir", dir + "/work", "--base-port",
                        std::to_string(port)},
                       dir, 600);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("scenario small: 2 nodes (star, 127.0.0.1, 2 copies of each vector)") != std::string::npos);
  CHECK(r.err.find("cluster down: stopped 2 nodes") != std::string::npos);
  CHECK(std::ifstream(prefix + "/share/p2p-agent/config/examples/single-node.json").good());
}

TEST_CASE("malformed scenarios are refused with exit 2, naming the key") {
  auto dir = fresh_dir("bench-malformed");
  std::map<std::string, std::string> cases = {
    {R"({"steps": [{"type": "warp", "count": 10}]})", "steps[0].type: unknown step 'warp'"},
    {R"({"steps": [{"type": "embedding", "count": -3}]})", "steps[0].count: expected an integer from 1"},
    {R"({"steps": [{"type": "ingest", "count": 3, "input": "missing.jsonl"}]})", "steps[0].input: no such file"},
    {R"({"steps": [{"type": "embedding", "count": 3, "colour": "red"}]})", "unknown key 'steps[0].colour'"},
  };
  int n = 0;
  for (auto& [json, expected] : cases) {
    auto path = write_file(dir + "/bad" + std::to_string(n++) + ".json", json);
    auto r = run_agent({"bench", "--scenario", path}, dir, 60);
    CAPTURE(json);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(expected) != std::string::npos);
    CHECK(r.err.find(path) != std::string::npos);
  }
  auto r = run_agent({"bench", "--scenario", dir + "/nowhere.json"}, dir, 60);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("cannot read") != std::string::npos);
}
