// The Prometheus text of a node's figures: exact lines, cumulative buckets, escaped labels.

#include <doctest/doctest.h>

#include "runtime/metrics_text.hpp"
#include "tasks/task.hpp"

using namespace p2p;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

} // namespace

TEST_CASE("the Prometheus text carries every figure of the node") {
  node_metrics m;
  m.status.id = "node-1";
  m.status.address = "127.0.0.1:7401";
  m.status.rss_bytes = 123456;
  m.status.members.resize(4);
  m.status.members[3].state = "down";
  m.status.collections.push_back({"docs", 512, "cosine", 40, 2, 5, 3});
  m.tasks.types = {"embedding"};
  m.tasks.counts = {1, 2, 3, 4, 5, 6};
  m.tasks.latency.observe(0.0004);
  m.tasks.latency.observe(0.002);
  m.tasks.latency.observe(100);
  m.tasks.executors = {"local", "node-2"};
  m.tasks.in_flight = {3, 64};
  m.messages_in = 7;
  m.messages_out = 8;
  m.mailbox_names = {"node", "task_manager"};
  m.mailbox_sizes = {0, 9};
  m.status.late = {"collections", "mailbox of vector_router"};
  auto text = prometheus_text(m);
  CHECK(has_line(text, R"(p2p_node_info{id="node-1",address="127.0.0.1:7401",protocol=")"
                         + std::to_string(protocol_version) + R"("} 1)"));
  CHECK(has_line(text, "p2p_resident_memory_bytes 123456"));
  CHECK(has_line(text, "p2p_peers 2")); // connected, itself excluded
  CHECK(has_line(text, "p2p_peers_down 1"));
  CHECK(has_line(text, R"(p2p_tasks{type="embedding",state="queued"} 1)"));
  CHECK(has_line(text, R"(p2p_tasks{type="embedding",state="timed_out"} 6)"));
  CHECK(has_line(text, R"(p2p_tasks_in_flight{executor="local"} 3)"));
  CHECK(has_line(text, R"(p2p_tasks_in_flight{executor="node-2"} 64)"));
  CHECK(has_line(text, R"(p2p_task_latency_seconds_bucket{le="0.00025"} 0)"));
  CHECK(has_line(text, R"(p2p_task_latency_seconds_bucket{le="0.0005"} 1)"));
  CHECK(has_line(text, R"(p2p_task_latency_seconds_bucket{le="0.0025"} 2)"));
  CHECK(has_line(text, R"(p2p_task_latency_seconds_bucket{le="60"} 2)"));
  CHECK(has_line(text, R"(p2p_task_latency_seconds_bucket{le="+Inf"} 3)"));
  CHECK(has_line(text, "p2p_task_latency_seconds_count 3"));
  CHECK(has_line(text, "p2p_messages_received_total 7"));
  CHECK(has_line(text, "p2p_messages_sent_total 8"));
  CHECK(has_line(text, R"(p2p_vectors{collection="docs"} 40)"));
  CHECK(has_line(text, R"(p2p_vectors_pending_index{collection="docs"} 2)"));
  CHECK(has_line(text, R"(p2p_vectors_tombstones{collection="docs"} 5)"));
  CHECK(has_line(text, R"(p2p_vector_shards_under_replicated{collection="docs"} 3)"));
  CHECK(has_line(text, R"(p2p_mailbox_messages{actor="task_manager"} 9)"));
  CHECK(has_line(text, "# TYPE p2p_search_latency_seconds histogram"));
  CHECK(has_line(text, "p2p_search_latency_seconds_count 0"));
  CHECK(has_line(text, "p2p_status_late_parts 2")); // figures from their last answer
}

TEST_CASE("label values are escaped and quantiles come from the buckets") {
  node_metrics m;
  m.status.collections.push_back({"a\"b\\c\nd", 4, "l2", 1, 0, 0, 0});
  CHECK(has_line(prometheus_text(m), R"(p2p_vectors{collection="a\"b\\c\nd"} 1)"));
  latency_histogram h;
  CHECK(histogram_quantile(h, 0.5) == 0);
  for (int i = 0; i < 98; ++i)
    h.observe(0.003);
  h.observe(0.2);
  h.observe(0.2);
  CHECK(histogram_quantile(h, 0.5) == doctest::Approx(0.005));
  CHECK(histogram_quantile(h, 0.99) == doctest::Approx(0.25));
}
