#include "actors/vector_shard.hpp"

#include <chrono>

#include <malloc.h>
#include <map>
#include <optional>
#include <unordered_map>

#include "core/log.hpp"
#include "storage/vector_store.hpp"
#include "vectors/distance.hpp"
#include "vectors/placement.hpp"
#include "vectors/shard_index.hpp"

namespace p2p {

namespace {

/// Time one index step may take: short, so that puts and searches queued behind it stay prompt.
constexpr auto index_step_budget = std::chrono::milliseconds(2);
/// Indexing pauses while puts keep arriving (ingest first), until this much is pending.
constexpr size_t pending_high_water = 25000;
constexpr auto ingest_quiet_period = std::chrono::milliseconds(50);

struct shard_state {
  shard_setup setup;
  std::unordered_map<std::string, std::unique_ptr<shard_index>> indexes;
  bool index_scheduled = false;
  std::chrono::steady_clock::time_point last_put{};
  std::vector<shard_hit> hits; // scratch
  std::vector<float> payload_values; // scratch: a hit's values, read with its metadata
  std::optional<vector_store> store; // set on start
  static inline const char* name = "vector_shard";

  shard_index& index_for(const collection_spec& spec) {
    auto& slot = indexes[spec.name];
    if (!slot)
      slot = std::make_unique<shard_index>(spec.dim, metric_kind(spec.metric), setup.hnsw);
    return *slot;
  }

  shard_index* find(const std::string& collection) {
    auto it = indexes.find(collection);
    return it == indexes.end() ? nullptr : it->second.get();
  }

  size_t pending() const {
    size_t n = 0;
    for (auto& [_, idx] : indexes)
      n += idx->pending();
    return n;
  }
};

using shard_actor = vector_shard_actor::stateful_base<shard_state>;

void schedule_indexing(shard_actor* self) {
  if (self->state.index_scheduled || self->state.pending() == 0)
    return;
  self->state.index_scheduled = true;
  self->send(self, index_atom::value);
}

/// One step of graph building, run between other messages.
void index_step(shard_actor* self) {
  auto& st = self->state;
  st.index_scheduled = false;
  auto now = std::chrono::steady_clock::now();
  if (now - st.last_put < ingest_quiet_period && st.pending() < pending_high_water) {
    st.index_scheduled = true;
    self->delayed_send(self, ingest_quiet_period, index_atom::value);
    return;
  }
  auto deadline = now + index_step_budget;
  for (auto& [_, idx] : st.indexes)
    while (idx->pending() > 0 && std::chrono::steady_clock::now() < deadline)
      idx->index_pending(4);
  if (st.pending() == 0)
    malloc_trim(0); // drained: hand the freed batches back to the OS instead of keeping them in malloc's arenas
  schedule_indexing(self);
}

void reload(shard_state& st) {
  std::map<std::string, collection_spec, std::less<>> specs;
  for (auto& spec : st.setup.collections)
    specs.emplace(spec.name, spec);
  size_t loaded = 0, skipped = 0;
  std::vector<float> row;
  std::string_view metadata;
  skipped += st.store->scan([&](std::string_view collection, std::string_view id, std::string_view bytes) {
    auto spec = specs.find(collection);
    row.resize(spec == specs.end() ? 0 : spec->second.dim);
    if (spec == specs.end() || !vector_store::decode_row(bytes, spec->second.dim, row.data(), metadata)) {
      ++skipped;
      return true;
    }
    st.index_for(spec->second).upsert(id, row.data()); // copies
    ++loaded;
    return true;
  });
  if (loaded + skipped > 0)
    log(log_level::info, "shard " + std::to_string(st.setup.shard) + ": reloaded " + std::to_string(loaded)
                           + " vectors" + (skipped ? ", skipped " + std::to_string(skipped) + " unreadable" : ""));
}

caf::result<uint64_t> put(shard_actor* self, const shard_put& p) {
  auto& st = self->state;
  const vector_batch& b = *p.batch;
  std::vector<uint32_t> kept;
  const std::vector<uint32_t>* rows = &p.rows;
  if (p.if_absent) { // a handoff: what this shard holds already is newer
    auto* idx = st.find(p.spec.name);
    for (uint32_t i : p.rows)
      if (!idx || !idx->contains(b.ids[i]))
        kept.push_back(i);
    rows = &kept;
  }
  if (auto s = st.store->put(p.spec.name, b.dim, b.ids, b.values.data(), b.metadata, *rows); !s.ok())
    return make_error(s.code(), s.message());
  auto& idx = st.index_for(p.spec);
  for (uint32_t i : *rows)
    idx.upsert(b.ids[i], &b.values[size_t(i) * b.dim], p.batch); // no copy: the index keeps the batch
  st.last_put = std::chrono::steady_clock::now();
  schedule_indexing(self);
  return uint64_t(p.rows.size());
}

search_result search(shard_state& st, const collection_spec& spec, const search_request& req) {
  search_result out;
  size_t n = req.dim ? req.queries.size() / req.dim : 0;
  out.counts.assign(n, 0);
  out.took_us.assign(n, 0);
  auto* idx = st.find(spec.name);
  if (!idx)
    return out;
  auto metric = metric_kind(spec.metric);
  for (size_t q = 0; q < n; ++q) {
    auto t0 = std::chrono::steady_clock::now();
    idx->search(&req.queries[q * req.dim], req.k, req.ef, req.exact, st.hits);
    for (auto& h : st.hits) {
      out.ids.emplace_back(idx->id_of(h.label));
      out.scores.push_back(score_of(metric, h.distance));
      if (req.with_payload) {
        std::string metadata;
        st.payload_values.clear();
        if (!st.store->get(spec.name, spec.dim, out.ids.back(), st.payload_values, metadata).ok())
          metadata.clear(); // erased since the search found it: no payload to give
        out.metadata.push_back(std::move(metadata));
      }
    }
    out.counts[q] = uint32_t(st.hits.size());
    auto took = std::chrono::steady_clock::now() - t0;
    out.took_us[q] = uint32_t(std::chrono::duration_cast<std::chrono::microseconds>(took).count());
  }
  return out;
}

/// Reads the next vectors of a collection that another node owns now (at most r.max_rows, and
/// at most 20,000 keys looked at per call, so the shard stays responsive).
handoff_batch handoff_scan(shard_state& st, const handoff_request& r) {
  handoff_batch out;
  out.rows.collection = r.collection;
  std::vector<std::pair<std::string, uint32_t>> nodes;
  for (size_t i = 0; i < r.node_ids.size(); ++i)
    nodes.emplace_back(r.node_ids[i], r.node_shards[i]);
  auto* idx = st.find(r.collection);
  if (!idx || nodes.empty()) {
    out.done = true;
    return out;
  }
  out.rows.dim = idx->dim();
  size_t looked = 0;
  out.next_after = r.after;
  std::string_view metadata;
  out.done = st.store->scan_from(r.collection, out.next_after, [&](std::string_view, std::string_view id,
                                                                   std::string_view row) {
    if (out.rows.ids.size() >= r.max_rows || ++looked > 20000)
      return false;
    size_t owner = owner_node(nodes, id);
    if (nodes[owner].first == r.self_id)
      return true;
    size_t at = out.rows.values.size();
    out.rows.values.resize(at + out.rows.dim);
    if (!vector_store::decode_row(row, out.rows.dim, out.rows.values.data() + at, metadata)) {
      out.rows.values.resize(at);
      return true;
    }
    out.rows.ids.emplace_back(id);
    out.rows.metadata.emplace_back(metadata);
    out.owners.push_back(uint32_t(owner));
    return true;
  });
  return out;
}

vector_shard_actor::behavior_type shard_behavior(shard_actor* self, shard_setup setup) {
  self->state.setup = std::move(setup);
  self->state.store.emplace(self->state.setup.db, self->state.setup.shard);
  keep_serving(self, "vector_shard");
  reload(self->state);
  schedule_indexing(self);
  return {
    [=](put_atom, const shard_put& p) { return put(self, p); },
    [=](search_atom, const collection_spec& spec, const search_request& req) {
      return search(self->state, spec, req);
    },
    [=](get_atom, const collection_spec& spec, const std::string& id) -> caf::result<vector_record> {
      vector_record rec;
      rec.id = id;
      if (auto s = self->state.store->get(spec.name, spec.dim, id, rec.values, rec.metadata); !s.ok())
        return make_error(s.code(), s.message());
      return rec;
    },
    [=](delete_atom, const collection_spec& spec, const std::string& id) -> caf::result<bool> {
      auto& st = self->state;
      auto* idx = st.find(spec.name);
      if (!idx || !idx->contains(id))
        return false;
      if (auto s = st.store->erase(spec.name, {id}); !s.ok())
        return make_error(s.code(), s.message());
      idx->erase(id);
      return true;
    },
    [=](handoff_atom, const handoff_request& r) { return handoff_scan(self->state, r); },
    [=](drop_atom, const std::string& collection, const std::vector<std::string>& ids) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto* idx = st.find(collection);
      if (auto s = st.store->erase(collection, ids); !s.ok())
        return make_error(s.code(), s.message());
      uint64_t dropped = 0;
      for (auto& id : ids)
        dropped += idx && idx->erase(id) ? 1 : 0;
      return dropped;
    },
    [=](mailbox_atom) { return uint64_t(self->mailbox().size()); },
    [=](stats_atom) {
      std::vector<collection_info> out;
      for (auto& [name, idx] : self->state.indexes)
        out.push_back({name, idx->dim(), std::string(to_string(idx->metric())), idx->size(), idx->pending()});
      return out;
    },
    [=](index_atom) { index_step(self); },
  };
}

} // namespace

vector_shard_actor spawn_vector_shard(caf::event_based_actor* parent, shard_setup setup) {
  return parent->spawn<caf::linked>(shard_behavior, std::move(setup));
}

} // namespace p2p
