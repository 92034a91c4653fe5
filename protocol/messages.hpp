#pragma once
// The message protocol of a node: atoms and message types. Read this first. The actors inside
// a node that nobody reaches from outside (task manager, text workers, vector shards) have typed
// interfaces in protocol/interfaces.hpp, which the compiler checks; the node, router, membership
// and agents, reached across the network, keep dynamic handles and the map below.
//
// Client-facing (sent to the `node` actor, locally or through its published port):
//   (put_atom, vector_batch)                  -> uint64_t stored
//   (search_atom, search_request)             -> search_result
//   (get_atom, string collection, string id)  -> vector_record
//   (delete_atom, string collection, string id) -> bool existed
//   (status_atom)                             -> node_status
//   (metrics_atom)                            -> node_metrics (status plus counters, histograms, mailboxes)
//   (status_atom | metrics_atom, uint32_t deadline_ms) -> the same by the deadline whatever the
//                                                load: the parts still out are their last answers,
//                                                named in node_status::late (0: wait for all)
//   (ingest_atom, document_batch)             -> ingest_result
//   (text_search_atom, text_search_request)   -> search_result (ids are chunk ids DOC#N)
//   (task_atom, task_submission)              -> std::vector<uint64_t> task ids (persisted as queued)
//   (task_wait_atom, std::vector<uint64_t>)   -> task_outcomes, once every task is final
//   (task_submit_wait_atom, task_submission)  -> task_outcomes: submit, then wait for them all (held
//                                                in memory only: the answer acknowledges them)
//   (task_cancel_atom, uint64_t id)           -> bool cancelled
//   (peers_atom)                              -> std::vector<member_info> (this node first)
//   (serving_atom)                            -> std::string: "" when the node serves reads (it has
//                                                caught up with its peers), else why not (/readyz)
//   (send_atom, string to "PEER/AGENT", string from, string text, bool one_way)
//                                             -> string reply JSON from the agent (one-way: the
//                                                node's acknowledgement that it sent it on)
//   (send_atom, to, from, text, one_way, uint64_t count, uint32_t window)
//                                             -> string JSON {"done", "errors", "seconds", "p50_us",
//                                                "p99_us", "error"}: this node sends `count` such
//                                                messages itself, `window` in flight, and times them
// Between nodes and to agents:
//   (deliver_atom, string agent, string from, string text, bool one_way) -> string reply JSON
//                                                (to a node, or to the agent itself; the agent
//                                                answers a one-way message with "")
//   (deliver_atom, string agent)              -> actor: that agent, to send to it directly
//   (lookup_atom, string peer id)             -> actor (that peer's node), membership only
//   (forget_atom, string peer id)             -> std::string what was done: drops a down peer for
//                                                good (its keys go to the others; it may not rejoin
//                                                under that id); passed on once to every member
//   (members_atom, vector<member_info>, vector<actor>) membership -> node -> task_manager: the
//                                             connected peers (without this node) and their nodes
//   (run_task_atom, task_submission)          -> task_outcomes: from a peer's task manager, up to 32
//                                                tasks of one type to run here (states, results,
//                                                errors per payload; ids and attempts empty)
//   (cluster_put_atom, collection_spec, vector_batch) -> uint64_t: store here (rows carry
//                                             versions; one older than what is here is skipped)
//   (cluster_put_atom, collection_spec, batch_rows)  -> the same, from a put's rows (read as a batch)
//   (cluster_delete_atom, collection_spec, id_versions) -> uint64_t how many existed: tombstones
//   (cluster_search_atom, collection_spec, search_request) -> search_result of this node's shards
//   (cluster_get_atom, collection_spec, string id) -> vector_record
// Between nodes (catch-up: a node pulls what its peers hold newer than it does):
//   (sync_specs_atom)                         -> std::vector<collection_spec> held there
//   (sync_digest_atom, string collection)     -> std::vector<uint64_t>: per virtual shard, a digest
//                                                of the (id, version) pairs held here
//   (sync_list_atom, string collection, uint32_t vshard) -> id_versions held here
//   (sync_fetch_atom, string collection, std::vector<string> ids) -> versioned_rows
//   (ready_atom, string node id)              one-way: that node caught up and serves reads
//   (leave_atom)                              runtime to node: hand every vector to the peers,
//                                             then answer true; (leave_atom, string id) between
//                                             nodes: that peer is leaving
// Between nodes (membership):
//   (join_atom, member_info, actor node, std::string cluster)
//                                             -> std::vector<member_info> known members, or an error
//                                                (another cluster name, a taken id, another protocol);
//                                                the 3-element join of protocol 2 gets protocol_mismatch
//                                                (id taken, protocol version)
//   (gossip_atom, uint64_t digest, actor from) one-way, to 3 peers in turn every
//                                                cluster.gossip_interval_ms: a hash of the members
//                                                (id, address) the sender is connected to
//   (gossip_atom, std::vector<member_info>)   one-way, the receiver's members, sent back to
//                                                `from` when its digest differs
// Internal (task_manager -> text_worker):
//   (run_task_atom, task_submission)          -> task_outcomes (results: JSON; an embedding's floats as bytes)
// Internal (router <-> shards):
//   (put_atom, shard_put)                     -> uint64_t stored (same process only)
//   (search_atom, collection_spec, search_request) -> search_result (scores, per query top-k)
//   (mailbox_atom)                            -> uint64_t messages waiting (router to a shard still
//                                                starting: answered once it has loaded). The node
//                                                reads every mailbox from counted<> actors' counts.
//   (index_atom)                              shard to itself: move pending vectors into HNSW
//   (put_retry_atom)                          shard to itself: write the puts a stall held back
//   (sync_tick_atom)                          router to itself: a scheduled catch-up round begins
//   (anti_entropy_atom)                       router to itself, every 30 s: a catch-up round with
//                                                every peer (equal digests cost one message each)
//   (bound_atom, uint16_t port)               runtime to node: the port it was published on
//   (control_deadline_atom, uint64_t id)      node to itself: a status or metrics answer is due
// Failures come back as caf::error values of category "p2p" (protocol/errors.hpp): a p2p::errc
// code and one line naming the problem.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "protocol/errors.hpp"

namespace p2p {

using put_atom = caf::atom_constant<caf::atom("v_put")>;
using search_atom = caf::atom_constant<caf::atom("v_search")>;
using get_atom = caf::atom_constant<caf::atom("v_get")>;
using delete_atom = caf::atom_constant<caf::atom("v_delete")>;
using status_atom = caf::atom_constant<caf::atom("n_status")>;
using stats_atom = caf::atom_constant<caf::atom("s_stats")>;
using index_atom = caf::atom_constant<caf::atom("s_index")>;
/// Shard to itself: try again the puts whose writes RocksDB would have held back.
using put_retry_atom = caf::atom_constant<caf::atom("s_retry")>;
using bound_atom = caf::atom_constant<caf::atom("n_bound")>;
using ingest_atom = caf::atom_constant<caf::atom("t_ingest")>;
using text_search_atom = caf::atom_constant<caf::atom("t_search")>;
using task_atom = caf::atom_constant<caf::atom("k_submit")>;
using task_wait_atom = caf::atom_constant<caf::atom("k_wait")>;
using task_submit_wait_atom = caf::atom_constant<caf::atom("k_subwait")>;
using task_cancel_atom = caf::atom_constant<caf::atom("k_cancel")>;
using run_task_atom = caf::atom_constant<caf::atom("k_run")>;
using peers_atom = caf::atom_constant<caf::atom("m_peers")>;
using join_atom = caf::atom_constant<caf::atom("m_join")>;
using gossip_atom = caf::atom_constant<caf::atom("m_gossip")>;
using lookup_atom = caf::atom_constant<caf::atom("m_lookup")>;
using forget_atom = caf::atom_constant<caf::atom("m_forget")>;
using members_atom = caf::atom_constant<caf::atom("m_members")>;
using leave_atom = caf::atom_constant<caf::atom("m_leave")>;
using cluster_put_atom = caf::atom_constant<caf::atom("c_put")>;
using cluster_search_atom = caf::atom_constant<caf::atom("c_search")>;
using cluster_get_atom = caf::atom_constant<caf::atom("c_get")>;
using cluster_delete_atom = caf::atom_constant<caf::atom("c_delete")>;
using handoff_atom = caf::atom_constant<caf::atom("s_handoff")>;
using drop_atom = caf::atom_constant<caf::atom("s_drop")>;
using send_atom = caf::atom_constant<caf::atom("a_send")>;
using deliver_atom = caf::atom_constant<caf::atom("a_deliver")>;
using metrics_atom = caf::atom_constant<caf::atom("n_metrics")>;
using mailbox_atom = caf::atom_constant<caf::atom("n_mailbox")>;
using sync_specs_atom = caf::atom_constant<caf::atom("y_specs")>;
using sync_digest_atom = caf::atom_constant<caf::atom("y_digest")>;
using sync_list_atom = caf::atom_constant<caf::atom("y_list")>;
using sync_fetch_atom = caf::atom_constant<caf::atom("y_fetch")>;
using ready_atom = caf::atom_constant<caf::atom("y_ready")>;
using sync_tick_atom = caf::atom_constant<caf::atom("y_tick")>;
using anti_entropy_atom = caf::atom_constant<caf::atom("y_entropy")>;
using serving_atom = caf::atom_constant<caf::atom("n_serving")>;
/// Index every pending vector now and save the graphs; answered with the vectors indexed.
using graph_save_atom = caf::atom_constant<caf::atom("s_gsave")>;
/// Collections: create (a spec), drop (a name), on the node asked and then every live peer
/// (cluster_*: one node telling another); vshard_counts: per collection, the live vectors of
/// each virtual shard here (for a cluster-wide count without the replicas counted twice).
using collection_create_atom = caf::atom_constant<caf::atom("c_create")>;
using collection_drop_atom = caf::atom_constant<caf::atom("c_drop")>;
using collection_list_atom = caf::atom_constant<caf::atom("c_list")>;
using cluster_collection_create_atom = caf::atom_constant<caf::atom("c_ccreate")>;
using cluster_collection_drop_atom = caf::atom_constant<caf::atom("c_cdrop")>;
using vshard_counts_atom = caf::atom_constant<caf::atom("c_vcounts")>;
/// A consistent copy of the node's data dir (database checkpoint and saved graphs) in a new
/// directory on the node's host; answered with a summary.
using snapshot_atom = caf::atom_constant<caf::atom("n_snap")>;
/// Node to itself, with high priority: the control deadline of a status or metrics answer has
/// passed; the parts that have not answered are taken from their last answers.
using control_deadline_atom = caf::atom_constant<caf::atom("n_deadline")>;

/// Requests about the node itself (status, metrics, peers, readiness): clients send them with
/// high priority, so that a node takes them before the data requests waiting in its mailbox, and
/// the node asks its actors for their parts the same way.
template <class T, class... Ts>
constexpr bool is_control_request =
  std::is_same_v<std::decay_t<T>, status_atom> || std::is_same_v<std::decay_t<T>, metrics_atom>
  || std::is_same_v<std::decay_t<T>, peers_atom> || std::is_same_v<std::decay_t<T>, serving_atom>;

/// Protocol version; a peer speaking another one is refused (checked on connect).
// 2: one message shape per atom (text_search, submit_wait); 3: join names the cluster, a search
// result names the shards it could not reach; 4: replicas, versioned writes, catch-up;
// 5: collections, saved graphs; 6: gossip sends a digest, the member list only to a node whose
// digest differs; 7: an embedding task's result is its floats as bytes, not JSON text (a peer of
// 6 would hand back text that `embed` cannot read); 8: (deliver_atom, agent) hands out an agent's
// handle, and a node sends its own runs of messages straight to the peer's agent; 9: tasks travel
// to a peer in batches, (run_task_atom, task_submission) -> task_outcomes; 10: a put's rows go to
// a peer as (cluster_put_atom, collection_spec, batch_rows), written from the batch they came in.
constexpr uint32_t protocol_version = 11;

/// Numbers that travel as one raw block (floats of vectors, flags). CAF 0.17 serialises a
/// std::vector<float> value by value (measured: 44 % of a client's CPU on a remote put); a block
/// is one memcpy. And CAF sizes a std::vector<uint8_t> from the count on the wire before checking
/// it against the message (a forged count is a 4 GB allocation or an exception that kills the
/// BASP broker); a block never allocates more than the message still holds. Peers are assumed to
/// share the host's number layout (IEEE 754, little-endian on every supported host).
template <class T>
struct block_vector : std::vector<T> {
  using std::vector<T>::vector;
  block_vector() = default;
  block_vector(std::vector<T>&& v) : std::vector<T>(std::move(v)) {}
};
using float_vector = block_vector<float>;
using byte_vector = block_vector<uint8_t>;

/// Reads T values from bytes at any alignment, for std::vector::assign: the values are copied
/// once, without the zero-filling of resize() first (7 % of a node's CPU under puts,
/// perf/README, thirteenth session).
template <class T>
struct unaligned_values {
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;
  const char* at;
  T operator*() const {
    T v;
    std::memcpy(&v, at, sizeof v);
    return v;
  }
  unaligned_values& operator++() {
    at += sizeof(T);
    return *this;
  }
  unaligned_values operator++(int) {
    auto old = *this;
    at += sizeof(T);
    return old;
  }
  unaligned_values& operator--() {
    at -= sizeof(T);
    return *this;
  }
  unaligned_values& operator+=(difference_type k) {
    at += k * difference_type(sizeof(T));
    return *this;
  }
  unaligned_values operator+(difference_type k) const { return unaligned_values{at + k * difference_type(sizeof(T))}; }
  T operator[](difference_type k) const { return *(*this + k); }
  difference_type operator-(const unaligned_values& o) const { return (at - o.at) / difference_type(sizeof(T)); }
  bool operator<(const unaligned_values& o) const { return at < o.at; }
  bool operator==(const unaligned_values& o) const { return at == o.at; }
  bool operator!=(const unaligned_values& o) const { return at != o.at; }
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, block_vector<T>& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    size_t n = x.size();
    return caf::error::eval([&] { return f.begin_sequence(n); },
                            [&] { return n ? f.apply_raw(n * sizeof(T), x.data()) : caf::error{}; },
                            [&] { return f.end_sequence(); });
  } else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    size_t n = 0;
    return caf::error::eval([&] { return f.begin_sequence(n); },
                            [&] {
                              // The count comes from the wire: never allocate more than the
                              // message still holds. Other deserializers (none in BASP) get a
                              // fixed bound.
                              auto* bytes = dynamic_cast<caf::binary_deserializer*>(&f);
                              if (n > (bytes ? bytes->remaining() / sizeof(T) : size_t(1) << 26))
                                return caf::make_error(caf::sec::end_of_stream);
                              if (bytes) {
                                auto first = reinterpret_cast<const char*>(bytes->remainder().data());
                                x.assign(unaligned_values<T>{first}, unaligned_values<T>{first + n * sizeof(T)});
                                bytes->skip(n * sizeof(T));
                                return caf::error{};
                              }
                              x.resize(n);
                              return n ? f.apply_raw(n * sizeof(T), x.data()) : caf::error{};
                            },
                            [&] { return f.end_sequence(); });
  } else {
    return f(static_cast<std::vector<T>&>(x));
  }
}

/// Rows to upsert into one collection: `dim` floats per id, metadata JSON or "" per id.
struct vector_batch {
  std::string collection;
  uint32_t dim = 0;
  std::vector<std::string> ids;
  float_vector values;
  std::vector<std::string> metadata; // empty, or one entry per id
  // One per id (vectors/version.hpp), assigned by the node where the write enters the cluster;
  // empty from clients.
  std::vector<uint64_t> versions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vector_batch& x) {
  return f(caf::meta::type_name("vector_batch"), x.collection, x.dim, x.ids, x.values, x.metadata, x.versions);
}

/// The rows `rows` of `b` as a batch of their own.
vector_batch subset(const vector_batch& b, const std::vector<uint32_t>& rows);

/// Some rows of a batch on their way to a peer. The sender serialises them straight from the
/// batch they are in, as a vector_batch of those rows would be, instead of copying them into a
/// batch of their own first (copies into fresh pages, which CAF then copied again; the rate
/// measured the same either way on 2 cores: perf/README "Rows to a peer from the batch they
/// came in"). The receiver reads them into `batch`. Delivered within one process (no serialisation), `batch` is empty and
/// take() makes it from the source.
struct batch_rows {
  std::shared_ptr<const vector_batch> source; // sender: the batch the rows are in
  std::vector<uint32_t> rows;                 // sender: which of its rows, in order
  vector_batch batch;                         // receiver: the rows

  /// The rows as a batch, wherever this was delivered.
  vector_batch take() && { return source ? subset(*source, rows) : std::move(batch); }
};

/// Writes the rows of `x.source` as a vector_batch of them is written.
caf::error save_rows(caf::serializer& f, const batch_rows& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_rows& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    if (x.source)
      return save_rows(f, x);
  }
  return f(caf::meta::type_name("batch_rows"), x.batch.collection, x.batch.dim, x.batch.ids, x.batch.values,
           x.batch.metadata, x.batch.versions);
}

/// The bytes a put holds while in flight (floats, ids with 16 bytes each for their strings,
/// metadata): what a node counts against vectors.max_inflight_mb and a client against
/// put --window-mb.
inline uint64_t batch_bytes(const vector_batch& b) {
  uint64_t n = b.values.size() * sizeof(float) + b.ids.size() * 16;
  for (auto& id : b.ids)
    n += id.size();
  for (auto& m : b.metadata)
    n += m.size();
  return n;
}

/// Ids with a version each: deletes (tombstones), or what a node holds of a virtual shard.
struct id_versions {
  std::vector<std::string> ids;
  std::vector<uint64_t> versions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, id_versions& x) {
  return f(caf::meta::type_name("id_versions"), x.ids, x.versions);
}

/// Rows with their versions and tombstones: what catch-up pulls and handoff pushes.
struct versioned_rows {
  vector_batch rows;   // with versions and one metadata entry per row
  id_versions deleted; // tombstones
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, versioned_rows& x) {
  return f(caf::meta::type_name("versioned_rows"), x.rows, x.deleted);
}

/// A collection's fixed properties, set by its first put.
struct collection_spec {
  std::string name;
  uint32_t dim = 0;
  uint8_t metric = 0; // metric_kind
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collection_spec& x) {
  return f(caf::meta::type_name("collection_spec"), x.name, x.dim, x.metric);
}

/// Router to shard, in the same process: the rows of a shared batch that the shard owns.
/// Sharing the batch instead of splitting it saves copying every vector once per put. Every row
/// carries a version (batch->versions); a row older than what the shard holds of its id is
/// skipped, so that a late or repeated write never rolls a newer one back.
struct shard_put {
  collection_spec spec;
  std::shared_ptr<const vector_batch> batch;
  std::vector<uint32_t> rows;
};

/// Router to shard: up to `max_rows` rows and tombstones of `collection` in virtual shards this
/// node does not keep (`keep`: one flag per virtual shard), from label `after` on.
struct handoff_request {
  std::string collection;
  byte_vector keep;
  uint32_t after = 0;
  uint32_t max_rows = 1000;
};

struct handoff_batch {
  versioned_rows data;
  uint32_t next = 0; // the label to go on from
  bool done = false; // the scan reached the end of the collection
};

/// One or more queries (`dim` floats each) against one collection.
struct search_request {
  std::string collection;
  uint32_t dim = 0;
  float_vector queries;
  uint32_t k = 10;
  uint32_t ef = 0; // 0: the node's vectors.hnsw.ef_search
  bool exact = false;
  bool with_payload = false; // return each hit's metadata JSON
  std::vector<std::string> filter; // conditions on the metadata, all must hold (vectors/filter.hpp)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_request& x) {
  return f(caf::meta::type_name("search_request"), x.collection, x.dim, x.queries, x.k, x.ef, x.exact,
           x.with_payload, x.filter);
}

/// Results of a search_request, flattened: query i owns `counts[i]` consecutive hits.
struct search_result {
  std::vector<uint32_t> counts;
  std::vector<std::string> ids;
  float_vector scores;
  std::vector<uint32_t> took_us; // per query, time spent searching on the node
  std::vector<std::string> metadata; // per hit, parallel to ids, when the request asked with_payload
  // Shards of nodes that are down (dropped without leaving): their vectors were not searched.
  uint32_t missing_shards = 0;
  std::vector<std::string> missing_nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_result& x) {
  return f(caf::meta::type_name("search_result"), x.counts, x.ids, x.scores, x.took_us, x.metadata,
           x.missing_shards, x.missing_nodes);
}

struct vector_record {
  std::string id;
  float_vector values;
  std::string metadata; // JSON object or ""
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vector_record& x) {
  return f(caf::meta::type_name("vector_record"), x.id, x.values, x.metadata);
}

struct collection_info {
  std::string name;
  uint32_t dim = 0;
  std::string metric;
  uint64_t count = 0;
  uint64_t pending = 0; // stored and searchable, not yet in the HNSW graph
  uint64_t tombstones = 0;       // deletes remembered (so that no replica brings the id back)
  uint32_t under_replicated = 0; // virtual shards with fewer live replicas than the replication factor
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collection_info& x) {
  return f(caf::meta::type_name("collection_info"), x.name, x.dim, x.metric, x.count, x.pending, x.tombstones,
           x.under_replicated);
}

/// A cluster member as gossiped between nodes.
struct member_info {
  std::string id;
  std::string address; // host:port of its published node actor
  uint32_t protocol = protocol_version;
  std::vector<std::string> capabilities;
  std::vector<uint32_t> shards;
  std::string state = "alive";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("member_info"), x.id, x.address, x.protocol, x.capabilities, x.shards, x.state);
}

/// Members that are connected (state "alive"); a peers list also names those that are down.
inline size_t alive_members(const std::vector<member_info>& members) {
  size_t n = 0;
  for (auto& m : members)
    n += m.state == "alive";
  return n;
}

struct node_status {
  std::string id;
  std::string address;
  std::string data_dir;
  uint32_t protocol = protocol_version;
  uint64_t uptime_ms = 0;
  uint32_t shards = 0;
  uint64_t rss_bytes = 0;
  std::vector<collection_info> collections;
  std::vector<uint64_t> task_counts; // by task_state: queued, running, completed, failed, cancelled, timed_out
  std::vector<member_info> members;  // this node first
  double cpu_seconds = 0;            // user + system CPU time of the process
  uint64_t start_time_unix = 0;      // seconds since the epoch when the node started
  // RocksDB: table files on disk, compaction debt, and whether writes are slowed or stopped.
  uint64_t sst_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t delayed_write_rate = 0; // bytes/s while writes are slowed, else 0
  uint64_t writes_stopped = 0;
  uint64_t vectors_stored = 0;      // rows of client puts acknowledged by this node
  uint64_t vectors_deleted = 0;     // client deletes through this node of ids that existed
  std::vector<uint64_t> errors;     // errors raised by this node, by errc code
  // Parts whose actor had not answered within the control deadline (a busy router or task
  // manager): their figures are from that part's last answer. Empty when every part is fresh.
  std::vector<std::string> late;
  // Graph building (vectors.index_threads): index steps that may run at once, those running now,
  // and shards with steps to run that wait for one of them.
  uint32_t index_threads = 0;
  uint32_t index_threads_busy = 0;
  uint32_t index_shards_waiting = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), x.id, x.address, x.data_dir, x.protocol, x.uptime_ms, x.shards,
           x.rss_bytes, x.collections, x.task_counts, x.members, x.cpu_seconds, x.start_time_unix, x.sst_bytes,
           x.pending_compaction_bytes, x.delayed_write_rate, x.writes_stopped, x.vectors_stored, x.vectors_deleted,
           x.errors, x.late, x.index_threads, x.index_threads_busy, x.index_shards_waiting);
}

/// Upper bounds (seconds) of the latency histogram buckets; one more bucket holds the rest.
inline constexpr double latency_bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10, 30, 60};
inline constexpr size_t latency_buckets = std::size(latency_bounds_s) + 1;

/// Observations per bucket (not cumulative), their count and sum.
struct latency_histogram {
  std::vector<uint64_t> buckets = std::vector<uint64_t>(latency_buckets, 0);
  uint64_t count = 0;
  double sum_s = 0;

  void observe(double seconds) {
    size_t i = 0;
    while (i < std::size(latency_bounds_s) && seconds > latency_bounds_s[i])
      ++i;
    ++buckets[i];
    ++count;
    sum_s += seconds;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, latency_histogram& x) {
  return f(caf::meta::type_name("latency_histogram"), x.buckets, x.count, x.sum_s);
}

/// The task manager's figures: tasks by type and state, and the latency of finished tasks.
struct task_metrics {
  std::vector<std::string> types;
  std::vector<uint64_t> counts; // types.size() x task_state_count, by type then state
  latency_histogram latency;    // submitted -> final state
  // Tasks sent to each executor and not answered yet: "local" (this node's workers together),
  // then each peer that runs tasks, by id.
  std::vector<std::string> executors;
  std::vector<uint64_t> in_flight; // executors.size()
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_metrics& x) {
  return f(caf::meta::type_name("task_metrics"), x.types, x.counts, x.latency, x.executors, x.in_flight);
}

/// Everything `/metrics` and `status` show (node -> client on (metrics_atom)).
struct node_metrics {
  node_status status;
  task_metrics tasks;
  latency_histogram search_latency; // searches asked of this node, request to merged answer
  uint64_t messages_in = 0;         // agent messages delivered to this node's agents
  uint64_t messages_out = 0;        // agent messages this node sent on to peers
  std::vector<std::string> mailbox_names;
  std::vector<uint64_t> mailbox_sizes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_metrics& x) {
  return f(caf::meta::type_name("node_metrics"), x.status, x.tasks, x.search_latency, x.messages_in, x.messages_out,
           x.mailbox_names, x.mailbox_sizes);
}

} // namespace p2p

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::shard_put)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::handoff_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(p2p::handoff_batch)

namespace p2p {

/// Documents to ingest: texts are UTF-8, at most max_document_bytes each.
struct document_batch {
  std::string collection;
  std::vector<std::string> ids;
  std::vector<std::string> texts;
  uint32_t chunk_size = 200; // tokens
  uint32_t overlap = 20;     // tokens
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, document_batch& x) {
  return f(caf::meta::type_name("document_batch"), x.collection, x.ids, x.texts, x.chunk_size, x.overlap);
}

struct ingest_result {
  uint64_t documents = 0; // stored with all their chunks
  uint64_t chunks = 0;
  std::vector<std::string> errors; // "DOC_ID: reason" per document not stored
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingest_result& x) {
  return f(caf::meta::type_name("ingest_result"), x.documents, x.chunks, x.errors);
}

/// Queries as text, embedded by the node.
struct text_search_request {
  std::string collection;
  std::vector<std::string> texts;
  uint32_t k = 10;
  uint32_t ef = 0;
  bool exact = false;
  bool with_payload = false;
  std::vector<std::string> filter;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, text_search_request& x) {
  return f(caf::meta::type_name("text_search_request"), x.collection, x.texts, x.k, x.ef, x.exact, x.with_payload,
           x.filter);
}

/// Tasks of one type to run, one per payload.
struct task_submission {
  std::string type;
  std::string params; // kernel options (see tasks/task_kernels.hpp)
  std::vector<std::string> payloads;
  uint8_t priority = 1;     // task_priority
  uint32_t timeout_ms = 0;  // 0: tasks.default_timeout_ms
  int32_t max_retries = -1; // -1: tasks.max_retries
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_submission& x) {
  return f(caf::meta::type_name("task_submission"), x.type, x.params, x.payloads, x.priority, x.timeout_ms,
           x.max_retries);
}

/// Final states of tasks, in the order asked for.
struct task_outcomes {
  std::vector<uint64_t> ids;
  byte_vector states; // task_state
  std::vector<uint32_t> attempts;
  std::vector<std::string> results; // per task: JSON, or an embedding's floats as raw bytes (tasks/task_kernels.hpp)
  std::vector<std::string> errors;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_outcomes& x) {
  return f(caf::meta::type_name("task_outcomes"), x.ids, x.states, x.attempts, x.results, x.errors);
}

/// Registers every message type above; both ends of a connection must call it.
void register_message_types(caf::actor_system_config& cfg);

/// Makes `self` log and drop a message it has no handler for, and log a stray error message,
/// instead of CAF's defaults (an unexpected error message makes an actor quit, and with it every
/// actor linked to it): bad input from a peer must not stop the node.
void keep_serving(caf::scheduled_actor* self, const char* name);

} // namespace p2p
