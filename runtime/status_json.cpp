#include "runtime/status_json.hpp"

#include <cmath>

#include "core/json_writer.hpp"
#include "runtime/metrics_text.hpp"
#include "tasks/task.hpp"

namespace p2p {

void write_latency(json_writer& w, const latency_histogram& h) {
  auto ms = [&](double s) -> json_writer& { return std::isinf(s) ? w.raw("null") : w.value(s * 1000); };
  w.begin_object().field("count", h.count).key("mean_ms");
  ms(h.count ? h.sum_s / double(h.count) : 0);
  w.key("p50_le_ms");
  ms(histogram_quantile(h, 0.5));
  w.key("p99_le_ms");
  ms(histogram_quantile(h, 0.99));
  w.end_object();
}

void write_collection(json_writer& w, const collection_info& c) {
  w.begin_object()
    .field("name", c.name)
    .field("dim", c.dim)
    .field("metric", c.metric)
    .field("count", c.count)
    .field("pending", c.pending)
    .field("tombstones", c.tombstones)
    .field("under_replicated_shards", c.under_replicated)
    .end_object();
}

std::string status_json(const node_metrics& m, bool embedded) {
  auto& s = m.status;
  auto& by_type = m.tasks;
  json_writer w;
  w.begin_object()
    .field("id", s.id)
    .field("address", s.address)
    .field("embedded", embedded)
    .field("data_dir", s.data_dir)
    .field("protocol", s.protocol)
    .field("uptime_ms", s.uptime_ms)
    .field("shards", s.shards)
    .field("rss_bytes", s.rss_bytes)
    .key("index_threads")
    .begin_object()
    .field("limit", s.index_threads)
    .field("busy", s.index_threads_busy)
    .field("shards_waiting", s.index_shards_waiting)
    .end_object()
    .key("collections")
    .begin_array();
  for (auto& c : s.collections)
    write_collection(w, c);
  w.end_array().key("peers").begin_array();
  for (auto& p : s.members)
    w.begin_object().field("id", p.id).field("address", p.address).field("state", p.state).end_object();
  w.end_array().key("tasks").begin_object();
  for (size_t i = 0; i < s.task_counts.size(); ++i)
    w.field(to_string(task_state(i)), s.task_counts[i]);
  w.end_object().key("tasks_by_type").begin_object();
  for (size_t t = 0; t < by_type.types.size(); ++t) {
    w.key(by_type.types[t]).begin_object();
    for (size_t i = 0; i < task_state_count; ++i)
      w.field(to_string(task_state(i)), by_type.counts[t * task_state_count + i]);
    w.end_object();
  }
  w.end_object().key("tasks_in_flight").begin_object();
  for (size_t i = 0; i < by_type.executors.size() && i < by_type.in_flight.size(); ++i)
    w.field(by_type.executors[i], by_type.in_flight[i]);
  w.end_object().key("task_latency");
  write_latency(w, by_type.latency);
  w.key("search_latency");
  write_latency(w, m.search_latency);
  w.key("messages").begin_object().field("received", m.messages_in).field("sent", m.messages_out).end_object();
  w.key("mailboxes").begin_object();
  for (size_t i = 0; i < m.mailbox_names.size() && i < m.mailbox_sizes.size(); ++i)
    w.field(m.mailbox_names[i], m.mailbox_sizes[i]);
  w.end_object().key("late").begin_array();
  for (auto& part : s.late)
    w.value(part);
  w.end_array().end_object();
  return w.take();
}

std::string peers_json(const std::vector<member_info>& members) {
  json_writer w;
  w.begin_object().key("peers").begin_array();
  for (size_t i = 0; i < members.size(); ++i) {
    auto& m = members[i];
    w.begin_object().field("id", m.id).field("address", m.address).field("state", m.state).field("self", i == 0);
    w.key("capabilities").begin_array();
    for (auto& c : m.capabilities)
      w.value(c);
    w.end_array().key("shards").begin_array();
    for (auto s : m.shards)
      w.value(s);
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return w.take();
}

} // namespace p2p
