// /metrics of a real node process: answers while the node works, counters move by exactly the
// work done, the text passes promtool where it is installed.

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "vectors/vector_io.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

/// The value of the sample `series` (name with its labels, as printed) or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos)
    return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

std::string scrape(uint16_t port) {
  std::string body;
  REQUIRE(http_get(port, "/metrics", body) == 200);
  return body;
}

} // namespace

TEST_CASE("/metrics answers while a node works and its counters move by exactly the work done") {
  auto dir = fresh_dir("metrics");
  auto port = free_ports(1);
  node_process node(dir, R"({"metrics": {"port": )" + std::to_string(port) + "}}");
  auto before = scrape(port);
  CHECK(sample(before, "p2p_messages_received_total") == 0);
  CHECK(sample(before, "p2p_search_latency_seconds_count") == 0);
  CHECK(sample(before, "p2p_peers") == 0);
  CHECK(sample(before, "p2p_resident_memory_bytes") > 0);
  // Graph building: 2 scheduler threads leave one index thread (vectors.index_threads 0), idle.
  CHECK(sample(before, "p2p_index_threads") == 1);
  CHECK(sample(before, "p2p_index_threads_busy") == 0);
  CHECK(sample(before, "p2p_index_shards_waiting") == 0);

  // A long put: /metrics keeps answering while it runs.
  auto base = embedding_like_vectors(30000, 512, 5);
  REQUIRE(write_fvecs(dir + "/base.fvecs", base.data(), 30000, 512));
  child put({P2P_AGENT_BIN, "put", "--peer", node.address(), "--input", dir + "/base.fvecs"}, dir, "put");
  int answered_while_working = 0;
  for (int i = 0; i < 200 && put.running(); ++i) {
    std::string body;
    bool answered = http_get(port, "/metrics", body) == 200 && body.find("p2p_vectors") != std::string::npos;
    answered_while_working += answered;
    if (answered) { // never more index steps at once than the limit, nor more shards waiting than the rest
      CHECK(sample(body, "p2p_index_threads_busy") <= 1);
      CHECK(sample(body, "p2p_index_shards_waiting") <= 3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(put.wait(300) == 0);
  CHECK(answered_while_working > 0);
  CHECK(sample(scrape(port), R"(p2p_vectors{collection="default"})") == 30000);
  // Once every vector is in its graph, every index thread is given back and no shard waits
  // (a slot kept after its step, or a waiter never woken, would keep these above 0).
  auto idle = [](const std::string& m) {
    return sample(m, R"(p2p_vectors_pending_index{collection="default"})") == 0
           && sample(m, "p2p_index_threads_busy") == 0 && sample(m, "p2p_index_shards_waiting") == 0;
  };
  std::string drained = scrape(port);
  for (int i = 0; i < 600 && !idle(drained); ++i) { // bounded: 60 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    drained = scrape(port);
  }
  CHECK(sample(drained, R"(p2p_vectors_pending_index{collection="default"})") == 0);
  CHECK(sample(drained, "p2p_index_threads_busy") == 0);
  CHECK(sample(drained, "p2p_index_shards_waiting") == 0);

  std::ofstream docs(dir + "/docs.jsonl");
  for (int i = 0; i < 20; ++i)
    docs << "{\"id\": \"d" << i << "\", \"text\": \"document number " << i << " about metrics and counters\"}\n";
  docs.close();
  auto processed = run_agent({"process", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--json"}, dir);
  REQUIRE_MESSAGE(processed.exit_code == 0, processed.err);
  for (int i = 0; i < 7; ++i)
    REQUIRE(run_agent({"send", "--peer", node.address(), "--to", "node-1/worker", "--message", "hi"}, dir).exit_code == 0);
  auto queries = embedding_like_vectors(13, 512, 6);
  REQUIRE(write_fvecs(dir + "/queries.fvecs", queries.data(), 13, 512));
  REQUIRE(run_agent({"search", "--peer", node.address(), "--input", dir + "/queries.fvecs", "--json"}, dir).exit_code == 0);

  auto after = scrape(port);
  CHECK(sample(after, R"(p2p_tasks{type="text_processing",state="completed"})") == 20);
  CHECK(sample(after, R"(p2p_tasks{type="text_processing",state="queued"})") == 0);
  CHECK(sample(after, "p2p_task_latency_seconds_count") == 20);
  CHECK(sample(after, R"(p2p_task_latency_seconds_bucket{le="+Inf"})") == 20);
  CHECK(sample(after, "p2p_messages_received_total") == 7);
  CHECK(sample(after, "p2p_messages_sent_total") == 0); // all to this node's own agent
  CHECK(sample(after, "p2p_search_latency_seconds_count") == 1); // one request of 13 queries
  CHECK(sample(after, R"(p2p_vectors{collection="default"})") == 30000);
  CHECK(sample(after, "p2p_searches_total") == 1);
  CHECK(sample(after, "p2p_vectors_stored_total") == 30000);
  CHECK(sample(after, R"(p2p_tasks_finished_total{type="text_processing",state="completed"})") == 20);
  auto missing_before = sample(after, R"(p2p_errors_total{kind="not_found"})");
  CHECK(missing_before >= 0);
  CHECK(run_agent({"get", "--peer", node.address(), "--id", "no-such-id"}, dir).exit_code == 1);
  CHECK(run_agent({"delete", "--peer", node.address(), "--id", "7"}, dir).exit_code == 0);
  auto later = scrape(port);
  CHECK(sample(later, R"(p2p_errors_total{kind="not_found"})") == missing_before + 1);
  CHECK(sample(later, "p2p_vectors_deleted_total") == 1);
  // The process_* series by the Prometheus conventions, the build and RocksDB's figures.
  CHECK(sample(after, "process_resident_memory_bytes") > 0);
  CHECK(sample(after, "process_cpu_seconds_total") > 0);
  auto now = double(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  CHECK(sample(after, "process_start_time_seconds") > now - 3600);
  CHECK(sample(after, "process_start_time_seconds") <= now);
  CHECK(after.find("\np2p_build_info{version=\"") != std::string::npos);
  CHECK(sample(after, "p2p_storage_sst_bytes") >= 0);
  CHECK(sample(after, "p2p_storage_writes_stopped") == 0);
  // Every local actor's mailbox: the node's children, each shard and each agent.
  for (std::string actor : {"node", "vector_router", "task_manager", "membership", "text_worker-0", "agent-worker",
                            "vector_shard-0", "vector_shard-1", "vector_shard-2", "vector_shard-3"}) {
    CAPTURE(actor);
    CHECK(sample(after, "p2p_mailbox_messages{actor=\"" + actor + "\"}") >= 0);
  }
  CHECK(sample(after, R"(p2p_mailbox_messages{actor="vector_shard-4"})") == -1); // 4 shards, no more

  // status shows the same figures.
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  REQUIRE(status.exit_code == 0);
  CHECK(status.out.find(R"("messages": {"received": 7, "sent": 0})") != std::string::npos);
  CHECK(status.out.find(R"("index_threads": {"limit": 1, "busy": )") != std::string::npos);
  auto text = run_agent({"status", "--peer", node.address()}, dir);
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find(" of 1 index threads building") != std::string::npos);
  CHECK(status.out.find(R"("text_processing": {"queued": 0, "running": 0, "completed": 20,)") != std::string::npos);

  std::string body;
  CHECK(http_get(port, "/elsewhere", body) == 404);

  // promtool on the PATH, or the binary scripts/setup.sh took from Debian's package.
  std::string promtool = std::filesystem::path(P2P_AGENT_BIN).parent_path().string() + "/tools/promtool";
  if (!std::filesystem::exists(promtool))
    promtool = std::system("command -v promtool > /dev/null 2>&1") == 0 ? "promtool" : "";
  if (!promtool.empty()) {
    std::ofstream(dir + "/metrics.txt") << after;
    auto cmd = "'" + promtool + "' check metrics < '" + dir + "/metrics.txt' > '" + dir + "/promtool.out' 2>&1";
    auto why = "promtool check metrics failed: see " + dir + "/promtool.out";
    int rc = std::system(cmd.c_str());
    CHECK_MESSAGE(rc == 0, why);
  } else {
    MESSAGE("promtool is not installed: the Prometheus text format check was skipped");
  }
}

TEST_CASE("a node without metrics.port serves no /metrics, and a taken metrics port stops the node with a clear error") {
  auto dir = fresh_dir("metrics-off");
  auto port = free_ports(1);
  {
    node_process node(dir, "{}");
    std::string body;
    CHECK(http_get(port, "/metrics", body) == 0);
  }
  node_process first(fresh_dir("metrics-off-a"), R"({"metrics": {"port": )" + std::to_string(port) + "}}");
  auto r = run_agent({"node", "--port", "0", "--data-dir", dir + "/second", "--metrics-port", std::to_string(port)}, dir, 60);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("metrics: cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("/healthz says the node answers, /readyz that it serves reads: not before it reached a peer to catch up from") {
  auto ports = free_ports(3); // metrics of two nodes, and a node port nobody serves at first
  auto dir = fresh_dir("metrics-ready");
  for (auto sub : {"/alone", "/waiting", "/peer"})
    std::filesystem::create_directories(dir + sub);
  // Alone and without bootstrap peers: healthy and ready.
  node_process alone(dir + "/alone", R"({"metrics": {"port": )" + std::to_string(ports) + "}}");
  std::string body;
  CHECK(http_get(ports, "/healthz", body) == 200);
  CHECK(body == "ok\n");
  CHECK(http_get(ports, "/readyz", body) == 200);
  CHECK(body == "ready\n");
  // A node whose bootstrap peer is not there yet: healthy, not ready, and it says why.
  auto waiting_cfg = R"({"metrics": {"port": )" + std::to_string(ports + 1) + R"(}, "cluster": {"bootstrap": ["127.0.0.1:)"
                     + std::to_string(ports + 2) + R"("], "gossip_interval_ms": 100}})";
  node_process waiting(dir + "/waiting", waiting_cfg);
  CHECK(http_get(ports + 1, "/healthz", body) == 200);
  CHECK(http_get(ports + 1, "/readyz", body) == 503);
  CHECK_MESSAGE(body.find("not caught up: no peer reached yet") != std::string::npos, body);
  CHECK(http_get(ports + 1, "/nope", body) == 404);
  CHECK(body.find("/healthz, /readyz") != std::string::npos);
  // Its peer comes: it joins, catches up, and is ready (bounded wait).
  std::ofstream(dir + "/peer/config.json") << R"({"node": {"id": "node-2", "port": )" << ports + 2
                                             << R"(, "data_dir": ")" << dir << R"(/peer/data"}})";
  child peer({P2P_AGENT_BIN, "node", "--config", dir + "/peer/config.json"}, dir + "/peer", "node");
  int code = 0;
  for (int i = 0; i < 100 && code != 200; ++i) {
    code = http_get(ports + 1, "/readyz", body);
    if (code != 200)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_MESSAGE(code == 200, body);
  peer.signal(SIGTERM);
  CHECK(peer.wait(60) == 0);
}
