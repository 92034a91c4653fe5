#include "actors/vector_shard.hpp"

#include <chrono>
#include <cstring>

#include <malloc.h>
#include <unordered_map>

#include "core/log.hpp"
#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
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
  rocksdb::WriteBatch write_batch;
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
  std::unordered_map<std::string, collection_spec> specs;
  for (auto& spec : st.setup.collections)
    specs.emplace(spec.name, spec);
  size_t loaded = 0, skipped = 0;
  st.setup.db->scan(column::vectors, shard_prefix(st.setup.shard), [&](std::string_view key, std::string_view value) {
    vector_key_parts parts;
    auto spec = parse_vector_key(key, parts) ? specs.find(std::string(parts.collection)) : specs.end();
    if (spec == specs.end() || value.size() < size_t(spec->second.dim) * 4) {
      ++skipped;
      return;
    }
    // Values may be unaligned in RocksDB's blocks: copy before use.
    thread_local std::vector<float> row;
    row.resize(spec->second.dim);
    std::memcpy(row.data(), value.data(), row.size() * 4);
    st.index_for(spec->second).upsert(parts.id, row.data()); // copies
    ++loaded;
  });
  if (loaded + skipped > 0)
    log(log_level::info, "shard " + std::to_string(st.setup.shard) + ": reloaded " + std::to_string(loaded)
                           + " vectors" + (skipped ? ", skipped " + std::to_string(skipped) + " unreadable" : ""));
}

caf::result<uint64_t> put(shard_actor* self, const shard_put& p) {
  auto& st = self->state;
  const vector_batch& b = *p.batch;
  size_t row_bytes = size_t(b.dim) * 4;
  auto& wb = st.write_batch; // reused: its buffer keeps its capacity across puts
  wb.Clear();
  std::string key, value;
  std::vector<uint32_t> kept;
  const std::vector<uint32_t>* rows = &p.rows;
  if (p.if_absent) { // a handoff: what this shard holds already is newer
    auto* idx = st.find(p.spec.name);
    for (uint32_t i : p.rows)
      if (!idx || !idx->contains(b.ids[i]))
        kept.push_back(i);
    rows = &kept;
  }
  for (uint32_t i : *rows) {
    key = vector_key(st.setup.shard, p.spec.name, b.ids[i]);
    value.assign(reinterpret_cast<const char*>(&b.values[size_t(i) * b.dim]), row_bytes);
    if (!b.metadata.empty())
      value += b.metadata[i];
    wb.Put(st.setup.db->cf(column::vectors), key, value);
  }
  if (auto s = st.setup.db->write(wb); !s.ok())
    return make_error(errc::storage_failure, "storage write failed: " + s.ToString());
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
  auto prefix = vector_key(st.setup.shard, r.collection, "");
  size_t looked = 0;
  out.next_after = r.after;
  out.done = st.setup.db->scan_after(column::vectors, prefix, r.after, [&](std::string_view key, std::string_view value) {
    if (out.rows.ids.size() >= r.max_rows || ++looked > 20000)
      return false;
    out.next_after = std::string(key);
    auto id = key.substr(prefix.size());
    size_t owner = owner_node(nodes, id);
    if (nodes[owner].first == r.self_id || value.size() < size_t(out.rows.dim) * 4)
      return true;
    out.rows.ids.emplace_back(id);
    size_t at = out.rows.values.size();
    out.rows.values.resize(at + out.rows.dim);
    std::memcpy(out.rows.values.data() + at, value.data(), size_t(out.rows.dim) * 4);
    out.rows.metadata.emplace_back(value.substr(size_t(out.rows.dim) * 4));
    out.owners.push_back(uint32_t(owner));
    return true;
  });
  return out;
}

vector_shard_actor::behavior_type shard_behavior(shard_actor* self, shard_setup setup) {
  self->state.setup = std::move(setup);
  keep_serving(self, "vector_shard");
  reload(self->state);
  schedule_indexing(self);
  return {
    [=](put_atom, const shard_put& p) { return put(self, p); },
    [=](search_atom, const collection_spec& spec, const search_request& req) {
      return search(self->state, spec, req);
    },
    [=](get_atom, const collection_spec& spec, const std::string& id) -> caf::result<vector_record> {
      std::string value;
      auto s = self->state.setup.db->get(column::vectors, vector_key(self->state.setup.shard, spec.name, id), &value);
      if (s.IsNotFound())
        return make_error(errc::not_found, "not found: no id '" + id + "' in collection '" + spec.name + "'");
      if (!s.ok())
        return make_error(errc::storage_failure, "storage read failed: " + s.ToString());
      vector_record rec;
      rec.id = id;
      rec.values.resize(spec.dim);
      std::memcpy(rec.values.data(), value.data(), size_t(spec.dim) * 4);
      rec.metadata = value.substr(size_t(spec.dim) * 4);
      return rec;
    },
    [=](delete_atom, const collection_spec& spec, const std::string& id) -> caf::result<bool> {
      auto& st = self->state;
      auto* idx = st.find(spec.name);
      if (!idx || !idx->contains(id))
        return false;
      rocksdb::WriteBatch wb;
      wb.Delete(st.setup.db->cf(column::vectors), vector_key(st.setup.shard, spec.name, id));
      if (auto s = st.setup.db->write(wb); !s.ok())
        return make_error(errc::storage_failure, "storage write failed: " + s.ToString());
      idx->erase(id);
      return true;
    },
    [=](handoff_atom, const handoff_request& r) { return handoff_scan(self->state, r); },
    [=](drop_atom, const std::string& collection, const std::vector<std::string>& ids) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto* idx = st.find(collection);
      rocksdb::WriteBatch wb;
      for (auto& id : ids)
        wb.Delete(st.setup.db->cf(column::vectors), vector_key(st.setup.shard, collection, id));
      if (auto s = st.setup.db->write(wb); !s.ok())
        return make_error(errc::storage_failure, "storage write failed: " + s.ToString());
      uint64_t dropped = 0;
      for (auto& id : ids)
        dropped += idx && idx->erase(id) ? 1 : 0;
      return dropped;
    },
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
