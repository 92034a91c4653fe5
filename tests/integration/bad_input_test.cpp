// Bad input against a running node: each gets an error naming the file and row or line, what
// was acknowledged before it stays, and the node keeps serving.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "vectors/vector_io.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

constexpr uint32_t dim = 8;

uint64_t stored_count(const node_process& node, const std::string& dir) {
  auto r = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return parse_status(r.out).count;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

} // namespace

TEST_CASE("bad vector files are refused by file and row, earlier batches stay, the node keeps serving") {
  auto dir = fresh_dir("bad-input");
  node_process node(dir, R"({"vectors": {"dim": 8, "shards": 2}})");
  auto put = [&](const std::string& file) {
    return run_agent({"put", "--peer", node.address(), "--input", dir + "/" + file, "--json"}, dir);
  };

  auto good = random_vectors(2500, dim, 3);
  REQUIRE(write_fvecs(dir + "/good.fvecs", good.data(), 100, dim));
  REQUIRE(put("good.fvecs").exit_code == 0);
  REQUIRE(stored_count(node, dir) == 100);

  { // a truncated row: the batches before it are stored, nothing after it
    REQUIRE(write_fvecs(dir + "/trunc.fvecs", good.data(), 2500, dim));
    std::filesystem::resize_file(dir + "/trunc.fvecs", 2400 * 36 + 10);
    auto r = put("trunc.fvecs");
    CHECK(r.exit_code == 1);
    CHECK(first_line(r.err) == "p2p-agent put: " + dir + "/trunc.fvecs: row 2400: truncated (6 of 32 value bytes) "
                                   "(2400 vectors stored before it)");
    CHECK(json_number(r.out, "stored") == 2400);
    CHECK(stored_count(node, dir) == 2400); // ids 0..99 were replaced, 100..2399 are new
    auto get = run_agent({"get", "--peer", node.address(), "--id", "2399", "--json"}, dir);
    CHECK(get.exit_code == 0);
    CHECK(run_agent({"get", "--peer", node.address(), "--id", "2400"}, dir).exit_code == 1);
  }
  { // NaN and infinity
    auto bad = good;
    bad[1500 * dim + 3] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE(write_fvecs(dir + "/nan.fvecs", bad.data(), 2000, dim));
    auto r = put("nan.fvecs");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(dir + "/nan.fvecs: row 1500: value 3 is NaN") != std::string::npos);
  }
  { // a dimension that is not the collection's
    auto wide = random_vectors(10, 16, 4);
    REQUIRE(write_fvecs(dir + "/wide.fvecs", wide.data(), 10, 16));
    auto r = put("wide.fvecs");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("collection 'default' has dimension 8, got vectors of dimension 16") != std::string::npos);
  }
  { // an invalid JSON line
    std::ofstream(dir + "/bad.jsonl") << R"({"id": "j1", "vector": [1,2,3,4,5,6,7,8]})" "\n"
                                      << R"({"id": "j2", "vector": [1,2,3,4,5,6,7,)" "\n"
                                      << R"({"id": "j3", "vector": [1,2,3,4,5,6,7,8]})" "\n";
    auto r = put("bad.jsonl");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(dir + "/bad.jsonl: line 2: invalid JSON") != std::string::npos);
    CHECK(run_agent({"get", "--peer", node.address(), "--id", "j1"}, dir).exit_code == 0);
    CHECK(run_agent({"get", "--peer", node.address(), "--id", "j3"}, dir).exit_code == 1);
  }
  { // an empty file and a missing file
    std::ofstream(dir + "/empty.fvecs").close();
    auto r = put("empty.fvecs");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(dir + "/empty.fvecs: empty file, no vectors") != std::string::npos);
    r = put("missing.fvecs");
    CHECK(r.exit_code == 1);
    CHECK(first_line(r.err) == "p2p-agent put: " + dir + "/missing.fvecs: no such file");
  }
  { // queries of the wrong dimension, and a search in a collection that does not exist
    auto q = random_vectors(1, 4, 5);
    REQUIRE(write_fvecs(dir + "/q4.fvecs", q.data(), 1, 4));
    auto r = run_agent({"search", "--peer", node.address(), "--input", dir + "/q4.fvecs"}, dir);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("collection 'default' has dimension 8, got queries of dimension 4") != std::string::npos);
    r = run_agent({"search", "--peer", node.address(), "--input", dir + "/good.fvecs", "--collection", "nope"}, dir);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no collection 'nope'") != std::string::npos);
  }

  // After all of it the node still answers, with everything acknowledged in place.
  CHECK(stored_count(node, dir) == 2401);
  auto search = run_agent({"search", "--peer", node.address(), "--input", dir + "/good.fvecs", "--k", "1", "--json"}, dir);
  REQUIRE(search.exit_code == 0);
  auto lines = parse_search(search.out);
  REQUIRE(lines.size() == 100);
  CHECK(lines[42].ids.at(0) == "42");
  CHECK(node.stop() == 0);
}

TEST_CASE("command-line and config mistakes exit 2 with one line naming the problem") {
  auto dir = fresh_dir("bad-usage");
  std::ofstream(dir + "/unknown.json") << R"({"vectors": {"dims": 8}})";
  std::ofstream(dir + "/type.json") << R"({"node": {"port": "x"}})";
  std::ofstream(dir + "/range.json") << R"({"vectors": {"shards": 0}})";
  auto check = [&](std::vector<std::string> args, const std::string& expected) {
    auto r = run_agent(args, dir);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_MESSAGE(r.err.find(expected) != std::string::npos, r.err);
  };
  check({"node", "--config", dir + "/unknown.json"}, "unknown key 'vectors.dims'");
  check({"node", "--config", dir + "/type.json"}, "node.port: expected an integer from 0 to 65535, got a string");
  check({"node", "--config", dir + "/range.json"}, "vectors.shards: expected an integer from 1 to 256, got 0");
  check({"node", "--config", dir + "/none.json"}, "cannot read '" + dir + "/none.json'");
  check({"put", "--frobnicate"}, "unrecognised option '--frobnicate'");
  check({"put"}, "the option '--input' is required but missing");
  check({"search", "--input", "x.fvecs", "--k", "0"}, "--k: expected at least 1");
  check({"search", "--input", "x.fvecs", "--k", "-1"}, "--k: expected a number of 0 or more, got -1");
  check({"search", "--input", "x.fvecs", "--ef=-64"}, "--ef: expected a number of 0 or more, got -64");
  check({"process", "--input", "d.jsonl", "--chunk-size", "-200"}, "--chunk-size: expected a number of 0 or more, got -200");
  check({"node", "--host", "0.0.0.0", "--data-dir", dir + "/d"}, "node.host: \"0.0.0.0\" is not a loopback address");
  check({"get", "--peer", "nohost", "--id", "1"}, "--peer: expected HOST:PORT, got 'nohost'");
  std::ofstream(dir + "/half-tls.json") << R"({"security": {"tls": {"ca": "ca.pem", "certificate": "node.pem"}}})";
  check({"node", "--config", dir + "/half-tls.json"}, "security.tls.key: required");
  check({"status", "--peer", "127.0.0.1:1", "--tls-dir", dir + "/no-tls"}, "--tls-dir " + dir + "/no-tls: config: security.tls.ca: cannot read");
  auto help = run_agent({"put", "--help"}, dir);
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--collection") != std::string::npos);
  for (auto cmd : {"node", "status", "peers", "put", "search", "get", "delete", "leave", "forget", "send", "process",
                   "ingest", "bench"}) {
    CAPTURE(cmd);
    auto h = run_agent({cmd, "--help"}, dir);
    CHECK(h.exit_code == 0);
    CHECK(h.out.find(std::string("usage: p2p-agent ") + cmd) != std::string::npos);
  }
  auto top = run_agent({"bogus"}, dir);
  CHECK(top.exit_code == 2);
  CHECK(top.err.find("unknown command 'bogus'") != std::string::npos);
}

TEST_CASE("a command against a node that is not there fails with exit 1 and the address") {
  auto dir = fresh_dir("no-node");
  auto r = run_agent({"status", "--peer", "127.0.0.1:1"}, dir);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot reach node at 127.0.0.1:1: connection refused or unreachable (is a node running there?)")
        != std::string::npos);
  CHECK(r.err.find("system_error") == std::string::npos);
  // A port that is not a node's (here its /metrics port) is named as such.
  auto port = free_ports(1);
  node_process node(dir, "{}", {"--metrics-port", std::to_string(port)});
  auto wrong = run_agent({"status", "--peer", "127.0.0.1:" + std::to_string(port)}, dir);
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("closed the connection during the handshake (a TLS node and no --tls-dir") != std::string::npos);
  CHECK(node.stop() == 0);
}
