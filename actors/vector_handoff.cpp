// Handoff: when the members change, or this node leaves, the rows and tombstones of virtual
// shards this node no longer keeps go to every live replica of theirs, in batches, and are
// dropped here once all of those replicas hold them (kept while one of them is down).

#include <algorithm>

#include "actors/fan_in.hpp"
#include "actors/vector_router_state.hpp"
#include "core/log.hpp"

namespace p2p {

namespace {

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

/// Where one batch goes: per live replica, the rows and tombstones it gets; and what may be
/// dropped here afterwards (every replica of it live).
struct handoff_plan {
  std::map<uint32_t, std::pair<std::vector<uint32_t>, std::vector<uint32_t>>> to; // member -> (rows, tombstones)
  id_versions droppable;
};

handoff_plan plan_handoff(const router_state& st, const versioned_rows& d) {
  handoff_plan plan;
  auto place = [&](const std::string& id, uint64_t version, uint32_t i, bool row) {
    uint32_t v = vshard_of(id);
    bool all_live = true;
    for (auto* n = st.table.begin(v); n != st.table.end(v); ++n) {
      if (st.is_self(*n))
        continue; // kept here after all (the table changed since the scan)
      if (!st.live(*n)) {
        all_live = false;
        continue;
      }
      auto& dest = plan.to[*n];
      (row ? dest.first : dest.second).push_back(i);
    }
    uint32_t me = st.self_index();
    if (all_live && !(me != UINT32_MAX && st.table.holds(me, v)) && st.table.begin(v) != st.table.end(v)) {
      plan.droppable.ids.push_back(id);
      plan.droppable.versions.push_back(version);
    }
  };
  for (uint32_t i = 0; i < d.rows.ids.size(); ++i)
    place(d.rows.ids[i], d.rows.versions[i], i, true);
  for (uint32_t i = 0; i < d.deleted.ids.size(); ++i)
    place(d.deleted.ids[i], d.deleted.versions[i], i, false);
  return plan;
}

id_versions pick(const id_versions& d, const std::vector<uint32_t>& at) {
  id_versions out;
  for (uint32_t i : at) {
    out.ids.push_back(d.ids[i]);
    out.versions.push_back(d.versions[i]);
  }
  return out;
}

/// One round: read up to 1,000 rows and tombstones of one shard that this node no longer keeps,
/// store them on their live replicas (newer versions there win), and only then drop them here.
void handoff_step(router_actor* self) {
  auto& st = self->state;
  if (st.handoff_work.empty()) {
    handoff_finished(self);
    return;
  }
  auto [collection, shard] = st.handoff_work.front();
  handoff_request req{collection, std::vector<uint8_t>(virtual_shards, 0), st.handoff_after, 1000};
  if (uint32_t me = st.self_index(); me != UINT32_MAX)
    for (uint32_t v = 0; v < virtual_shards; ++v)
      req.keep[v] = st.table.holds(me, v);
  auto next = [self](bool done, uint32_t after) {
    auto& st = self->state;
    st.handoff_after = after;
    if (done) {
      st.handoff_work.erase(st.handoff_work.begin());
      st.handoff_after = 0;
    }
    handoff_step(self);
  };
  auto skip = [self, next](caf::error& e) {
    log(log_level::warn, "handoff: " + error_text(e) + "; skipping to the next shard");
    next(true, 0);
  };
  self->request(st.shards[shard], shard_timeout, handoff_atom::value, req)
    .then(
      [=](handoff_batch& batch) {
        auto& st = self->state;
        auto plan = plan_handoff(st, batch.data);
        if (plan.to.empty()) {
          next(batch.done, batch.next);
          return;
        }
        auto spec = st.collections.at(collection);
        auto after = batch.next;
        bool done = batch.done;
        auto droppable = std::make_shared<id_versions>(std::move(plan.droppable));
        // Once every replica has stored its part, drop here; if one could not, start over later.
        auto fan = std::make_shared<fan_in>([=](const caf::error& failure) {
          if (failure) {
            next(true, 0);
            return;
          }
          if (droppable->ids.empty()) {
            next(done, after);
            return;
          }
          self->request(self->state.shards[shard], shard_timeout, drop_atom::value, collection, *droppable)
            .then([=](uint64_t) { next(done, after); }, [=](caf::error& e) mutable { skip(e); });
        });
        fan->expect();
        for (auto& [member, parts] : plan.to) {
          auto& peer = st.peer(member);
          auto failed = [fan, id = peer.id](caf::error& e) {
            log(log_level::warn, "handoff to " + id + ": " + error_text(e));
            fan->failed(std::move(e));
          };
          if (!parts.first.empty()) {
            fan->expect();
            ask_peer<uint64_t>(self, peer, peer_timeout, [fan](uint64_t) { fan->arrived(); }, failed,
                               cluster_put_atom::value, spec, subset(batch.data.rows, parts.first));
          }
          if (!parts.second.empty()) {
            fan->expect();
            ask_peer<uint64_t>(self, peer, peer_timeout, [fan](uint64_t) { fan->arrived(); }, failed,
                               cluster_delete_atom::value, spec, pick(batch.data.deleted, parts.second));
          }
        }
        fan->arrived();
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
  if (st.table.nodes().size() > 1 || st.leaving)
    for (auto& [name, _] : st.collections)
      for (uint16_t s = 0; s < st.shards.size(); ++s)
        st.handoff_work.emplace_back(name, s);
  st.handoff_after = 0;
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
  std::vector<std::string> dropped, arrived;
  for (auto& old : st.peers)
    if (std::none_of(peers.begin(), peers.end(), [&](auto& p) { return same_peer(p, old); }))
      dropped.push_back(old.id);
  for (auto& p : peers)
    if (std::none_of(st.peers.begin(), st.peers.end(), [&](auto& old) { return same_peer(p, old); }))
      arrived.push_back(p.id);
  st.peers = std::move(peers);
  st.down = std::move(down);
  for (auto& id : dropped) {
    fail_waiting(self, id);
    st.not_ready.erase(id);
    st.ready_early.erase(id);
  }
  // A peer that arrives (new, back, or healed) serves reads once it says it caught up; one
  // that said so before this router saw it arrive already has.
  for (auto& id : arrived)
    if (!st.ready_early.erase(id))
      st.not_ready.insert(id);
  bool placement_changed = st.rebuild_table();
  // A peer going down changes no replica (down peers keep their virtual shards) and nothing can
  // move to it: no scan. A join, a leave, a forget or a peer back rebalance, and this node
  // pulls what it may have missed from the peers that arrived.
  if (!arrived.empty() || placement_changed) {
    start_rebalance(self);
    start_sync(self);
  }
}

} // namespace p2p
