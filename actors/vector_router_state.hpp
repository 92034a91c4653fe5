#pragma once
// The vector router's state and the parts of it split over files: routing in
// vector_router.cpp, handoff (moving keys to their owners) in vector_handoff.cpp. Internal to
// actors/: include vector_router.hpp elsewhere.

#include <chrono>
#include <functional>
#include <algorithm>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/collection_board.hpp"
#include "actors/counted_actor.hpp"
#include "protocol/interfaces.hpp"
#include "config/node_config.hpp"
#include "vectors/placement.hpp"
#include "vectors/version.hpp"

namespace p2p {

class database;

constexpr auto shard_timeout = std::chrono::seconds(120);

/// A peer that owns part of the keys.
struct peer_node {
  std::string id;
  caf::actor node;
  uint32_t shards = 0;
};

struct router_state {
  node_config cfg;
  std::shared_ptr<database> db;
  std::vector<vector_shard_actor> shards;
  std::shared_ptr<collection_board> board; // what status reads of the collections (shared with the shards and the node)
  std::map<std::string, collection_spec, std::less<>> collections;
  std::vector<peer_node> peers; // by id
  std::vector<peer_node> down;  // by id: dropped without leaving; they keep their virtual shards, unreachable
  // The replicas of every virtual shard over the members (this node unless leaving, the peers,
  // the down ones), and what each member index is: -1 this node, else an index into peers, then
  // (past peers.size()) into down.
  replica_table table;
  std::vector<int32_t> member_of;
  hybrid_clock clock;
  // Catch-up: while this node pulls what it missed it serves no reads (its peers read from the
  // other replicas), and peers that have not said they caught up are read only when no replica
  // that has is live.
  bool syncing = true;
  bool sync_scheduled = false; // a round starts once the members settle (see start_sync)
  bool sync_running = false;
  bool sync_again = false;
  std::set<std::string> not_ready;   // peers still catching up
  std::set<std::string> ready_early; // peers that said ready before this router saw them arrive
  uint64_t rotation = 0; // spreads searches over equally good replicas
  // Handoff: collections still to scan, one at a time.
  bool leaving = false;
  bool rebalancing = false;
  bool rebalance_again = false;
  std::vector<std::pair<std::string, uint16_t>> handoff_work;
  uint32_t handoff_after = 0;
  std::vector<caf::response_promise> leave_waiters;
  // Bytes of client puts accepted and not yet acknowledged: past cfg.max_inflight_mb a put is
  // answered busy at once instead of queueing in the shards without end.
  uint64_t inflight_bytes = 0;
  // Requests waiting on each peer (by id), failed at once when the peer is dropped: no caller
  // waits for a timeout on a peer this node already knows is gone.
  std::map<std::string, std::map<uint64_t, std::function<void(caf::error)>>> waiting_on;
  uint64_t next_wait = 0;
  static inline const char* name = "vector_router";

  size_t shard_of(std::string_view id) const { return local_shard(cfg.id, uint32_t(shards.size()), id); }

  /// Recomputes the replica table from the members; true when it changed.
  bool rebuild_table() {
    std::vector<std::pair<std::string, int32_t>> members;
    if (!leaving)
      members.emplace_back(cfg.id, -1);
    for (size_t i = 0; i < peers.size(); ++i)
      members.emplace_back(peers[i].id, int32_t(i));
    for (size_t i = 0; i < down.size(); ++i)
      members.emplace_back(down[i].id, int32_t(peers.size() + i));
    std::sort(members.begin(), members.end());
    std::vector<std::string> ids;
    member_of.clear();
    for (auto& [id, at] : members) {
      ids.push_back(id);
      member_of.push_back(at);
    }
    bool changed = ids != table.nodes() || table.replication() != std::min<size_t>(cfg.replication_factor, ids.size());
    if (changed)
      table = replica_table(ids, cfg.replication_factor);
    publish_collections(); // who is down changes under_replicated() even when the table does not
    return changed;
  }

  /// Puts the collections (name, dimension, metric) and under_replicated() up on the board; after
  /// every change of either.
  void publish_collections() const {
    std::vector<collection_info> skeleton;
    auto missing = under_replicated();
    for (auto& [name, spec] : collections)
      skeleton.push_back({name, spec.dim, std::string(to_string(metric_kind(spec.metric))), 0, 0, 0, missing});
    board->set_collections(std::move(skeleton));
  }

  [[nodiscard]] bool is_self(uint32_t n) const { return member_of[n] < 0; }
  [[nodiscard]] bool is_down(uint32_t n) const { return member_of[n] >= int32_t(peers.size()); }
  [[nodiscard]] const peer_node& peer(uint32_t n) const {
    return member_of[n] < int32_t(peers.size()) ? peers[size_t(member_of[n])] : down[size_t(member_of[n]) - peers.size()];
  }
  [[nodiscard]] const std::string& member_id(uint32_t n) const { return table.nodes()[n]; }
  /// The member index of this node; UINT32_MAX while leaving.
  [[nodiscard]] uint32_t self_index() const {
    for (uint32_t n = 0; n < member_of.size(); ++n)
      if (member_of[n] < 0)
        return n;
    return UINT32_MAX;
  }
  /// Live: this node, or a connected peer. Ready: live and caught up (serves reads).
  [[nodiscard]] bool live(uint32_t n) const { return !is_down(n); }
  [[nodiscard]] bool ready(uint32_t n) const {
    return is_self(n) ? !syncing : !is_down(n) && !not_ready.count(member_id(n));
  }

  /// Virtual shards with fewer live replicas than the table gives them.
  uint32_t under_replicated() const {
    uint32_t n = 0;
    for (uint32_t v = 0; v < virtual_shards; ++v)
      n += std::any_of(table.begin(v), table.end(v), [&](uint32_t m) { return !live(m); });
    return n;
  }
};

constexpr auto peer_timeout = std::chrono::seconds(60);

using router_actor = counted<caf::stateful_actor<router_state>>;


/// Asks `peer` and calls `on_reply(Reply&)` or `on_error(caf::error&)` exactly once: with the
/// answer, the timeout, or `unavailable` as soon as the peer is dropped (fail_waiting).
template <class Reply, class OnReply, class OnError, class... Ts>
void ask_peer(router_actor* self, const peer_node& peer, std::chrono::seconds timeout, OnReply on_reply,
              OnError on_error, Ts&&... xs) {
  auto& st = self->state;
  auto key = ++st.next_wait;
  auto done = std::make_shared<bool>(false);
  auto fail = [done, on_error](caf::error e) mutable {
    if (!std::exchange(*done, true))
      on_error(e);
  };
  st.waiting_on[peer.id][key] = fail;
  auto forget = [self, key, id = peer.id] {
    auto it = self->state.waiting_on.find(id);
    if (it != self->state.waiting_on.end())
      it->second.erase(key);
  };
  self->request(peer.node, timeout, std::forward<Ts>(xs)...)
    .then(
      [done, forget, on_reply](Reply& r) mutable {
        forget();
        if (!std::exchange(*done, true))
          on_reply(r);
      },
      [forget, fail](caf::error& e) mutable {
        forget();
        fail(std::move(e));
      });
}

/// Asks `peer` and answers the current request with its reply (or error): ask_peer for a
/// handler that passes a request on to the peer that owns the key.
template <class Reply, class... Ts>
caf::result<Reply> relay_to_peer(router_actor* self, const peer_node& peer, Ts&&... xs) {
  auto rp = self->make_response_promise<Reply>();
  ask_peer<Reply>(
    self, peer, peer_timeout, [rp](Reply& r) mutable { rp.deliver(std::move(r)); },
    [rp](caf::error& e) mutable { rp.deliver(std::move(e)); }, std::forward<Ts>(xs)...);
  return rp;
}

/// Fails every request waiting on `peer_id` with `unavailable`.
void fail_waiting(router_actor* self, const std::string& peer_id);

/// Moves the keys this node no longer owns to their owners (again, if already moving).
void start_rebalance(router_actor* self);

/// Pulls from every live peer what it holds newer than this node in the virtual shards this node
/// keeps (again, if already pulling), then tells the peers this node is ready. The round starts
/// after two gossip intervals, so that a node learning its peers one by one pulls once for the
/// members it ends up with, not everything its first peer holds.
void start_sync(router_actor* self);

/// Every anti_entropy_interval a round with every peer, so that replicas that differ for any
/// reason (a write a peer took while this node thought it down) converge without a restart.
inline constexpr auto anti_entropy_interval = std::chrono::seconds(30);

/// The scheduled round begins (sync_tick_atom).
void run_sync(router_actor* self);

/// Stores rows and tombstones pulled or handed here, on this node's shards; `done` once written.
void apply_local(router_actor* self, const collection_spec& spec, versioned_rows&& data,
                 std::function<void(const caf::error&)> done);

/// What this node's shards hold of `collection`: per virtual shard digests, the (id, version)
/// pairs of one virtual shard, and the rows and tombstones of some ids.
void local_digest_then(router_actor* self, const std::string& collection,
                       std::function<void(caf::expected<std::vector<uint64_t>>)> done);
caf::result<std::vector<uint64_t>> local_digest(router_actor* self, const std::string& collection);
void local_list_then(router_actor* self, const std::string& collection, uint32_t vshard,
                     std::function<void(id_versions)> done);
caf::result<id_versions> local_list(router_actor* self, const std::string& collection, uint32_t vshard);
caf::result<versioned_rows> local_fetch(router_actor* self, const std::string& collection,
                                        const std::vector<std::string>& ids);

/// Names joined with ", ".
std::string joined(const std::set<std::string>& names);

/// Reads (actors/vector_reads.cpp): `id` from one replica after another; a search over the
/// fewest members that cover every virtual shard (only this node's shards when `local_only`).
caf::result<vector_record> get(router_actor* self, const collection_spec& spec, const std::string& id);
caf::result<search_result> search(router_actor* self, search_request& req);
caf::result<search_result> search_spec(router_actor* self, const collection_spec& spec, search_request& req,
                                       bool local_only);

/// The collection `spec` here, recorded on first sight; an error when it differs.
caf::expected<collection_spec> known_collection(router_state& st, const collection_spec& spec);

/// Collections (actors/vector_collections.cpp): create and drop on this node and every live peer
/// (drop refused while a member is down), their cluster_* counterparts from a peer, each
/// collection's live vectors per virtual shard here (then those pending for the graph, then the
/// tombstones),
/// and the cluster-wide list.
caf::result<bool> create_collection(router_actor* self, const collection_spec& spec);
caf::result<bool> accept_collection(router_actor* self, const collection_spec& spec);
caf::result<uint64_t> drop_collection(router_actor* self, const std::string& name);
caf::result<uint64_t> drop_local(router_actor* self, const std::string& name);
caf::result<std::map<std::string, std::vector<uint64_t>>> local_counts(router_actor* self);
caf::result<std::vector<collection_info>> list_collections(router_actor* self);

/// The peers storing vectors changed: remember them and rebalance.
void members_changed(router_actor* self, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes);

} // namespace p2p
