// Catch-up: a node that (re)joins, or whose virtual shards change, pulls from every live peer
// what that peer holds newer than it does, in the virtual shards it keeps: per collection it
// compares per-virtual-shard digests of the (id, version) pairs, lists the differing virtual
// shards on both sides, and fetches the ids the peer has at a newer version (rows and
// tombstones alike), in chunks. Until a round is over, the node serves no reads its peers can
// serve; then it tells them it is ready.

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

#include "actors/fan_in.hpp"
#include "actors/vector_router_state.hpp"
#include "core/log.hpp"

namespace p2p {

namespace {

constexpr uint32_t fetch_chunk = 1000;

struct sync_round {
  std::vector<std::string> peers; // ids, snapshot at the start
  size_t peer_at = 0;
  std::vector<collection_spec> specs;
  size_t spec_at = 0;
  std::vector<uint32_t> vshards;
  size_t vshard_at = 0;
  std::vector<std::string> want; // ids of the current virtual shard to fetch
  size_t want_at = 0;
  uint64_t pulled = 0;
  std::set<std::string> sources; // peers something was pulled from
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

using round_ptr = std::shared_ptr<sync_round>;

void next_peer(router_actor* self, round_ptr r);
void next_collection(router_actor* self, round_ptr r);
void next_vshard(router_actor* self, round_ptr r);

/// The peer the round pulls from now; null (and the round moved on to the next peer) when it
/// is gone since the round began.
const peer_node* current_peer(router_actor* self, round_ptr r) {
  for (auto& p : self->state.peers)
    if (p.id == r->peers[r->peer_at])
      return &p;
  r->peer_at++;
  r->spec_at = 0;
  next_peer(self, r);
  return nullptr;
}

void finish(router_actor* self, round_ptr r) {
  auto& st = self->state;
  st.sync_running = false;
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - r->started).count();
  if (r->pulled > 0)
    log(log_level::info, "caught up: pulled " + std::to_string(r->pulled) + " rows and tombstones from "
                           + std::to_string(r->sources.size()) + " peers in " + std::to_string(int(took * 1000)) + " ms");
  if (st.sync_again) { // the members changed meanwhile: again, with the new ones
    st.sync_again = false;
    start_sync(self);
    return;
  }
  // What was pulled under an older member list may belong elsewhere by now: hand it on.
  if (!st.peers.empty())
    start_rebalance(self);
  // Alone with peers to join, a node is not known to be up to date; it still serves (nothing
  // better is live) but says ready only after a round with peers.
  if (r->peers.empty() && !st.cfg.bootstrap.empty())
    return;
  if (st.syncing && !r->peers.empty())
    log(log_level::info, "caught up with " + std::to_string(r->peers.size()) + " peers: serving reads");
  st.syncing = false;
  for (auto& p : st.peers)
    self->send(p.node, ready_atom::value, st.cfg.id);
}

void skip_peer(router_actor* self, round_ptr r, const std::string& why) {
  log(log_level::warn, "catch-up from " + r->peers[r->peer_at] + ": " + why + "; going on with the next peer");
  r->peer_at++;
  r->spec_at = 0;
  next_peer(self, r);
}

void next_peer(router_actor* self, round_ptr r) {
  auto& st = self->state;
  if (r->peer_at >= r->peers.size() || st.leaving) {
    finish(self, r);
    return;
  }
  auto* peer = current_peer(self, r);
  if (!peer)
    return;
  ask_peer<std::vector<collection_spec>>(
    self, *peer, peer_timeout,
    [self, r](std::vector<collection_spec>& specs) {
      r->specs.clear();
      r->spec_at = 0;
      for (auto& spec : specs) {
        auto known = known_collection(self->state, spec);
        if (!known) {
          log(log_level::warn, "catch-up: " + error_text(known.error()) + "; not pulling it");
          continue;
        }
        r->specs.push_back(*known);
      }
      next_collection(self, r);
    },
    [self, r](caf::error& e) { skip_peer(self, r, error_text(e)); }, sync_specs_atom::value);
}

void next_collection(router_actor* self, round_ptr r) {
  if (r->spec_at >= r->specs.size()) {
    r->peer_at++;
    next_peer(self, r);
    return;
  }
  auto* peer = current_peer(self, r);
  if (!peer)
    return;
  auto collection = r->specs[r->spec_at].name;
  ask_peer<std::vector<uint64_t>>(
    self, *peer, peer_timeout,
    [self, r, collection](std::vector<uint64_t>& theirs) {
      local_digest_then(self, collection, [self, r, theirs](caf::expected<std::vector<uint64_t>> mine) {
        auto& st = self->state;
        r->vshards.clear();
        r->vshard_at = 0;
        uint32_t me = st.self_index();
        if (mine && theirs.size() == virtual_shards && me != UINT32_MAX)
          for (uint32_t v = 0; v < virtual_shards; ++v)
            if (st.table.holds(me, v) && theirs[v] != 0 && theirs[v] != (*mine)[v])
              r->vshards.push_back(v);
        next_vshard(self, r);
      });
    },
    [self, r](caf::error& e) { skip_peer(self, r, error_text(e)); }, sync_digest_atom::value, collection);
}

void fetch_next(router_actor* self, round_ptr r) {
  if (r->want_at >= r->want.size()) {
    r->vshard_at++;
    next_vshard(self, r);
    return;
  }
  auto* peer = current_peer(self, r);
  if (!peer)
    return;
  size_t end = std::min(r->want.size(), r->want_at + fetch_chunk);
  std::vector<std::string> ids(r->want.begin() + ptrdiff_t(r->want_at), r->want.begin() + ptrdiff_t(end));
  r->want_at = end;
  auto spec = r->specs[r->spec_at];
  ask_peer<versioned_rows>(
    self, *peer, peer_timeout,
    [self, r, spec](versioned_rows& data) {
      if (data.rows.dim != spec.dim && !data.rows.ids.empty()) {
        skip_peer(self, r, "rows of dimension " + std::to_string(data.rows.dim) + " for collection '" + spec.name + "'");
        return;
      }
      if (data.rows.versions.size() != data.rows.ids.size() || data.rows.metadata.size() != data.rows.ids.size()
          || data.rows.values.size() != size_t(spec.dim) * data.rows.ids.size()
          || data.deleted.versions.size() != data.deleted.ids.size()) {
        skip_peer(self, r, "a malformed catch-up batch");
        return;
      }
      uint64_t n = data.rows.ids.size() + data.deleted.ids.size();
      data.rows.collection = spec.name;
      apply_local(self, spec, std::move(data), [self, r, n](const caf::error& e) {
        if (e) {
          skip_peer(self, r, "storing what it sent: " + error_text(e));
          return;
        }
        r->pulled += n;
        if (n > 0)
          r->sources.insert(r->peers[r->peer_at]);
        fetch_next(self, r);
      });
    },
    [self, r](caf::error& e) { skip_peer(self, r, error_text(e)); }, sync_fetch_atom::value, spec.name, ids);
}

void next_vshard(router_actor* self, round_ptr r) {
  if (r->vshard_at >= r->vshards.size()) {
    r->spec_at++;
    next_collection(self, r);
    return;
  }
  auto* peer = current_peer(self, r);
  if (!peer)
    return;
  auto collection = r->specs[r->spec_at].name;
  uint32_t v = r->vshards[r->vshard_at];
  ask_peer<id_versions>(
    self, *peer, peer_timeout,
    [self, r, collection, v](id_versions& theirs) {
      local_list_then(self, collection, v, [self, r, theirs = std::move(theirs)](id_versions mine) {
        std::unordered_map<std::string_view, uint64_t> have;
        have.reserve(mine.ids.size());
        for (size_t i = 0; i < mine.ids.size(); ++i)
          have.emplace(mine.ids[i], mine.versions[i]);
        r->want.clear();
        r->want_at = 0;
        for (size_t i = 0; i < theirs.ids.size() && i < theirs.versions.size(); ++i) {
          auto it = have.find(theirs.ids[i]);
          if (it == have.end() || it->second < theirs.versions[i])
            r->want.push_back(theirs.ids[i]);
        }
        fetch_next(self, r);
      });
    },
    [self, r](caf::error& e) { skip_peer(self, r, error_text(e)); }, sync_list_atom::value, collection, v);
}

} // namespace

void local_digest_then(router_actor* self, const std::string& collection,
                       std::function<void(caf::expected<std::vector<uint64_t>>)> done) {
  auto& st = self->state;
  auto acc = std::make_shared<std::vector<uint64_t>>(virtual_shards, 0);
  auto fan = std::make_shared<fan_in>(
    [acc, done](const caf::error& e) {
      if (e)
        done(e);
      else
        done(std::move(*acc));
    },
    st.shards.size());
  for (auto& shard : st.shards)
    self->request(shard, shard_timeout, sync_digest_atom::value, collection)
      .then(
        [acc, fan](const std::vector<uint64_t>& d) {
          for (size_t v = 0; v < d.size() && v < acc->size(); ++v)
            (*acc)[v] ^= d[v];
          fan->arrived();
        },
        fan_in::on_error(fan));
}

caf::result<std::vector<uint64_t>> local_digest(router_actor* self, const std::string& collection) {
  auto rp = self->make_response_promise<std::vector<uint64_t>>();
  local_digest_then(self, collection, [rp](caf::expected<std::vector<uint64_t>> d) mutable {
    if (d)
      rp.deliver(std::move(*d));
    else
      rp.deliver(d.error());
  });
  return rp;
}

void local_list_then(router_actor* self, const std::string& collection, uint32_t vshard,
                     std::function<void(id_versions)> done) {
  auto& st = self->state;
  auto acc = std::make_shared<id_versions>();
  // A shard that cannot answer leaves its part out: the peer then looks newer for those ids and
  // they are fetched again, which is harmless (older versions are skipped on write).
  auto fan = std::make_shared<fan_in>([acc, done](const caf::error&) { done(std::move(*acc)); }, st.shards.size());
  for (auto& shard : st.shards)
    self->request(shard, shard_timeout, sync_list_atom::value, collection, vshard)
      .then(
        [acc, fan](id_versions& part) {
          acc->ids.insert(acc->ids.end(), std::make_move_iterator(part.ids.begin()), std::make_move_iterator(part.ids.end()));
          acc->versions.insert(acc->versions.end(), part.versions.begin(), part.versions.end());
          fan->arrived();
        },
        fan_in::ignore_error(fan));
}

caf::result<id_versions> local_list(router_actor* self, const std::string& collection, uint32_t vshard) {
  if (vshard >= virtual_shards)
    return make_error(errc::invalid_input, "no virtual shard " + std::to_string(vshard));
  auto rp = self->make_response_promise<id_versions>();
  local_list_then(self, collection, vshard, [rp](id_versions l) mutable { rp.deliver(std::move(l)); });
  return rp;
}

caf::result<versioned_rows> local_fetch(router_actor* self, const std::string& collection,
                                        const std::vector<std::string>& ids) {
  auto& st = self->state;
  if (ids.size() > 10 * fetch_chunk)
    return make_error(errc::invalid_input, "fetch refused: " + std::to_string(ids.size()) + " ids, at most "
                                             + std::to_string(10 * fetch_chunk) + " per request");
  std::vector<std::vector<std::string>> parts(st.shards.size());
  for (auto& id : ids)
    parts[st.shard_of(id)].push_back(id);
  auto acc = std::make_shared<versioned_rows>();
  acc->rows.collection = collection;
  if (auto it = st.collections.find(collection); it != st.collections.end())
    acc->rows.dim = it->second.dim;
  auto rp = self->make_response_promise<versioned_rows>();
  auto fan = std::make_shared<fan_in>([acc, rp](const caf::error& e) mutable {
    if (e)
      rp.deliver(e);
    else
      rp.deliver(std::move(*acc));
  });
  fan->expect();
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].empty())
      continue;
    fan->expect();
    self->request(st.shards[s], shard_timeout, sync_fetch_atom::value, collection, parts[s])
      .then(
        [acc, fan](versioned_rows& part) {
          auto& a = *acc;
          auto& b = part;
          a.rows.ids.insert(a.rows.ids.end(), b.rows.ids.begin(), b.rows.ids.end());
          a.rows.values.insert(a.rows.values.end(), b.rows.values.begin(), b.rows.values.end());
          a.rows.metadata.insert(a.rows.metadata.end(), b.rows.metadata.begin(), b.rows.metadata.end());
          a.rows.versions.insert(a.rows.versions.end(), b.rows.versions.begin(), b.rows.versions.end());
          a.deleted.ids.insert(a.deleted.ids.end(), b.deleted.ids.begin(), b.deleted.ids.end());
          a.deleted.versions.insert(a.deleted.versions.end(), b.deleted.versions.begin(), b.deleted.versions.end());
          fan->arrived();
        },
        fan_in::on_error(fan));
  }
  fan->arrived();
  return rp;
}

void start_sync(router_actor* self) {
  auto& st = self->state;
  if (st.sync_running) {
    st.sync_again = true;
    return;
  }
  if (st.sync_scheduled)
    return;
  st.sync_scheduled = true;
  if (st.peers.empty()) { // nothing to wait for
    run_sync(self);
    return;
  }
  auto settle = std::chrono::milliseconds(std::clamp<uint32_t>(2 * st.cfg.gossip_interval_ms, 20, 2000));
  self->delayed_send(self, settle, sync_tick_atom::value);
}

void run_sync(router_actor* self) {
  auto& st = self->state;
  if (!st.sync_scheduled || st.sync_running)
    return;
  st.sync_scheduled = false;
  st.sync_running = true;
  auto r = std::make_shared<sync_round>();
  for (auto& p : st.peers)
    r->peers.push_back(p.id);
  next_peer(self, r);
}

} // namespace p2p
