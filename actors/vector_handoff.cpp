// Handoff: when the members change, or this node leaves, the keys it no longer owns move to
// their owners in batches, each stored there before it is dropped here.

#include <algorithm>

#include "actors/fan_in.hpp"
#include "actors/vector_router_state.hpp"
#include "core/log.hpp"

namespace p2p {

namespace {

// -- handoff: keys move to their owners when the members change or this node leaves ----------

void handoff_step(router_actor* self);

void handoff_finished(router_actor* self) {
  auto& st = self->state;
  st.rebalancing = false;
  if (st.rebalance_again) {
    st.rebalance_again = false;
    start_rebalance(self);
    return;
  }
  for (auto& rp : st.leave_waiters)
    rp.deliver(true);
  st.leave_waiters.clear();
}

/// One round: read up to 1,000 vectors of one shard that belong elsewhere, store them at their
/// owners (without overwriting newer copies), and only then drop them here.
void handoff_step(router_actor* self) {
  auto& st = self->state;
  if (st.handoff_work.empty()) {
    handoff_finished(self);
    return;
  }
  auto [collection, shard] = st.handoff_work.front();
  handoff_request req{collection, {}, {}, st.cfg.id, st.handoff_after, 1000};
  for (auto& [id, shards] : st.placement()) {
    req.node_ids.push_back(id);
    req.node_shards.push_back(shards);
  }
  auto next = [self](bool done, std::string after) {
    auto& st = self->state;
    st.handoff_after = std::move(after);
    if (done) {
      st.handoff_work.erase(st.handoff_work.begin());
      st.handoff_after.clear();
    }
    handoff_step(self);
  };
  auto skip = [self, next](caf::error& e) {
    log(log_level::warn, "handoff: " + error_text(e) + "; skipping to the next shard");
    next(true, "");
  };
  self->request(st.shards[shard], shard_timeout, handoff_atom::value, req)
    .then(
      [=](handoff_batch& batch) {
        auto& st = self->state;
        if (batch.rows.ids.empty()) {
          next(batch.done, batch.next_after);
          return;
        }
        auto spec = st.collections.at(collection);
        // The owners by the placement of the request: node index 0 is this node unless leaving.
        // Rows of a down owner stay here until it is back: moved nowhere, dropped never.
        std::map<std::string, std::vector<uint32_t>> by_peer;
        auto ids = std::make_shared<std::vector<std::string>>();
        for (uint32_t i = 0; i < batch.owners.size(); ++i) {
          auto& owner = req.node_ids[batch.owners[i]];
          if (std::any_of(st.down.begin(), st.down.end(), [&](auto& d) { return d.id == owner; }))
            continue;
          by_peer[owner].push_back(i);
          ids->push_back(batch.rows.ids[i]);
        }
        if (by_peer.empty()) {
          next(batch.done, batch.next_after);
          return;
        }
        auto after = batch.next_after;
        bool done = batch.done;
        // Once every peer has stored its rows, drop them here; if one could not, start over later.
        auto fan = std::make_shared<fan_in>(
          [=](const caf::error& failure) {
            if (failure) {
              next(true, "");
              return;
            }
            self->request(self->state.shards[shard], shard_timeout, drop_atom::value, collection, *ids)
              .then([=](uint64_t) { next(done, after); }, [=](caf::error& e) mutable { skip(e); });
          },
          by_peer.size());
        for (auto& [peer_id, rows] : by_peer) {
          auto it = std::find_if(st.peers.begin(), st.peers.end(), [&](auto& p) { return p.id == peer_id; });
          if (it == st.peers.end()) {
            fan->failed(make_error(errc::unavailable, "peer " + peer_id + " is gone"));
            continue;
          }
          ask_peer<uint64_t>(
            self, *it, peer_timeout, [=](uint64_t) { fan->arrived(); },
            [=](caf::error& e) {
              log(log_level::warn, "handoff to " + peer_id + ": " + error_text(e));
              fan->failed(std::move(e));
            },
            cluster_put_atom::value, spec, subset(batch.rows, rows), true);
        }
      },
      [=](caf::error& e) mutable { skip(e); });
}

} // namespace

void fail_waiting(router_actor* self, const std::string& peer_id) {
  auto it = self->state.waiting_on.find(peer_id);
  if (it == self->state.waiting_on.end())
    return;
  auto waiting = std::move(it->second);
  self->state.waiting_on.erase(it);
  if (!waiting.empty())
    log(log_level::info, "peer " + peer_id + " dropped: failing the " + std::to_string(waiting.size())
                           + " requests that waited on it");
  for (auto& [_, fail] : waiting)
    fail(make_error(errc::unavailable, "peer " + peer_id + " went down while the request waited on it"));
}

void start_rebalance(router_actor* self) {
  auto& st = self->state;
  if (st.rebalancing) {
    st.rebalance_again = true;
    return;
  }
  st.handoff_work.clear();
  if (!st.peers.empty() || !st.down.empty())
    for (auto& [name, _] : st.collections)
      for (uint16_t s = 0; s < st.shards.size(); ++s)
        st.handoff_work.emplace_back(name, s);
  st.handoff_after.clear();
  st.rebalancing = true;
  handoff_step(self);
}

void members_changed(router_actor* self, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
  auto& st = self->state;
  std::vector<peer_node> peers, down;
  for (size_t i = 0; i < infos.size() && i < nodes.size(); ++i)
    if (std::find(infos[i].capabilities.begin(), infos[i].capabilities.end(), "vector_store")
        != infos[i].capabilities.end())
      (nodes[i] ? peers : down).push_back({infos[i].id, nodes[i], uint32_t(infos[i].shards.size())});
  auto by_id = [](auto& a, auto& b) { return a.id < b.id; };
  std::sort(peers.begin(), peers.end(), by_id);
  std::sort(down.begin(), down.end(), by_id);
  bool same = peers.size() == st.peers.size() && down.size() == st.down.size();
  for (size_t i = 0; same && i < peers.size(); ++i)
    same = peers[i].id == st.peers[i].id && peers[i].node == st.peers[i].node;
  for (size_t i = 0; same && i < down.size(); ++i)
    same = down[i].id == st.down[i].id;
  if (same)
    return;
  auto same_peer = [](auto& a, auto& b) { return a.id == b.id && a.node == b.node; };
  std::vector<std::string> dropped;
  for (auto& old : st.peers)
    if (std::none_of(peers.begin(), peers.end(), [&](auto& p) { return same_peer(p, old); }))
      dropped.push_back(old.id);
  bool arrived = std::any_of(peers.begin(), peers.end(), [&](auto& p) {
    return std::none_of(st.peers.begin(), st.peers.end(), [&](auto& old) { return same_peer(p, old); });
  });
  auto owners_before = st.placement();
  st.peers = std::move(peers);
  st.down = std::move(down);
  for (auto& id : dropped)
    fail_waiting(self, id);
  // A peer going down changes no key's owner (down peers keep theirs) and nothing can move to it:
  // no scan of every shard for it. A join, a leave, a forget or a peer back (which may take
  // rows a handoff could not give it while it was away) rebalance.
  auto owners_after = st.placement();
  auto by_name = [](auto& a, auto& b) { return a.first < b.first; };
  std::sort(owners_before.begin(), owners_before.end(), by_name);
  std::sort(owners_after.begin(), owners_after.end(), by_name);
  if (arrived || owners_before != owners_after)
    start_rebalance(self);
}

} // namespace p2p
