#include "actors/vector_router.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>


#include "protocol/messages.hpp"
#include "actors/fan_in.hpp"
#include "actors/pass_on.hpp"
#include "actors/vector_router_state.hpp"
#include "actors/vector_shard.hpp"
#include "core/log.hpp"
#include "storage/collection_catalog.hpp"
#include "storage/vector_keys.hpp"
#include "vectors/batch_rules.hpp"
#include "vectors/distance.hpp"
#include "vectors/placement.hpp"
#include "vectors/top_k.hpp"
#include "vectors/vector_io.hpp"

namespace p2p {

/// The rows `rows` of `b` as a batch of their own.
vector_batch subset(const vector_batch& b, const std::vector<uint32_t>& rows) {
  vector_batch out{b.collection, b.dim, {}, {}, {}};
  out.values.reserve(rows.size() * b.dim);
  for (uint32_t i : rows) {
    out.ids.push_back(b.ids[i]);
    out.values.insert(out.values.end(), b.values.begin() + size_t(i) * b.dim, b.values.begin() + size_t(i + 1) * b.dim);
    if (!b.metadata.empty())
      out.metadata.push_back(b.metadata[i]);
  }
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
  return st.collections.emplace(spec.name, spec).first->second;
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

/// Sends the rows of `batch` that this node stores to their local shards, as parts of `fan`;
/// each part adds the rows it stored to `stored`.
void put_local(router_actor* self, const collection_spec& spec, std::shared_ptr<const vector_batch> batch,
               const std::vector<uint32_t>& rows, bool if_absent, std::shared_ptr<fan_in> fan,
               std::shared_ptr<uint64_t> stored) {
  auto& st = self->state;
  std::vector<shard_put> parts(st.shards.size());
  for (auto& p : parts) {
    p.spec = spec;
    p.batch = batch;
    p.if_absent = if_absent;
  }
  for (uint32_t i : rows)
    parts[st.shard_of(batch->ids[i])].rows.push_back(i);
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].rows.empty())
      continue;
    fan->expect();
    self->request(st.shards[s], shard_timeout, put_atom::value, std::move(parts[s]))
      .then([fan, stored](uint64_t n) { *stored += n, fan->arrived(); }, fan_in::on_error(fan));
  }
}

/// Stores a checked batch: each row on the node that owns its id, acknowledged when all are.
caf::result<uint64_t> store(router_actor* self, const collection_spec& spec, vector_batch&& b, bool local_only,
                            bool if_absent) {
  auto& st = self->state;
  auto shared = std::make_shared<const vector_batch>(std::move(b));
  std::vector<uint32_t> local;
  std::map<size_t, std::vector<uint32_t>> remote; // peer index -> rows
  std::map<std::string, size_t> unreachable;      // down owner -> rows
  auto nodes = st.placement(); // once per batch, not per row
  for (uint32_t i = 0; i < shared->ids.size(); ++i) {
    auto route = local_only ? router_state::route{} : st.route_of(shared->ids[i], nodes);
    if (route.down)
      ++unreachable[route.peer->id];
    else if (route.peer)
      remote[size_t(route.peer - st.peers.data())].push_back(i);
    else
      local.push_back(i);
  }
  // One copy per key: a key whose owner is down cannot be written without being lost (or
  // rolled back) when the owner returns, so the batch is refused whole, before anything is written.
  if (!unreachable.empty()) {
    std::string who;
    size_t rows = 0;
    for (auto& [id, n] : unreachable)
      who += (who.empty() ? "" : ", ") + id, rows += n;
    return make_error(errc::unavailable, "put refused: " + std::to_string(rows) + " of the batch's "
                                           + std::to_string(shared->ids.size()) + " ids belong to " + who
                                           + ", which is down; nothing of the batch was written (one copy "
                                             "per vector: retry once it is back)");
  }
  auto rp = self->make_response_promise<uint64_t>();
  auto stored = std::make_shared<uint64_t>(0);
  auto fan = std::make_shared<fan_in>([rp, stored](const caf::error& failure) mutable {
    if (failure)
      rp.deliver(failure);
    else
      rp.deliver(*stored);
  });
  fan->expect(); // held until every part is sent
  put_local(self, spec, shared, local, if_absent, fan, stored);
  for (auto& [peer, rows] : remote) {
    fan->expect();
    ask_peer<uint64_t>(
      self, st.peers[peer], peer_timeout, [fan, stored](uint64_t n) { *stored += n, fan->arrived(); },
      fan_in::on_error(fan), cluster_put_atom::value, spec, subset(*shared, rows), if_absent);
  }
  fan->arrived();
  return rp;
}

caf::result<uint64_t> put(router_actor* self, vector_batch& b) {
  auto& st = self->state;
  if (auto problem = check_batch(b); !problem.empty())
    return make_error(errc::invalid_input, "put refused: " + problem);
  auto spec = collection_for_put(st, b);
  if (!spec)
    return spec.error();
  return store(self, *spec, std::move(b), false, false);
}

/// A peer stores rows here: the collection comes with them.
caf::result<uint64_t> cluster_put(router_actor* self, const collection_spec& spec, vector_batch& b, bool if_absent) {
  auto& st = self->state;
  if (auto problem = check_batch(b); !problem.empty())
    return make_error(errc::invalid_input, "put refused: " + problem);
  auto it = st.collections.find(spec.name);
  if (it == st.collections.end()) {
    auto added = add_collection(st, spec);
    if (!added)
      return added.error();
    return store(self, *added, std::move(b), true, if_absent);
  }
  if (it->second.dim != spec.dim || it->second.metric != spec.metric)
    return make_error(errc::conflict, "collection '" + spec.name + "' differs between peers (dimension "
                           + std::to_string(it->second.dim) + " here, " + std::to_string(spec.dim) + " there)");
  return store(self, it->second, std::move(b), true, if_absent);
}

/// Merges per-shard top-k lists into one top-k list per query, each id once.
search_result merge(const std::vector<search_result>& parts, size_t queries, size_t k, metric_kind metric,
                    bool with_payload) {
  search_result out;
  out.counts.assign(queries, 0);
  out.took_us.assign(queries, 0);
  std::vector<size_t> offsets(parts.size(), 0);
  std::vector<scored_id> pool;
  std::unordered_map<std::string_view, std::string_view> payload; // id -> metadata, this query
  for (size_t q = 0; q < queries; ++q) {
    pool.clear();
    payload.clear();
    for (size_t s = 0; s < parts.size(); ++s) {
      auto& p = parts[s];
      for (uint32_t i = 0; i < p.counts[q]; ++i) {
        pool.push_back({p.scores[offsets[s] + i], p.ids[offsets[s] + i]});
        if (with_payload && offsets[s] + i < p.metadata.size())
          payload.emplace(p.ids[offsets[s] + i], p.metadata[offsets[s] + i]);
      }
      offsets[s] += p.counts[q];
      out.took_us[q] = std::max(out.took_us[q], p.took_us[q]);
    }
    auto best = top_k_unique(std::move(pool), k, metric);
    pool = {};
    for (auto& hit : best) {
      out.ids.emplace_back(hit.id);
      out.scores.push_back(hit.score);
      if (with_payload) {
        auto it = payload.find(out.ids.back());
        out.metadata.emplace_back(it == payload.end() ? std::string_view() : it->second);
      }
    }
    out.counts[q] = uint32_t(best.size());
  }
  return out;
}

/// Searches this node's shards, and the peers' unless `local_only`, and merges the top k.
caf::result<search_result> search_spec(router_actor* self, const collection_spec& spec, search_request& req,
                                       bool local_only) {
  auto& st = self->state;
  if (req.ef == 0)
    req.ef = st.cfg.hnsw.ef_search;
  size_t shards = st.shards.size();
  size_t peers = local_only ? 0 : st.peers.size();
  auto parts = std::make_shared<std::vector<search_result>>(shards + peers);
  auto rp = self->make_response_promise<search_result>();
  size_t queries = req.queries.size() / req.dim;
  size_t k = req.k;
  auto metric = metric_kind(spec.metric);
  bool with_payload = req.with_payload;
  auto started = std::chrono::steady_clock::now();
  auto fan = std::make_shared<fan_in>(
    [self, rp, parts, queries, k, metric, with_payload, local_only, started](const caf::error& failure) mutable {
      if (!local_only)
        self->state.search_latency.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (failure) {
        rp.deliver(failure);
        return;
      }
      auto merged = merge(*parts, queries, k, metric, with_payload);
      if (!local_only) {
        merged.missing_shards = self->state.missing_shards();
        for (auto& d : self->state.down)
          merged.missing_nodes.push_back(d.id);
      }
      rp.deliver(std::move(merged));
    },
    shards + peers);
  auto into = [parts, fan](size_t slot) {
    return [parts, fan, slot](search_result& r) { (*parts)[slot] = std::move(r), fan->arrived(); };
  };
  for (size_t s = 0; s < shards; ++s)
    self->request(st.shards[s], shard_timeout, search_atom::value, spec, req).then(into(s), fan_in::on_error(fan));
  for (size_t p = 0; p < peers; ++p)
    ask_peer<search_result>(self, st.peers[p], peer_timeout, into(shards + p), fan_in::on_error(fan),
                            cluster_search_atom::value, spec, req);
  return rp;
}

caf::result<search_result> search(router_actor* self, search_request& req) {
  auto& st = self->state;
  auto it = st.collections.find(req.collection);
  if (it == st.collections.end())
    return make_error(errc::not_found, "search refused: no collection '" + req.collection + "'");
  auto spec = it->second;
  if (req.dim != spec.dim)
    return make_error(errc::invalid_input, "search refused: collection '" + req.collection + "' has dimension "
                           + std::to_string(spec.dim) + ", got queries of dimension " + std::to_string(req.dim));
  if (req.queries.empty() || req.queries.size() % req.dim != 0)
    return make_error(errc::invalid_input, "search refused: the query values are not a whole number of vectors");
  if (req.k == 0 || req.k > 10000)
    return make_error(errc::invalid_input, "search refused: k must be from 1 to 10000, got " + std::to_string(req.k));
  if (auto bad = first_non_finite(req.queries.data(), req.queries.size()); bad != SIZE_MAX)
    return make_error(errc::invalid_input, "search refused: query " + std::to_string(bad / req.dim) + ", value "
                           + std::to_string(bad % req.dim) + " is not finite");
  return search_spec(self, spec, req, false);
}

caf::result<std::vector<collection_info>> stats(router_actor* self) {
  auto& st = self->state;
  auto acc = std::make_shared<std::map<std::string, collection_info>>();
  for (auto& [name, spec] : st.collections)
    (*acc)[name] = {name, spec.dim, std::string(to_string(metric_kind(spec.metric))), 0, 0};
  auto rp = self->make_response_promise<std::vector<collection_info>>();
  // A shard that does not answer leaves its counts out; the others still make the figures.
  auto fan = std::make_shared<fan_in>(
    [rp, acc](const caf::error&) mutable {
      std::vector<collection_info> out;
      for (auto& [_, info] : *acc)
        out.push_back(info);
      rp.deliver(std::move(out));
    },
    st.shards.size());
  for (auto& shard : st.shards)
    self->request(shard, shard_timeout, stats_atom::value)
      .then(
        [acc, fan](const std::vector<collection_info>& infos) {
          for (auto& i : infos) {
            (*acc)[i.name].count += i.count;
            (*acc)[i.name].pending += i.pending;
          }
          fan->arrived();
        },
        fan_in::ignore_error(fan));
  return rp;
}

/// Hands the current request to `dest`, which answers the original sender.
caf::behavior router_behavior(router_actor* self, node_config cfg, std::shared_ptr<database> db) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  keep_serving(self, "vector_router");
  st.db = std::move(db);
  load_collections(st);
  std::vector<collection_spec> specs;
  for (auto& [_, spec] : st.collections)
    specs.push_back(spec);
  for (uint16_t s = 0; s < st.cfg.shards; ++s)
    st.shards.push_back(spawn_vector_shard(self, {s, st.db, st.cfg.hnsw, specs}));
  auto lookup = [self](const std::string& collection) -> caf::expected<collection_spec> {
    auto it = self->state.collections.find(collection);
    if (it == self->state.collections.end())
      return make_error(errc::not_found, "not found: no collection '" + collection + "'");
    return it->second;
  };
  return {
    [=](put_atom, vector_batch& b) { return put(self, b); },
    [=](search_atom, search_request& req) { return search(self, req); },
    [=](metrics_atom) { return self->state.search_latency; },
    [=](mailbox_atom) { return uint64_t(self->mailbox().size()); },
    [=](shard_mailbox_atom, uint32_t shard) -> caf::result<uint64_t> {
      auto& shards = self->state.shards;
      if (shard >= shards.size())
        return make_error(errc::not_found, "no shard " + std::to_string(shard) + " (this node has "
                                              + std::to_string(shards.size()) + ")");
      // Asked, not delegated: a delegate with another priority than the request's is not
      // matched to the request when it comes back.
      auto rp = self->make_response_promise<uint64_t>();
      self->request<caf::message_priority::high>(shards[shard], std::chrono::seconds(10), mailbox_atom::value)
        .then([rp](uint64_t n) mutable { rp.deliver(n); }, [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](get_atom, const std::string& collection, const std::string& id) -> caf::result<vector_record> {
      auto spec = lookup(collection);
      if (!spec)
        return spec.error();
      auto route = self->state.route_of(id);
      if (route.down)
        return make_error(errc::unavailable, "vector '" + id + "' is on " + route.peer->id
                                               + ", which is down: unavailable until it is back");
      if (route.peer)
        return relay_to_peer<vector_record>(self, *route.peer, cluster_get_atom::value, *spec, id);
      return pass_on<vector_record>(self, self->state.shards[self->state.shard_of(id)], get_atom::value, *spec, id);
    },
    [=](delete_atom, const std::string& collection, const std::string& id) -> caf::result<bool> {
      auto spec = lookup(collection);
      if (!spec)
        return false;
      auto route = self->state.route_of(id);
      if (route.down)
        return make_error(errc::unavailable, "delete of '" + id + "' refused: it belongs to " + route.peer->id
                                               + ", which is down; retry once it is back");
      if (route.peer)
        return relay_to_peer<bool>(self, *route.peer, cluster_delete_atom::value, *spec, id);
      return pass_on<bool>(self, self->state.shards[self->state.shard_of(id)], delete_atom::value, *spec, id);
    },
    [=](cluster_put_atom, const collection_spec& spec, vector_batch& b, bool if_absent) {
      return cluster_put(self, spec, b, if_absent);
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
    [=](cluster_delete_atom, const collection_spec& spec, const std::string& id) {
      return self->delegate(self->state.shards[self->state.shard_of(id)], delete_atom::value, spec, id);
    },
    [=](members_atom, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
      members_changed(self, infos, nodes);
    },
    [=](leave_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.peers.empty())
        return false; // nowhere to hand the vectors to: they stay here for when it comes back
      st.leaving = true;
      st.leave_waiters.push_back(self->make_response_promise());
      start_rebalance(self);
      return st.leave_waiters.back();
    },
    [=](stats_atom) { return stats(self); },
  };
}

} // namespace

caf::actor spawn_vector_router(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db) {
  return parent->spawn<caf::linked>(router_behavior, cfg, std::move(db));
}

} // namespace p2p
