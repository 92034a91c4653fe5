// The bench scenario reader: defaults, and every malformed scenario refused naming the key.

#include <doctest/doctest.h>

#include <fstream>

#include "perf/harness/scenario.hpp"
#include "tests/support/data.hpp"

using namespace p2p;

namespace {

std::string parse_error(const std::string& json, const std::string& base_dir = "") {
  scenario sc;
  return parse_scenario(json, base_dir, sc);
}

} // namespace

TEST_CASE("a scenario gets its topology, its steps and every step's defaults") {
  scenario sc;
  auto err = parse_scenario(R"({"name": "s", "topology": {"nodes": [1, 3], "shape": "mesh", "replicas": 1}, "seed": 9, "steps": [
      {"type": "vector_store", "count": 100},
      {"type": "vector_search", "count": 10, "k": 5, "ef": 40, "batch": 2},
      {"type": "messaging", "count": 3, "one_way": true, "to": "node-2/worker"},
      {"type": "ingest", "count": 4},
      {"type": "messaging", "count": 5, "from": "node"}]})",
                            "", sc);
  REQUIRE(err.empty());
  CHECK(sc.name == "s");
  CHECK(sc.nodes == std::vector<uint32_t>{1, 3});
  CHECK(sc.topology == "mesh");
  CHECK(sc.replicas == 1);
  CHECK(sc.seed == 9);
  REQUIRE(sc.steps.size() == 5);
  CHECK(sc.steps[0].kind == step_kind::vector_store);
  CHECK(sc.steps[0].size == 512);
  CHECK(sc.steps[0].batch == 1000);
  CHECK(sc.steps[0].collection == "bench");
  CHECK(sc.steps[1].k == 5);
  CHECK(sc.steps[1].ef == 40);
  CHECK(sc.steps[1].batch == 2);
  CHECK(sc.steps[2].one_way);
  CHECK(sc.steps[2].to == "node-2/worker");
  CHECK(sc.steps[2].window == 64);
  CHECK(sc.steps[3].collection == "bench-docs");
  CHECK_FALSE(sc.steps[2].from_node); // from the client unless told
  CHECK(sc.steps[4].from_node);
  CHECK(sc.steps[4].window == 1);
}

TEST_CASE("a scenario without a topology runs embedded: no node counts") {
  scenario sc;
  REQUIRE(parse_scenario(R"({"steps": [{"type": "embedding", "count": 1}]})", "", sc).empty());
  CHECK(sc.nodes.empty());
  CHECK(sc.steps[0].size == 128);
}

TEST_CASE("an unknown step type is refused naming the step and the known types") {
  auto err = parse_error(R"({"steps": [{"type": "embedding", "count": 1}, {"type": "teleport", "count": 1}]})");
  CHECK(err.find("steps[1].type") != std::string::npos);
  CHECK(err.find("unknown step 'teleport'") != std::string::npos);
  CHECK(err.find("vector_search") != std::string::npos);
}

TEST_CASE("a negative or zero count is refused naming the key") {
  auto err = parse_error(R"({"steps": [{"type": "embedding", "count": -5}]})");
  CHECK(err.find("steps[0].count") != std::string::npos);
  CHECK(err.find("-5") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "embedding", "count": 0}]})").find("steps[0].count") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "embedding"}]})").find("steps[0].count: required") != std::string::npos);
}

TEST_CASE("a missing input file is refused naming the key and the path") {
  auto err = parse_error(R"({"steps": [{"type": "ingest", "count": 1, "input": "no-such-docs.jsonl"}]})", "/tmp");
  CHECK(err.find("steps[0].input") != std::string::npos);
  CHECK(err.find("/tmp/no-such-docs.jsonl") != std::string::npos);
}

TEST_CASE("an input path is resolved against the scenario's directory") {
  auto dir = test::fresh_dir("scenario-input");
  std::ofstream(dir + "/docs.jsonl") << "{\"id\": \"a\", \"text\": \"b\"}\n";
  scenario sc;
  REQUIRE(parse_scenario(R"({"steps": [{"type": "ingest", "count": 1, "input": "docs.jsonl"}]})", dir, sc).empty());
  CHECK(sc.steps[0].input == dir + "/docs.jsonl");
}

TEST_CASE("unknown keys, bad shapes and a search before any store are refused") {
  CHECK(parse_error(R"({"steps": [{"type": "embedding", "count": 1, "speed": 3}]})").find("unknown key 'steps[0].speed'")
        != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 2, "shape": "ring"}, "steps": [{"type": "embedding", "count": 1}]})")
          .find("topology.shape") != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": [0]}, "steps": [{"type": "embedding", "count": 1}]})")
          .find("topology.nodes[0]") != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 3, "replicas": 0}, "steps": [{"type": "embedding", "count": 1}]})")
          .find("topology.replicas") != std::string::npos);
  CHECK(parse_error(R"({"steps": []})").find("steps") != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 3}, "steps": [{"type": "kill_node"}]})").find("steps[0].node: required")
        != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 3}, "steps": [{"type": "kill_node", "node": 1}]})").find("steps[0].node")
        != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 2}, "steps": [{"type": "restart_node", "node": 3}]})")
          .find("node-3 is not in a cluster of 2 nodes") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "kill_node", "node": 2}]})").find("an embedded run") != std::string::npos);
  CHECK(parse_error(R"({"topology": {"nodes": 3}, "steps": [{"type": "embedding", "count": 1, "node": 2}]})")
          .find("only kill_node and restart_node") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "vector_search", "count": 1}]})").find("needs a vector_store step before it")
        != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "messaging", "count": 1, "to": "nobody"}]})").find("steps[0].to")
        != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "messaging", "count": 4, "batch": 2}]})").find("steps[0].batch")
        != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "messaging", "count": 4, "from": "agent"}]})")
          .find("steps[0].from: expected \"client\"") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "vector_store", "count": 4, "from": "node"}]})")
          .find("only messaging steps say where their messages start") != std::string::npos);
  CHECK(parse_error("{not json").find("not valid JSON") != std::string::npos);
}

TEST_CASE("a search step may name the recall to choose its ef by, between 0 and 1") {
  scenario sc;
  auto err = parse_scenario(R"({"steps": [{"type": "vector_store", "count": 5}, {"type": "vector_search", "count": 5, "recall": 0.99}]})", "", sc);
  REQUIRE_MESSAGE(err.empty(), err);
  CHECK(sc.steps[1].recall == doctest::Approx(0.99));
  CHECK(sc.steps[1].ef == 0);
  CHECK(parse_error(R"({"steps": [{"type": "vector_store", "count": 5}, {"type": "vector_search", "count": 5, "recall": 1.5}]})")
          .find("steps[1].recall: expected a number above 0 and at most 1") != std::string::npos);
  CHECK(parse_error(R"({"steps": [{"type": "vector_store", "count": 5}, {"type": "vector_search", "count": 5, "recall": "high"}]})")
          .find("steps[1].recall") != std::string::npos);
}
