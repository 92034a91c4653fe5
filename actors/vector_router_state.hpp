#pragma once
// The vector router's state and the parts of it split over files: routing in
// vector_router.cpp, handoff (moving keys to their owners) in vector_handoff.cpp. Internal to
// actors/: include vector_router.hpp elsewhere.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "protocol/interfaces.hpp"
#include "config/node_config.hpp"
#include "vectors/placement.hpp"

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
  std::map<std::string, collection_spec, std::less<>> collections;
  std::vector<peer_node> peers; // by id
  std::vector<peer_node> down;  // by id: dropped without leaving; they own their keys, unreachable
  // Handoff: (collection, shard) pairs still to scan, one at a time.
  bool leaving = false;
  bool rebalancing = false;
  bool rebalance_again = false;
  std::vector<std::pair<std::string, uint16_t>> handoff_work;
  std::string handoff_after;
  std::vector<caf::response_promise> leave_waiters;
  latency_histogram search_latency; // searches asked of this node, request to merged answer
  // Requests waiting on each peer (by id), failed at once when the peer is dropped: no caller
  // waits for a timeout on a peer this node already knows is gone.
  std::map<std::string, std::map<uint64_t, std::function<void(caf::error)>>> waiting_on;
  uint64_t next_wait = 0;
  static inline const char* name = "vector_router";

  size_t shard_of(std::string_view id) const { return local_shard(cfg.id, uint32_t(shards.size()), id); }

  /// The nodes that own keys now: this node first (unless leaving), then the connected peers,
  /// then the down ones.
  std::vector<std::pair<std::string, uint32_t>> placement() const {
    std::vector<std::pair<std::string, uint32_t>> out;
    if (!leaving)
      out.emplace_back(cfg.id, uint32_t(shards.size()));
    for (auto& p : peers)
      out.emplace_back(p.id, p.shards);
    for (auto& p : down)
      out.emplace_back(p.id, p.shards);
    return out;
  }

  /// Where the key `id` lives: this node (peer null), a connected peer, or a down one.
  struct route {
    const peer_node* peer = nullptr;
    bool down = false;
  };
  route route_of(std::string_view id) const {
    if (peers.empty() && down.empty())
      return {};
    return route_of(id, placement());
  }

  /// The same with the placement computed once by the caller (a batch routes many ids).
  route route_of(std::string_view id, const std::vector<std::pair<std::string, uint32_t>>& nodes) const {
    if (peers.empty() && down.empty())
      return {};
    auto at = owner_node(nodes, id);
    size_t self_slots = leaving ? 0 : 1;
    if (at < self_slots)
      return {};
    at -= self_slots;
    if (at < peers.size())
      return {&peers[at], false};
    return {&down[at - peers.size()], true};
  }

  /// Shards of down nodes, and their ids: what a search cannot reach.
  uint32_t missing_shards() const {
    uint32_t n = 0;
    for (auto& p : down)
      n += p.shards;
    return n;
  }
};

constexpr auto peer_timeout = std::chrono::seconds(60);

using router_actor = caf::stateful_actor<router_state>;


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

/// The rows `rows` of `b` as a batch of their own.
vector_batch subset(const vector_batch& b, const std::vector<uint32_t>& rows);

/// Moves the keys this node no longer owns to their owners (again, if already moving).
void start_rebalance(router_actor* self);

/// The peers storing vectors changed: remember them and rebalance.
void members_changed(router_actor* self, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes);

} // namespace p2p
