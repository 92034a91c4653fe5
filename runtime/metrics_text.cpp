#include "runtime/metrics_text.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/counters.hpp"
#include "core/errc.hpp"
#include "core/version.hpp"
#include "protocol/wire_guard.hpp"
#include "tasks/task.hpp"

namespace p2p {

namespace {

/// A label value with \, " and newline escaped, as the format requires.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void header(std::ostream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

/// A series of one sample without labels: its HELP and TYPE lines, then the value.
template <class T> void sample(std::ostream& out, const char* name, const char* type, const char* help, const T& value) {
  header(out, name, type, help);
  out << name << " " << value << "\n";
}

void histogram(std::ostream& out, const char* name, const char* help, const latency_histogram& h) {
  header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(latency_bounds_s); ++i) {
    cumulative += i < h.buckets.size() ? h.buckets[i] : 0;
    out << name << "_bucket{le=\"" << number(latency_bounds_s[i]) << "\"} " << cumulative << "\n";
  }
  out << name << "_bucket{le=\"+Inf\"} " << h.count << "\n";
  out << name << "_sum " << number(h.sum_s) << "\n" << name << "_count " << h.count << "\n";
}

} // namespace

double histogram_quantile(const latency_histogram& h, double q) {
  if (h.count == 0)
    return 0;
  auto rank = uint64_t(std::ceil(q * double(h.count)));
  uint64_t seen = 0;
  for (size_t i = 0; i < h.buckets.size(); ++i) {
    seen += h.buckets[i];
    if (seen >= rank && rank > 0)
      return i < std::size(latency_bounds_s) ? latency_bounds_s[i] : std::numeric_limits<double>::infinity();
  }
  return std::numeric_limits<double>::infinity();
}

std::string prometheus_text(const node_metrics& m) {
  std::ostringstream out;
  auto& s = m.status;
  header(out, "p2p_node_info", "gauge", "This node: its id, address and protocol version (value 1).");
  out << "p2p_node_info{id=\"" << label(s.id) << "\",address=\"" << label(s.address) << "\",protocol=\""
      << s.protocol << "\"} 1\n";
  header(out, "p2p_build_info", "gauge", "The p2p-agent build serving this node (value 1).");
  out << "p2p_build_info{version=\"" << label(version) << "\",protocol=\"" << s.protocol << "\"} 1\n";
  sample(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", s.rss_bytes);
  sample(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", number(s.cpu_seconds));
  sample(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", s.start_time_unix);
  sample(out, "p2p_storage_sst_bytes", "gauge", "RocksDB table files on disk, all column families.", s.sst_bytes);
  sample(out, "p2p_storage_pending_compaction_bytes", "gauge", "RocksDB's estimate of the bytes compaction still has to rewrite.", s.pending_compaction_bytes);
  sample(out, "p2p_storage_delayed_write_rate_bytes", "gauge", "While RocksDB slows writes (a write stall), the rate it allows; 0 otherwise.", s.delayed_write_rate);
  sample(out, "p2p_storage_writes_stopped", "gauge", "1 while RocksDB stops writes (a write stall), else 0.", s.writes_stopped);
  sample(out, "p2p_status_late_parts", "gauge", "Parts of this answer whose actor was busy past the deadline (their figures are from their last answer; the status command names them).", uint64_t(s.late.size()));
  sample(out, "p2p_vectors_stored_total", "counter", "Vectors of client puts this node acknowledged (each copy stored elsewhere not counted again).", s.vectors_stored);
  sample(out, "p2p_vectors_deleted_total", "counter", "Client deletes through this node of ids that existed.", s.vectors_deleted);
  header(out, "p2p_errors_total", "counter", "Errors this node raised, by kind (refused requests, unreachable peers, ...).");
  for (size_t code = 1; code < s.errors.size() && code <= size_t(errc::busy); ++code)
    out << "p2p_errors_total{kind=\"" << to_string(errc(code)) << "\"} " << s.errors[code] << "\n";
  header(out, "p2p_gossip_received_total", "counter", "Membership gossip from peers: digests, and member lists sent back where digests differed.");
  out << "p2p_gossip_received_total{kind=\"digest\"} " << counters().gossip_digests.load(std::memory_order_relaxed) << "\n"
      << "p2p_gossip_received_total{kind=\"list\"} " << counters().gossip_lists.load(std::memory_order_relaxed) << "\n";
  auto guard = wire_guard::read_counters(); // this process's BASP port
  sample(out, "p2p_connections_open", "gauge", "Connections accepted on the node's BASP port and open now.", guard.open_connections);
  sample(out, "p2p_connections_refused_total", "counter", "Connections closed at once: security.max_connections were open.", guard.refused_connections);
  sample(out, "p2p_handshake_timeouts_total", "counter", "Connections closed before finishing their handshake (security.handshake_timeout_ms).", guard.handshake_timeouts);
  sample(out, "p2p_frames_refused_total", "counter", "Connections closed for a BASP frame of unknown type, over security.max_message_mb, or not a handshake first.", guard.refused_frames);
  header(out, "p2p_tasks_finished_total", "counter", "Tasks submitted at this node that reached a final state, by type and state.");
  for (size_t t = 0; t < m.tasks.types.size(); ++t)
    for (size_t st = 0; st < task_state_count; ++st)
      if (task_state(st) != task_state::queued && task_state(st) != task_state::running)
        out << "p2p_tasks_finished_total{type=\"" << label(m.tasks.types[t]) << "\",state=\"" << to_string(task_state(st))
            << "\"} " << m.tasks.counts[t * task_state_count + st] << "\n";
  sample(out, "p2p_searches_total", "counter", "Search requests asked of this node (a request may hold many queries).", m.search_latency.count);
  sample(out, "p2p_uptime_seconds", "gauge", "Seconds since the node started.", number(double(s.uptime_ms) / 1000));
  sample(out, "p2p_resident_memory_bytes", "gauge", "Resident set size of the node process.", s.rss_bytes);
  header(out, "p2p_peers", "gauge", "Cluster members this node sees connected, itself excluded.");
  auto alive = alive_members(s.members);
  out << "p2p_peers " << (alive == 0 ? 0 : alive - 1) << "\n";
  sample(out, "p2p_peers_down", "gauge", "Peers dropped without leaving: their vectors are unavailable until they return.", s.members.size() - alive);

  header(out, "p2p_tasks", "gauge", "Tasks submitted at this node, by type and state.");
  for (size_t t = 0; t < m.tasks.types.size(); ++t)
    for (size_t st = 0; st < task_state_count; ++st)
      out << "p2p_tasks{type=\"" << label(m.tasks.types[t]) << "\",state=\"" << to_string(task_state(st)) << "\"} "
          << m.tasks.counts[t * task_state_count + st] << "\n";
  header(out, "p2p_tasks_in_flight", "gauge", "Tasks this node sent to an executor and has no answer for yet: local (its workers) or a peer's id.");
  for (size_t i = 0; i < m.tasks.executors.size() && i < m.tasks.in_flight.size(); ++i)
    out << "p2p_tasks_in_flight{executor=\"" << label(m.tasks.executors[i]) << "\"} " << m.tasks.in_flight[i] << "\n";
  histogram(out, "p2p_task_latency_seconds", "Tasks from submission to their final state.", m.tasks.latency);

  sample(out, "p2p_messages_received_total", "counter", "Agent messages delivered to this node's agents.", m.messages_in);
  sample(out, "p2p_messages_sent_total", "counter", "Agent messages this node sent on to peers.", m.messages_out);

  sample(out, "p2p_index_threads", "gauge", "Index steps (graph building) that may run at once: vectors.index_threads.", uint64_t(s.index_threads));
  sample(out, "p2p_index_threads_busy", "gauge", "Index steps running now.", uint64_t(s.index_threads_busy));
  sample(out, "p2p_index_shards_waiting", "gauge", "Shards with vectors to index that wait for an index thread.", uint64_t(s.index_shards_waiting));
  header(out, "p2p_vectors", "gauge", "Vectors stored in this node's shards, by collection.");
  for (auto& c : s.collections)
    out << "p2p_vectors{collection=\"" << label(c.name) << "\"} " << c.count << "\n";
  header(out, "p2p_vectors_pending_index", "gauge", "Vectors searchable by exact scan, not yet in the HNSW graph.");
  for (auto& c : s.collections)
    out << "p2p_vectors_pending_index{collection=\"" << label(c.name) << "\"} " << c.pending << "\n";
  header(out, "p2p_vectors_tombstones", "gauge", "Deletes remembered in this node's shards, so that no replica brings the id back.");
  for (auto& c : s.collections)
    out << "p2p_vectors_tombstones{collection=\"" << label(c.name) << "\"} " << c.tombstones << "\n";
  header(out, "p2p_vector_shards_under_replicated", "gauge",
         "Virtual shards of the collection with a replica that is down (writes to them catch up on its return).");
  for (auto& c : s.collections)
    out << "p2p_vector_shards_under_replicated{collection=\"" << label(c.name) << "\"} " << c.under_replicated << "\n";
  histogram(out, "p2p_search_latency_seconds", "Searches asked of this node, from request to merged answer.",
            m.search_latency);

  header(out, "p2p_mailbox_messages", "gauge", "Messages waiting in the mailbox of each of this node's actors.");
  for (size_t i = 0; i < m.mailbox_names.size(); ++i)
    out << "p2p_mailbox_messages{actor=\"" << label(m.mailbox_names[i]) << "\"} " << m.mailbox_sizes[i] << "\n";
  return out.str();
}

} // namespace p2p
