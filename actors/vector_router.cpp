#include "actors/vector_router.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>


#include "protocol/messages.hpp"
#include "actors/fan_in.hpp"
#include "actors/vector_router_state.hpp"
#include "actors/vector_shard.hpp"
#include "core/counters.hpp"
#include "core/log.hpp"
#include "storage/collection_catalog.hpp"
#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "vectors/batch_rules.hpp"
#include "vectors/index_slots.hpp"
#include "vectors/placement.hpp"

namespace p2p {

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

namespace {

void load_collections(router_state& st) {
  auto unreadable = collection_catalog(st.db).load([&](collection_record&& c) {
    st.collections.emplace(c.name, collection_spec{c.name, c.dim, uint8_t(c.metric)});
  });
  if (unreadable)
    log(log_level::warn, "skipped " + std::to_string(unreadable) + " unreadable collection records");
}

/// Records a collection on disk, then in the router's map.
caf::expected<collection_spec> add_collection(router_state& st, const collection_spec& spec) {
  if (auto s = collection_catalog(st.db).put({spec.name, spec.dim, metric_kind(spec.metric)}); !s.ok())
    return make_error(s.code(), s.message());
  auto& added = st.collections.emplace(spec.name, spec).first->second;
  st.publish_collections();
  return added;
}

/// Checks a batch as a whole, so that it is applied entirely or not at all.
std::string check_batch(const vector_batch& b) {
  return check_vector_batch(b.collection, b.dim, b.ids, b.values, b.metadata);
}

/// The collection for a put, created with the node's dim and metric on first use.
caf::expected<collection_spec> collection_for_put(router_state& st, const vector_batch& b) {
  if (auto it = st.collections.find(b.collection); it != st.collections.end()) {
    if (it->second.dim != b.dim)
      return make_error(errc::invalid_input, "collection '" + b.collection + "' has dimension " + std::to_string(it->second.dim)
                             + ", got vectors of dimension " + std::to_string(b.dim));
    return it->second;
  }
  if (b.dim != st.cfg.dim)
    return make_error(errc::invalid_input, "new collection '" + b.collection + "' takes vectors.dim = " + std::to_string(st.cfg.dim)
                           + ", got vectors of dimension " + std::to_string(b.dim));
  auto spec = add_collection(st, collection_spec{b.collection, b.dim, uint8_t(st.cfg.metric)});
  if (!spec)
    return spec.error();
  log(log_level::info, "created collection '" + spec->name + "' (dim " + std::to_string(spec->dim) + ", "
                         + std::string(to_string(st.cfg.metric)) + ")");
  return spec;
}

/// Sends the rows `rows` of `batch` to their local shards, as parts of `fan`.
void put_local(router_actor* self, const collection_spec& spec, std::shared_ptr<const vector_batch> batch,
               const std::vector<uint32_t>& rows, std::shared_ptr<fan_in> fan) {
  auto& st = self->state;
  std::vector<shard_put> parts(st.shards.size());
  for (auto& p : parts) {
    p.spec = spec;
    p.batch = batch;
  }
  for (uint32_t i : rows)
    parts[st.shard_of(batch->ids[i])].rows.push_back(i);
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].rows.empty())
      continue;
    fan->expect();
    self->request(st.shards[s], shard_timeout, put_atom::value, std::move(parts[s]))
      .then([fan](uint64_t) { fan->arrived(); }, fan_in::on_error(fan));
  }
}

/// Sends tombstones to their local shards, as parts of `fan`; adds how many existed to `existed`.
void delete_local(router_actor* self, const collection_spec& spec, const id_versions& d, std::shared_ptr<fan_in> fan,
                  std::shared_ptr<uint64_t> existed) {
  auto& st = self->state;
  std::vector<id_versions> parts(st.shards.size());
  for (size_t i = 0; i < d.ids.size(); ++i) {
    auto& p = parts[st.shard_of(d.ids[i])];
    p.ids.push_back(d.ids[i]);
    p.versions.push_back(d.versions[i]);
  }
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].ids.empty())
      continue;
    fan->expect();
    self->request(st.shards[s], shard_timeout, delete_atom::value, spec, std::move(parts[s]))
      .then([fan, existed](uint64_t n) { *existed += n, fan->arrived(); }, fan_in::on_error(fan));
  }
}

/// The members (indices) that hold each row's virtual shard, split into live ones and a count of
/// down ones; rows with no live replica are named in `unreachable` (their down replicas).
struct write_plan {
  std::vector<uint32_t> local;
  std::map<uint32_t, std::vector<uint32_t>> remote; // member index -> rows
  size_t unreachable_rows = 0;
  std::set<std::string> unreachable_nodes;
  size_t missed_copies = 0; // copies a down replica will catch up on
};

template <class Ids>
write_plan plan_writes(const router_state& st, const Ids& ids) {
  write_plan plan;
  for (uint32_t i = 0; i < ids.size(); ++i) {
    uint32_t v = vshard_of(ids[i]);
    bool any_live = false;
    for (auto* n = st.table.begin(v); n != st.table.end(v); ++n) {
      if (st.is_self(*n))
        plan.local.push_back(i), any_live = true;
      else if (st.is_down(*n))
        ++plan.missed_copies;
      else
        plan.remote[*n].push_back(i), any_live = true;
    }
    if (!any_live) {
      ++plan.unreachable_rows;
      for (auto* n = st.table.begin(v); n != st.table.end(v); ++n)
        plan.unreachable_nodes.insert(st.member_id(*n));
    }
  }
  return plan;
}


/// Stores a checked, versioned batch: each row on every live replica of its virtual shard (all of
/// it here when `local_only`), acknowledged when all are. A down replica catches up on return.
caf::result<uint64_t> store(router_actor* self, const collection_spec& spec, vector_batch&& b, bool local_only,
                            std::function<void()> settled = {}) {
  auto& st = self->state;
  auto shared = std::make_shared<const vector_batch>(std::move(b));
  write_plan plan;
  if (local_only || st.table.nodes().size() <= 1) {
    plan.local.resize(shared->ids.size());
    for (uint32_t i = 0; i < plan.local.size(); ++i)
      plan.local[i] = i;
  } else {
    plan = plan_writes(st, shared->ids);
  }
  // A row with no live replica cannot be written without being lost (or rolled back) when its
  // replicas return: the batch is refused whole, before anything is written.
  if (plan.unreachable_rows > 0) {
    if (settled)
      settled();
    return make_error(errc::unavailable, "put refused: " + std::to_string(plan.unreachable_rows) + " of the batch's "
                                           + std::to_string(shared->ids.size()) + " ids belong only to "
                                           + joined(plan.unreachable_nodes) + ", which "
                                           + (plan.unreachable_nodes.size() == 1 ? "is" : "are")
                                           + " down; nothing of the batch was written (retry once one is back)");
  }
  // Acknowledged when every live replica of each row holds it. A replica dropped while the
  // write waited on it counts as down: it catches up on return, and the write stands if every
  // row is held by some other replica.
  auto rp = self->make_response_promise<uint64_t>();
  uint64_t rows = shared->ids.size();
  auto held = std::make_shared<std::vector<uint8_t>>(rows, 0);
  auto lost_replica = std::make_shared<bool>(false);
  auto fan = std::make_shared<fan_in>([rp, rows, held, lost_replica, local_only, settled](const caf::error& failure) mutable {
    if (settled)
      settled();
    if (failure) {
      rp.deliver(failure);
      return;
    }
    if (*lost_replica) {
      auto unheld = size_t(std::count(held->begin(), held->end(), 0));
      if (unheld > 0) {
        rp.deliver(make_error(errc::unavailable, "put failed: " + std::to_string(unheld) + " of the batch's "
                                                   + std::to_string(rows) + " ids lost every replica while it was "
                                                   "written; retry the batch"));
        return;
      }
    }
    if (!local_only) // a client's put, not a replica's copy
      counters().vectors_stored.fetch_add(rows, std::memory_order_relaxed);
    rp.deliver(rows);
  });
  auto mark = [held](const std::vector<uint32_t>& part) {
    for (uint32_t i : part)
      (*held)[i] = 1;
  };
  fan->expect(); // held until every part is sent
  {
    auto part_fan = std::make_shared<fan_in>([fan, mark, local = plan.local](const caf::error& e) {
      if (e) {
        fan->failed(e);
        return;
      }
      mark(local);
      fan->arrived();
    });
    fan->expect();
    part_fan->expect();
    // The shards keep the batch their rows came in until those rows are in the graph. When most
    // of this one went to peers, the local rows get a batch of their own, so that a node that
    // forwards two thirds of every put does not hold every whole batch for the third it keeps.
    if (!plan.local.empty() && plan.local.size() * 2 < shared->ids.size()) {
      std::vector<uint32_t> rows(plan.local.size());
      std::iota(rows.begin(), rows.end(), uint32_t(0));
      put_local(self, spec, std::make_shared<const vector_batch>(subset(*shared, plan.local)), rows, part_fan);
    } else {
      put_local(self, spec, shared, plan.local, part_fan);
    }
    part_fan->arrived();
  }
  for (auto& [member, part] : plan.remote) {
    fan->expect();
    ask_peer<uint64_t>(
      self, st.peer(member), peer_timeout,
      [fan, mark, part = part](uint64_t) {
        mark(part);
        fan->arrived();
      },
      [fan, lost_replica](caf::error& e) {
        if (code_of(e) == errc::unavailable) { // dropped while this waited: it catches up later
          *lost_replica = true;
          fan->arrived();
          return;
        }
        fan->failed(std::move(e));
      },
      cluster_put_atom::value, spec, batch_rows{shared, part, {}});
  }
  fan->arrived();
  return rp;
}

caf::result<uint64_t> put(router_actor* self, vector_batch& b) {
  auto& st = self->state;
  // Backpressure: a batch past the in-flight limit is refused at once (one batch is always let in,
  // however large, so that a batch over the limit on its own still goes through when alone),
  // before it is checked: a flood is turned away at the cost of adding up its sizes, not of
  // reading every float (which let 482 messages pile up in the router during a flood).
  uint64_t bytes = batch_bytes(b), limit = uint64_t(st.cfg.max_inflight_mb) << 20;
  if (st.inflight_bytes > 0 && st.inflight_bytes + bytes > limit)
    return make_error(errc::busy, "busy: " + std::to_string(st.inflight_bytes >> 20) + " MiB of puts in flight (vectors.max_inflight_mb "
                                    + std::to_string(st.cfg.max_inflight_mb) + "); retry after a pause");
  if (auto problem = check_batch(b); !problem.empty())
    return make_error(errc::invalid_input, "put refused: " + problem);
  auto spec = collection_for_put(st, b);
  if (!spec)
    return spec.error();
  // One version for the whole batch, assigned where it enters the cluster.
  b.versions.assign(b.ids.size(), st.clock.next());
  st.inflight_bytes += bytes;
  // The bytes leave the count when the answer goes out, whatever it is.
  return store(self, *spec, std::move(b), false,
               [self, bytes] { self->state.inflight_bytes -= std::min(self->state.inflight_bytes, bytes); });
}

} // namespace

caf::expected<collection_spec> known_collection(router_state& st, const collection_spec& spec) {
  auto it = st.collections.find(spec.name);
  if (it == st.collections.end())
    return add_collection(st, spec);
  if (it->second.dim != spec.dim || it->second.metric != spec.metric)
    return make_error(errc::conflict, "collection '" + spec.name + "' differs between peers (dimension "
                                        + std::to_string(it->second.dim) + " here, " + std::to_string(spec.dim) + " there)");
  return it->second;
}

void apply_local(router_actor* self, const collection_spec& spec, versioned_rows&& data,
                 std::function<void(const caf::error&)> done) {
  auto fan = std::make_shared<fan_in>(std::move(done));
  fan->expect();
  if (!data.rows.ids.empty()) {
    auto batch = std::make_shared<const vector_batch>(std::move(data.rows));
    std::vector<uint32_t> rows(batch->ids.size());
    for (uint32_t i = 0; i < rows.size(); ++i)
      rows[i] = i;
    put_local(self, spec, batch, rows, fan);
  }
  if (!data.deleted.ids.empty())
    delete_local(self, spec, data.deleted, fan, std::make_shared<uint64_t>(0));
  fan->arrived();
}

namespace {

/// A peer stores rows here: the collection and the versions come with them.
caf::result<uint64_t> cluster_put(router_actor* self, const collection_spec& spec, vector_batch& b) {
  auto& st = self->state;
  if (auto problem = check_batch(b); !problem.empty())
    return make_error(errc::invalid_input, "put refused: " + problem);
  if (b.versions.size() != b.ids.size())
    return make_error(errc::invalid_input, "put refused: " + std::to_string(b.versions.size()) + " versions for "
                                             + std::to_string(b.ids.size()) + " ids");
  auto known = known_collection(st, spec);
  if (!known)
    return known.error();
  for (auto v : b.versions)
    st.clock.observe(v);
  return store(self, *known, std::move(b), true);
}

/// Tombstones `d` on every live replica of each id (only here when `local_only`), then calls
/// `done` with how many ids existed (on some replica) or the error.
void erase_then(router_actor* self, const collection_spec& spec, id_versions&& d, bool local_only,
                std::function<void(caf::expected<uint64_t>)> done) {
  auto& st = self->state;
  write_plan plan;
  if (local_only || st.table.nodes().size() <= 1) {
    for (uint32_t i = 0; i < d.ids.size(); ++i)
      plan.local.push_back(i);
  } else {
    plan = plan_writes(st, d.ids);
  }
  if (plan.unreachable_rows > 0) {
    done(make_error(errc::unavailable, "delete refused: " + std::string(d.ids.size() == 1 ? "'" + d.ids[0] + "'" : "ids")
                                         + " belong" + (d.ids.size() == 1 ? "s" : "") + " only to "
                                         + joined(plan.unreachable_nodes) + ", which "
                                         + (plan.unreachable_nodes.size() == 1 ? "is" : "are")
                                         + " down; nothing was deleted (retry once one is back)"));
    return;
  }
  auto pick = [&](const std::vector<uint32_t>& rows) {
    id_versions out;
    for (uint32_t i : rows) {
      out.ids.push_back(d.ids[i]);
      out.versions.push_back(d.versions[i]);
    }
    return out;
  };
  auto existed = std::make_shared<uint64_t>(0);
  auto fan = std::make_shared<fan_in>([done, existed, local_only](const caf::error& failure) mutable {
    if (failure) {
      done(failure);
      return;
    }
    if (!local_only) // a client's delete, not a replica's copy
      counters().vectors_deleted.fetch_add(*existed, std::memory_order_relaxed);
    done(*existed);
  });
  fan->expect();
  if (!plan.local.empty())
    delete_local(self, spec, pick(plan.local), fan, existed);
  for (auto& [member, rows] : plan.remote) {
    fan->expect();
    ask_peer<uint64_t>(
      self, st.peer(member), peer_timeout, [fan, existed](uint64_t n) { *existed = std::max(*existed, n), fan->arrived(); },
      fan_in::on_error(fan), cluster_delete_atom::value, spec, pick(rows));
  }
  fan->arrived();
}

caf::result<uint64_t> erase(router_actor* self, const collection_spec& spec, id_versions&& d, bool local_only) {
  auto rp = self->make_response_promise<uint64_t>();
  erase_then(self, spec, std::move(d), local_only, [rp](caf::expected<uint64_t> r) mutable {
    if (r)
      rp.deliver(*r);
    else
      rp.deliver(r.error());
  });
  return rp;
}

/// The collections here with this node's counts, from the board that the shards keep current;
/// while shards are still loading, once each has answered (a shard answers after its start).
caf::result<std::vector<collection_info>> stats(router_actor* self) {
  auto& st = self->state;
  if (st.board->ready())
    return st.board->read();
  auto rp = self->make_response_promise<std::vector<collection_info>>();
  auto fan = std::make_shared<fan_in>(
    [rp, board = st.board](const caf::error&) mutable { rp.deliver(board->read()); }, st.shards.size());
  for (auto& shard : st.shards)
    self->request<caf::message_priority::high>(shard, shard_timeout, mailbox_atom::value)
      .then([fan](uint64_t) { fan->arrived(); }, fan_in::ignore_error(fan));
  return rp;
}

/// Hands the current request to `dest`, which answers the original sender.
caf::behavior router_behavior(router_actor* self, node_config cfg, std::shared_ptr<database> db,
                              std::shared_ptr<collection_board> board) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  keep_serving(self, "vector_router");
  st.db = std::move(db);
  st.board = std::move(board);
  load_collections(st);
  std::vector<collection_spec> specs;
  for (auto& [_, spec] : st.collections)
    specs.push_back(spec);
  auto slots = std::make_shared<index_slots>(st.cfg.graph_threads());
  st.board->attach_slots(slots);
  for (uint16_t s = 0; s < st.cfg.shards; ++s) {
    st.shards.push_back(spawn_vector_shard(self, {s, st.db, st.cfg.hnsw, specs, st.board, slots}));
    st.board->attach_mailbox(s, mailbox_counts_of(st.shards.back()));
  }
  st.clock = hybrid_clock(version_tag(st.cfg.id));
  st.rebuild_table();
  start_sync(self);
  self->delayed_send(self, anti_entropy_interval, anti_entropy_atom::value);
  auto lookup = [self](const std::string& collection) -> caf::expected<collection_spec> {
    auto it = self->state.collections.find(collection);
    if (it == self->state.collections.end())
      return make_error(errc::not_found, "not found: no collection '" + collection + "'");
    return it->second;
  };
  return {
    [=](put_atom, vector_batch& b) { return put(self, b); },
    [=](search_atom, search_request& req) { return search(self, req); },
    [=](get_atom, const std::string& collection, const std::string& id) -> caf::result<vector_record> {
      auto spec = lookup(collection);
      if (!spec)
        return spec.error();
      return get(self, *spec, id);
    },
    [=](delete_atom, const std::string& collection, const std::string& id) -> caf::result<bool> {
      auto spec = lookup(collection);
      if (!spec)
        return false;
      auto rp = self->make_response_promise<bool>();
      erase_then(self, *spec, id_versions{{id}, {self->state.clock.next()}}, false,
                 [rp](caf::expected<uint64_t> r) mutable {
                   if (r)
                     rp.deliver(*r > 0);
                   else
                     rp.deliver(r.error());
                 });
      return rp;
    },
    [=](cluster_put_atom, const collection_spec& spec, vector_batch& b) { return cluster_put(self, spec, b); },
    [=](cluster_put_atom, const collection_spec& spec, batch_rows& r) {
      auto b = std::move(r).take();
      return cluster_put(self, spec, b);
    },
    [=](cluster_search_atom, const collection_spec& spec, search_request& req) -> caf::result<search_result> {
      if (!self->state.collections.count(spec.name)) { // nothing of it stored here
        search_result empty;
        size_t n = req.dim ? req.queries.size() / req.dim : 0;
        empty.counts.assign(n, 0);
        empty.took_us.assign(n, 0);
        return empty;
      }
      return search_spec(self, spec, req, true);
    },
    [=](cluster_get_atom, const collection_spec& spec, const std::string& id) {
      return self->delegate(self->state.shards[self->state.shard_of(id)], get_atom::value, spec, id);
    },
    [=](cluster_delete_atom, const collection_spec& spec, id_versions& d) -> caf::result<uint64_t> {
      if (d.ids.size() != d.versions.size())
        return make_error(errc::invalid_input, "delete refused: " + std::to_string(d.versions.size())
                                                 + " versions for " + std::to_string(d.ids.size()) + " ids");
      auto known = known_collection(self->state, spec);
      if (!known)
        return known.error();
      for (auto v : d.versions)
        self->state.clock.observe(v);
      return erase(self, *known, std::move(d), true);
    },
    [=](sync_specs_atom) {
      std::vector<collection_spec> out;
      for (auto& [_, spec] : self->state.collections)
        out.push_back(spec);
      return out;
    },
    [=](sync_digest_atom, const std::string& collection) { return local_digest(self, collection); },
    [=](sync_list_atom, const std::string& collection, uint32_t vshard) { return local_list(self, collection, vshard); },
    [=](sync_fetch_atom, const std::string& collection, const std::vector<std::string>& ids) {
      return local_fetch(self, collection, ids);
    },
    [=](sync_tick_atom) { run_sync(self); },
    [=](serving_atom) {
      auto& st = self->state;
      if (!st.syncing)
        return std::string();
      return std::string(st.peers.empty() ? "not caught up: no peer reached yet (cluster.bootstrap: "
                                                + std::to_string(st.cfg.bootstrap.size()) + " addresses)"
                                          : "catching up with its peers");
    },
    [=](anti_entropy_atom) {
      if (!self->state.peers.empty())
        start_sync(self);
      self->delayed_send(self, anti_entropy_interval, anti_entropy_atom::value);
    },
    [=](ready_atom, const std::string& id) {
      auto& st = self->state;
      if (std::any_of(st.peers.begin(), st.peers.end(), [&](auto& p) { return p.id == id; })) {
        if (st.not_ready.erase(id))
          log(log_level::info, "peer " + id + " caught up: reading from it again");
      } else {
        st.ready_early.insert(id);
      }
    },
    [=](members_atom, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
      members_changed(self, infos, nodes);
    },
    [=](leave_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.peers.empty())
        return false; // nowhere to hand the vectors to: they stay here for when it comes back
      st.leaving = true;
      st.rebuild_table();
      st.leave_waiters.push_back(self->make_response_promise());
      start_rebalance(self);
      return st.leave_waiters.back();
    },
    [=](stats_atom) { return stats(self); },
    [=](snapshot_atom, const std::string& out) -> caf::result<std::string> {
      auto& st = self->state;
      namespace fs = std::filesystem;
      std::error_code ec;
      if (fs::exists(out, ec))
        return make_error(errc::invalid_input, "snapshot: " + out + " exists already; name a new directory");
      auto t0 = std::chrono::steady_clock::now();
      if (auto s = st.db->checkpoint(out); !s.ok())
        return make_error(s.code(), s.message());
      // The graphs are a cache of the database: a pair copied while a shard saves a newer one
      // does not match its checksum and is rebuilt on restore, never trusted.
      size_t graphs = 0;
      fs::path from = st.db->dir() + "/graphs";
      if (fs::is_directory(from, ec)) {
        fs::create_directories(fs::path(out) / "graphs", ec);
        for (auto& e : fs::directory_iterator(from, ec)) {
          if (e.path().extension() != ".hnsw" && e.path().extension() != ".meta")
            continue;
          auto to = fs::path(out) / "graphs" / e.path().filename();
          std::error_code link_ec;
          fs::create_hard_link(e.path(), to, link_ec); // the file is replaced by rename, never written in place
          if (link_ec)
            fs::copy_file(e.path(), to, ec);
          graphs += !ec;
        }
      }
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      log(log_level::info, "snapshot written to " + out + " in " + std::to_string(ms) + " ms");
      return "snapshot of " + st.cfg.id + " in " + out + " (" + std::to_string(graphs / 2) + " saved graphs, "
             + std::to_string(ms) + " ms)";
    },
    [=](collection_create_atom, collection_spec& spec) { return create_collection(self, spec); },
    [=](cluster_collection_create_atom, collection_spec& spec) { return accept_collection(self, spec); },
    [=](collection_drop_atom, std::string& name) { return drop_collection(self, name); },
    [=](cluster_collection_drop_atom, std::string& name) { return drop_local(self, name); },
    [=](vshard_counts_atom) { return local_counts(self); },
    [=](collection_list_atom) { return list_collections(self); },
    [=](graph_save_atom) -> caf::result<uint64_t> {
      auto rp = self->make_response_promise<uint64_t>();
      summing_fan sum(rp);
      sum.fan->expect(self->state.shards.size());
      for (auto& shard : self->state.shards)
        self->request(shard, caf::infinite, graph_save_atom::value).then(sum.add(), fan_in::on_error(sum.fan));
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_vector_router(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                               std::shared_ptr<collection_board> board) {
  // Told here, in the caller's turn, not in the router's start (which runs later, on a scheduler
  // thread): a status asked in between would otherwise find a board that expects no shard, call
  // it ready and show no collections.
  if (!board)
    board = std::make_shared<collection_board>();
  board->expect(cfg.shards);
  return parent->spawn<caf::linked>(router_behavior, cfg, std::move(db), std::move(board));
}

} // namespace p2p
