// Reads: a get from one replica after another, and searches over the fewest members that
// cover every virtual shard, merged into one top-k list per query with each id once.

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

#include "actors/fan_in.hpp"
#include "actors/pass_on.hpp"
#include "actors/vector_router_state.hpp"
#include "vectors/filter.hpp"
#include "actors/vector_shard.hpp"
#include "protocol/messages.hpp"
#include "vectors/distance.hpp"
#include "vectors/placement.hpp"
#include "vectors/top_k.hpp"
#include "vectors/vector_io.hpp"

namespace p2p {

namespace {

/// Reads `id` from one replica: this node when it holds the id and has caught up, else the
/// others in turn (caught-up ones first); a replica that fails (not "not found") passes the
/// read to the next. Unavailable when no replica is live.
void get_from(router_actor* self, const collection_spec& spec, const std::string& id,
              std::shared_ptr<std::vector<uint32_t>> order, size_t at, caf::response_promise rp,
              std::string last_error) {
  auto& st = self->state;
  if (at >= order->size()) {
    rp.deliver(make_error(errc::unavailable, last_error));
    return;
  }
  uint32_t n = (*order)[at];
  auto next = [self, spec, id, order, at, rp](caf::error& e) mutable {
    if (code_of(e) == errc::not_found) {
      rp.deliver(std::move(e));
      return;
    }
    get_from(self, spec, id, order, at + 1, rp, error_text(e));
  };
  if (st.is_self(n)) {
    self->request(st.shards[st.shard_of(id)], shard_timeout, get_atom::value, spec, id)
      .then([rp](vector_record& r) mutable { rp.deliver(std::move(r)); }, next);
    return;
  }
  ask_peer<vector_record>(
    self, st.peer(n), peer_timeout, [rp](vector_record& r) mutable { rp.deliver(std::move(r)); }, next,
    cluster_get_atom::value, spec, id);
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

/// Which members a search asks so that every virtual shard is covered by one replica: greedily
/// the member that covers most of what is left (this node first among equals, then the others in
/// turn, so that equally good replicas share the load), caught-up replicas before those still
/// catching up. What no live replica covers is `missing`.
struct search_plan {
  bool self = false;
  std::vector<uint32_t> peers; // member indices
  uint32_t missing = 0;
  std::set<std::string> missing_nodes;
};

search_plan plan_search(router_state& st) {
  search_plan plan;
  auto& t = st.table;
  uint32_t members = uint32_t(t.nodes().size());
  if (members <= 1) {
    plan.self = !st.leaving;
    return plan;
  }
  std::vector<uint8_t> covered(virtual_shards, 0);
  uint32_t left = virtual_shards;
  uint64_t turn = st.rotation++;
  for (int pass = 0; pass < 2 && left > 0; ++pass) { // pass 0: ready members, 1: live ones
    for (;;) {
      uint32_t best = UINT32_MAX, best_count = 0;
      for (uint32_t k = 0; k < members; ++k) {
        uint32_t n = uint32_t((k + turn) % members);
        if (pass == 0 ? !st.ready(n) : !st.live(n))
          continue;
        uint32_t count = 0;
        for (uint32_t v = 0; v < virtual_shards; ++v)
          count += !covered[v] && t.holds(n, v);
        bool better = count > best_count || (count == best_count && count > 0 && st.is_self(n));
        if (better)
          best = n, best_count = count;
      }
      if (best == UINT32_MAX)
        break;
      for (uint32_t v = 0; v < virtual_shards; ++v)
        if (!covered[v] && t.holds(best, v))
          covered[v] = 1, --left;
      if (st.is_self(best))
        plan.self = true;
      else
        plan.peers.push_back(best);
    }
  }
  plan.missing = left;
  for (uint32_t v = 0; v < virtual_shards && left > 0; ++v)
    if (!covered[v])
      for (auto* n = t.begin(v); n != t.end(v); ++n)
        plan.missing_nodes.insert(st.member_id(*n));
  return plan;
}

/// Searches this node's shards, and the peers the plan names unless `local_only`, merges the
/// top k and hands them (or the first failure) to `done`.
void search_then(router_actor* self, const collection_spec& spec, search_request req, bool local_only,
                 std::function<void(caf::expected<search_result>)> done) {
  auto& st = self->state;
  if (req.ef == 0)
    req.ef = st.cfg.hnsw.ef_search;
  search_plan plan;
  if (local_only)
    plan.self = true;
  else
    plan = plan_search(st);
  size_t shards = plan.self ? st.shards.size() : 0;
  size_t peers = plan.peers.size();
  auto parts = std::make_shared<std::vector<search_result>>(shards + peers);
  size_t queries = req.queries.size() / req.dim;
  size_t k = req.k;
  auto metric = metric_kind(spec.metric);
  bool with_payload = req.with_payload;
  auto started = std::chrono::steady_clock::now();
  auto missing = plan.missing;
  std::vector<std::string> missing_nodes(plan.missing_nodes.begin(), plan.missing_nodes.end());
  auto fan = std::make_shared<fan_in>(
    [self, done, parts, queries, k, metric, with_payload, local_only, started, missing,
     missing_nodes](const caf::error& failure) mutable {
      if (!local_only)
        self->state.board->observe_search(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (failure) {
        done(failure);
        return;
      }
      auto merged = merge(*parts, queries, k, metric, with_payload);
      merged.missing_shards = missing;
      merged.missing_nodes = std::move(missing_nodes);
      done(std::move(merged));
    },
    shards + peers);
  if (shards + peers == 0) { // nothing reachable holds any of it
    fan->expect();
    fan->arrived();
    return;
  }
  auto into = [parts, fan](size_t slot) {
    return [parts, fan, slot](search_result& r) { (*parts)[slot] = std::move(r), fan->arrived(); };
  };
  for (size_t s = 0; s < shards; ++s)
    self->request(st.shards[s], shard_timeout, search_atom::value, spec, req).then(into(s), fan_in::on_error(fan));
  for (size_t p = 0; p < peers; ++p)
    ask_peer<search_result>(self, st.peer(plan.peers[p]), peer_timeout, into(shards + p), fan_in::on_error(fan),
                            cluster_search_atom::value, spec, req);
}

} // namespace

caf::result<vector_record> get(router_actor* self, const collection_spec& spec, const std::string& id) {
  auto& st = self->state;
  if (st.table.nodes().size() <= 1)
    return pass_on<vector_record>(self, st.shards[st.shard_of(id)], get_atom::value, spec, id);
  uint32_t v = vshard_of(id);
  auto order = std::make_shared<std::vector<uint32_t>>();
  std::set<std::string> down;
  for (int pass = 0; pass < 2; ++pass)
    for (auto* n = st.table.begin(v); n != st.table.end(v); ++n) {
      bool take = pass == 0 ? st.ready(*n) : st.live(*n) && !st.ready(*n);
      if (take && pass == 0 && st.is_self(*n))
        order->insert(order->begin(), *n);
      else if (take)
        order->push_back(*n);
      if (pass == 0 && st.is_down(*n))
        down.insert(st.member_id(*n));
    }
  if (order->empty())
    return make_error(errc::unavailable, "vector '" + id + "' is on " + joined(down) + ", which "
                                           + (down.size() == 1 ? "is" : "are") + " down: unavailable until "
                                           + (down.size() == 1 ? "it is" : "one is") + " back");
  auto rp = self->make_response_promise<vector_record>();
  get_from(self, spec, id, order, 0, rp, "");
  return rp;
}

/// search_then, answering the current request. A coordinated search that a peer's drop failed
/// (it went down while the search waited on it) runs once more without it: the other replicas
/// of its virtual shards answer instead.
caf::result<search_result> search_spec(router_actor* self, const collection_spec& spec, search_request& req,
                                       bool local_only) {
  auto rp = self->make_response_promise<search_result>();
  auto deliver = [rp](caf::expected<search_result> r) mutable {
    if (r)
      rp.deliver(std::move(*r));
    else
      rp.deliver(r.error());
  };
  search_then(self, spec, req, local_only,
              [self, spec, req, local_only, deliver](caf::expected<search_result> r) mutable {
                if (!r && !local_only && code_of(r.error()) == errc::unavailable)
                  search_then(self, spec, std::move(req), false, deliver);
                else
                  deliver(std::move(r));
              });
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
  if (req.filter.size() > 64)
    return make_error(errc::invalid_input, "search refused: more than 64 filter conditions");
  std::vector<filter_condition> conditions;
  if (auto err = parse_filters(req.filter, conditions); !err.empty())
    return make_error(errc::invalid_input, "search refused: " + err);
  return search_spec(self, spec, req, false);
}


} // namespace p2p
