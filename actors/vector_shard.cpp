#include "actors/vector_shard.hpp"
#include "actors/counted_actor.hpp"

#include <chrono>
#include <deque>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <malloc.h>
#include <map>
#include <optional>
#include <unordered_map>

#include "actors/collection_board.hpp"
#include "core/hashing.hpp"
#include "core/log.hpp"
#include "storage/database.hpp"
#include "storage/vector_store.hpp"
#include "vectors/distance.hpp"
#include "vectors/filter.hpp"
#include "core/allocator.hpp"
#include "vectors/index_slots.hpp"
#include "vectors/ingest_gate.hpp"
#include "vectors/placement.hpp"
#include "vectors/shard_index.hpp"

namespace p2p {

namespace {

/// Time one index step may take: short, so that puts and searches queued behind it stay prompt.
constexpr auto index_step_budget = std::chrono::milliseconds(2);
/// Indexing pauses while puts keep arriving (ingest first: vectors/ingest_gate.hpp), until this
/// much is pending.
constexpr size_t pending_high_water = 25000;
/// A graph is saved in the background once this many of its vectors changed since the last
/// save, and at least a quarter of it (so that a growing graph is written O(log n) times).
constexpr size_t graph_save_changes = 2000;
/// A graph is rebuilt when this share of it is dead (deleted or replaced vectors).
constexpr size_t graph_compact_min_dead = 1000;

struct shard_state {
  shard_setup setup;
  std::unordered_map<std::string, std::unique_ptr<shard_index>> indexes;
  bool index_scheduled = false;
  ingest_gate ingest; // when the puts pause, so that the graph may be built
  std::vector<shard_hit> hits; // scratch
  std::vector<float> payload_values; // scratch: a hit's values, read with its metadata
  std::optional<vector_store> store; // set on start
  std::vector<caf::typed_response_promise<uint64_t>> save_waiters; // graph_save: index everything, save, answer
  // Puts whose write RocksDB would have held back (memtables full while a flush catches up):
  // kept, in order, and written again every few milliseconds, so that a stall never blocks a
  // scheduler thread (with two threads, two stalled shards froze every actor of the node,
  // status included, for seconds).
  struct held_put {
    shard_put put;
    caf::typed_response_promise<uint64_t> promise;
  };
  std::deque<held_put> held; // not empty exactly while a put_retry_atom is on its way
  uint64_t indexed_for_waiters = 0;
  // Per collection, the virtual shard of each label (labels only grow and keep their id). The
  // digest, each catch-up list and each handoff scan walk every label; without this a refill
  // that lists all 256 virtual shards would hash every id 256 times.
  std::unordered_map<std::string, std::vector<uint8_t>> vshards;
  // Per collection, once a filtered search asked for it: each label's metadata JSON (read from
  // the store once, then kept up to date by puts) and the fields the filters used, parsed.
  struct payload_cache {
    std::vector<std::string> json;                          // by label
    std::map<std::string, std::vector<field_value>> fields; // key -> by label
  };
  std::unordered_map<std::string, payload_cache> payloads;
  static inline const char* name = "vector_shard";

  payload_cache& payload_for(const std::string& collection, const shard_index& idx) {
    auto [it, fresh] = payloads.try_emplace(collection);
    auto& pc = it->second;
    if (fresh)
      store->scan(collection, [&](std::string_view, std::string_view id, std::string_view row) {
        uint32_t label = idx.label_of(id);
        std::string_view metadata;
        if (label == shard_index::no_label || !vector_store::metadata_of(row, idx.dim(), metadata))
          return true;
        if (pc.json.size() <= label)
          pc.json.resize(size_t(label) + 1);
        pc.json[label] = std::string(metadata);
        return true;
      });
    pc.json.resize(idx.labels());
    return pc;
  }

  const std::vector<field_value>& field_for(payload_cache& pc, const std::string& key) {
    auto [it, fresh] = pc.fields.try_emplace(key);
    auto& col = it->second;
    for (size_t label = col.size(); label < pc.json.size(); ++label)
      col.push_back(field_of(pc.json[label], key));
    return col;
  }

  /// A put of rows `rows` of `b` reached the index: the payload cache follows, if there is one.
  void payload_put(const std::string& collection, const shard_index& idx, const vector_batch& b,
                   const std::vector<uint32_t>& rows) {
    auto it = payloads.find(collection);
    if (it == payloads.end())
      return;
    auto& pc = it->second;
    pc.json.resize(idx.labels());
    std::vector<std::string> keys;
    for (auto& [key, _] : pc.fields)
      keys.push_back(key);
    std::vector<field_value> values;
    for (uint32_t i : rows) {
      uint32_t label = idx.label_of(b.ids[i]);
      pc.json[label] = i < b.metadata.size() ? b.metadata[i] : std::string();
      fields_of(pc.json[label], keys, values);
      size_t k = 0;
      for (auto& [_, col] : pc.fields) {
        if (col.size() <= label)
          col.resize(size_t(label) + 1);
        col[label] = values[k++];
      }
    }
  }

  /// The virtual shard of every label of `collection`'s index, up to date.
  const std::vector<uint8_t>& vshards_of(const std::string& collection, const shard_index& idx) {
    static_assert(virtual_shards <= 256, "a virtual shard number fits a byte");
    auto& v = vshards[collection];
    for (uint32_t label = uint32_t(v.size()); label < idx.labels(); ++label)
      v.push_back(uint8_t(vshard_of(idx.id_of(label))));
    return v;
  }

  shard_index& index_for(const collection_spec& spec) {
    auto& slot = indexes[spec.name];
    if (!slot) {
      slot = std::make_unique<shard_index>(spec.dim, metric_kind(spec.metric), setup.hnsw);
      if (setup.board)
        setup.board->attach(setup.shard, spec.name, slot->counts());
    }
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

using shard_actor = counted<vector_shard_actor::stateful_base<shard_state>>;

std::string hex(std::string_view s) {
  std::ostringstream out;
  for (unsigned char c : s)
    out << std::hex << std::setw(2) << std::setfill('0') << int(c);
  return out.str();
}

/// Where a collection's graph of this shard is saved: DATA_DIR/graphs/s<shard>-<hex name>.
std::string graph_path(const shard_state& st, std::string_view collection) {
  return st.setup.db->dir() + "/graphs/s" + std::to_string(st.setup.shard) + "-" + hex(collection);
}

void save_graph(shard_state& st, const std::string& collection, shard_index& idx) {
  auto t0 = std::chrono::steady_clock::now();
  auto path = graph_path(st, collection);
  std::error_code ec;
  std::filesystem::create_directories(st.setup.db->dir() + "/graphs", ec);
  if (idx.graph_size() == 0) {
    std::filesystem::remove(path + ".meta", ec); // an older graph must not come back
    std::filesystem::remove(path + ".hnsw", ec);
    return;
  }
  auto seq = st.setup.db->sequence();
  if (auto err = idx.save(path, seq); !err.empty()) {
    log(log_level::warn, "shard " + std::to_string(st.setup.shard) + " '" + collection
                           + "': graph not saved (it is rebuilt on the next start): " + err);
    return;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  log(log_level::info, "shard " + std::to_string(st.setup.shard) + " '" + collection + "': saved its graph of "
                         + std::to_string(idx.graph_size() - idx.graph_dead()) + " vectors at sequence "
                         + std::to_string(seq) + " in " + std::to_string(ms) + " ms");
}

/// Saves every graph changed since its last save.
void save_graphs(shard_state& st) {
  for (auto& [name, idx] : st.indexes)
    if (idx->graph_changes() > 0)
      save_graph(st, name, *idx);
}

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
  if (st.save_waiters.empty() && !st.ingest.paused(now) && st.pending() < pending_high_water) {
    st.index_scheduled = true;
    self->delayed_send(self, st.ingest.left(now), index_atom::value);
    return;
  }
  // A slot of the node's (vectors.index_threads), or wait for one: the shard is sent its next
  // step when another shard gives one back, and stays unscheduled until then.
  if (st.setup.slots) {
    caf::weak_actor_ptr me = self->ctrl();
    if (!st.setup.slots->take([me] {
          auto strong = caf::actor_cast<caf::strong_actor_ptr>(me);
          if (strong)
            caf::anon_send(caf::actor_cast<vector_shard_actor>(strong), index_atom::value);
          return bool(strong);
        })) {
      st.index_scheduled = true;
      return;
    }
  }
  struct slot_back {
    index_slots* slots;
    ~slot_back() {
      if (slots)
        slots->give_back();
    }
  } slot_back{st.setup.slots.get()};
  for (auto& [name, idx] : st.indexes)
    if (idx->graph_dead() >= std::max(graph_compact_min_dead, idx->graph_size() / 4)) {
      log(log_level::info, "shard " + std::to_string(st.setup.shard) + " '" + name + "': rebuilding its graph ("
                             + std::to_string(idx->graph_dead()) + " of " + std::to_string(idx->graph_size())
                             + " elements dead)");
      idx->compact();
    }
  auto deadline = now + index_step_budget;
  for (auto& [_, idx] : st.indexes)
    while (idx->pending() > 0 && std::chrono::steady_clock::now() < deadline)
      st.indexed_for_waiters += idx->index_pending(4);
  if (st.pending() == 0) {
    malloc_trim(0); // drained: hand the freed batches back to the OS instead of keeping them in malloc's arenas
    hand_back_huge_blocks(); // and the pages of the large blocks kept for reuse (core/allocator.hpp)
    for (auto& [name, idx] : st.indexes)
      if (idx->graph_changes() >= std::max(graph_save_changes, idx->graph_size() / 4))
        save_graph(st, name, *idx);
    if (!st.save_waiters.empty()) {
      save_graphs(st);
      for (auto& rp : st.save_waiters)
        rp.deliver(st.indexed_for_waiters);
      st.save_waiters.clear();
      st.indexed_for_waiters = 0;
    }
  }
  schedule_indexing(self);
}

/// Reads a collection's rows into a fresh index (no saved graph, or one that cannot be trusted).
void reload_rows(shard_state& st, const collection_spec& spec) {
  auto& idx = st.index_for(spec);
  size_t loaded = 0, skipped = 0, tombstones = 0;
  std::vector<float> row(spec.dim);
  std::string_view metadata;
  skipped += st.store->scan(spec.name, [&](std::string_view, std::string_view id, std::string_view bytes) {
    if (!vector_store::decode_row(bytes, spec.dim, row.data(), metadata)) {
      ++skipped;
      return true;
    }
    idx.upsert(id, row.data()); // copies
    ++loaded;
    return true;
  });
  skipped += st.store->scan_versions(spec.name, [&](std::string_view, std::string_view id, uint64_t version, bool tomb) {
    idx.set_version(id, version);
    tombstones += tomb;
  });
  if (loaded + skipped + tombstones > 0)
    log(log_level::info, "shard " + std::to_string(st.setup.shard) + " '" + spec.name + "': reloaded " + std::to_string(loaded)
                           + " vectors" + (tombstones ? " and " + std::to_string(tombstones) + " tombstones" : "")
                           + (skipped ? ", skipped " + std::to_string(skipped) + " unreadable" : "")
                           + "; its graph is built in the background");
}

/// Brings a loaded graph up to date with the database: every write since the save (newer
/// versions, new ids, tombstones, ids handed away) and the vectors that were pending then.
void reconcile(shard_state& st, const collection_spec& spec, shard_index::loaded&& l) {
  auto& idx = *l.index;
  uint32_t saved = idx.labels();
  std::vector<bool> seen(saved, false);
  size_t added = 0, deleted = 0, removed = 0, unreadable = 0;
  std::vector<float> values;
  std::string metadata;
  unreadable += st.store->scan_versions(spec.name, [&](std::string_view, std::string_view id, uint64_t version, bool tomb) {
    uint32_t label = idx.label_of(id);
    if (label < saved)
      seen[label] = true;
    if (label != shard_index::no_label && idx.version_at(label) == version && idx.live_label(label) != tomb)
      return; // as saved
    if (tomb) {
      deleted += idx.erase(id);
      idx.set_version(id, version);
      return;
    }
    if (!st.store->get(spec.name, spec.dim, id, values, metadata).ok()) {
      ++unreadable;
      return;
    }
    idx.upsert(id, values.data()); // copies
    idx.set_version(id, version);
    ++added;
  });
  // Rows of a data dir from before versions have none: they stay as loaded.
  for (uint32_t label = 0; label < saved; ++label)
    if (!seen[label] && idx.version_at(label) > 0) {
      std::string id(idx.id_of(label));
      removed += idx.erase(id);
      idx.set_version(id, 0);
    }
  log(log_level::info, "shard " + std::to_string(st.setup.shard) + " '" + spec.name + "': loaded its graph of "
                         + std::to_string(idx.graph_size() - idx.graph_dead()) + " vectors saved at sequence "
                         + std::to_string(l.sequence) + "; added " + std::to_string(added)
                         + " vectors written after it, deleted " + std::to_string(deleted) + ", handed away "
                         + std::to_string(removed) + (unreadable ? ", " + std::to_string(unreadable) + " unreadable" : ""));
  if (st.setup.board)
    st.setup.board->attach(st.setup.shard, spec.name, l.index->counts());
  st.indexes[spec.name] = std::move(l.index);
}

void reload(shard_state& st) {
  for (auto& spec : st.setup.collections) {
    auto l = shard_index::load(graph_path(st, spec.name), spec.dim, metric_kind(spec.metric), st.setup.hnsw);
    if (l.index) {
      reconcile(st, spec, std::move(l));
      continue;
    }
    if (l.problem != "missing")
      log(log_level::warn, "shard " + std::to_string(st.setup.shard) + " '" + spec.name
                             + "': saved graph not used (" + l.problem + "): rebuilding it");
    reload_rows(st, spec);
  }
}

/// A put's write: errc::busy when RocksDB would have held it back (nothing written then).
caf::expected<uint64_t> try_put(shard_actor* self, const shard_put& p) {
  auto& st = self->state;
  const vector_batch& b = *p.batch;
  if (b.versions.size() != b.ids.size())
    return make_error(errc::invalid_input, "put refused: " + std::to_string(b.versions.size()) + " versions for "
                                             + std::to_string(b.ids.size()) + " ids");
  auto& idx = st.index_for(p.spec);
  // What this shard holds already at the same or a newer version stays: a late or repeated
  // write (a retry, a handoff, a catch-up) never rolls a newer one back.
  std::vector<uint32_t> kept;
  kept.reserve(p.rows.size());
  for (uint32_t i : p.rows)
    if (b.versions[i] > idx.version_of(b.ids[i]))
      kept.push_back(i);
  if (kept.empty())
    return uint64_t(p.rows.size());
  if (auto s = st.store->put(p.spec.name, b.dim, b.ids, b.values.data(), b.metadata, b.versions, kept, true); !s.ok())
    return make_error(s.code(), s.message());
  for (uint32_t i : kept) {
    idx.upsert(b.ids[i], &b.values[size_t(i) * b.dim], p.batch); // no copy: the index keeps the batch
    idx.set_version(b.ids[i], b.versions[i]);
  }
  st.payload_put(p.spec.name, idx, b, kept);
  st.ingest.on_put(std::chrono::steady_clock::now());
  schedule_indexing(self);
  return uint64_t(p.rows.size());
}

constexpr auto put_retry_interval = std::chrono::milliseconds(5);

/// Tries the held puts again in a moment: called when the first put is held, and after a retry
/// that left some, so that one retry is on its way exactly while puts are held.
void schedule_retry(shard_actor* self) {
  self->delayed_send(self, put_retry_interval, put_retry_atom::value);
}

/// Writes the held puts in order, as far as RocksDB lets; the rest wait for the next try.
void retry_held(shard_actor* self) {
  auto& st = self->state;
  while (!st.held.empty()) {
    auto r = try_put(self, st.held.front().put);
    if (!r && code_of(r.error()) == errc::busy)
      break;
    auto h = std::move(st.held.front());
    st.held.pop_front();
    if (r)
      h.promise.deliver(*r);
    else
      h.promise.deliver(std::move(r.error()));
  }
  if (!st.held.empty())
    schedule_retry(self);
}

caf::result<uint64_t> put(shard_actor* self, const shard_put& p) {
  auto& st = self->state;
  // Behind held puts, a put waits its turn: writes reach RocksDB in the order they came.
  if (st.held.empty()) {
    auto r = try_put(self, p);
    if (r || code_of(r.error()) != errc::busy)
      return r;
  }
  auto promise = self->make_response_promise<uint64_t>();
  st.held.push_back({p, promise});
  if (st.held.size() == 1)
    schedule_retry(self);
  return promise;
}

/// Tombstones: each id newer than what is here is deleted and its version kept.
caf::result<uint64_t> erase(shard_state& st, const collection_spec& spec, const id_versions& d) {
  if (d.versions.size() != d.ids.size())
    return make_error(errc::invalid_input, "delete refused: " + std::to_string(d.versions.size()) + " versions for "
                                             + std::to_string(d.ids.size()) + " ids");
  auto& idx = st.index_for(spec);
  id_versions newer;
  uint64_t existed = 0;
  for (size_t i = 0; i < d.ids.size(); ++i) {
    if (d.versions[i] <= idx.version_of(d.ids[i]))
      continue;
    existed += idx.contains(d.ids[i]);
    newer.ids.push_back(d.ids[i]);
    newer.versions.push_back(d.versions[i]);
  }
  if (newer.ids.empty())
    return existed;
  if (auto s = st.store->erase(spec.name, newer.ids, newer.versions); !s.ok())
    return make_error(s.code(), s.message());
  for (size_t i = 0; i < newer.ids.size(); ++i) {
    idx.erase(newer.ids[i]);
    idx.set_version(newer.ids[i], newer.versions[i]);
  }
  return existed;
}

/// Whether a label is a write to tell others about: live, or a tombstone.
bool known(const shard_index& idx, uint32_t label) {
  return idx.live_label(label) || idx.version_at(label) > 0;
}

/// Adds the row (live) or tombstone of `id` at `version` to `out`; a row that cannot be read is
/// left out (the peer asking sees it as missing and asks again on its next round).
void add_entry(shard_state& st, const std::string& collection, const shard_index& idx, std::string_view id,
               uint64_t version, bool live, versioned_rows& out) {
  if (!live) {
    out.deleted.ids.emplace_back(id);
    out.deleted.versions.push_back(version);
    return;
  }
  std::string metadata;
  if (!st.store->get(collection, idx.dim(), id, st.payload_values, metadata).ok())
    return;
  out.rows.ids.emplace_back(id);
  out.rows.values.insert(out.rows.values.end(), st.payload_values.begin(), st.payload_values.end());
  out.rows.metadata.push_back(std::move(metadata));
  out.rows.versions.push_back(version);
}

/// Per virtual shard, the XOR of a hash of each (id, version) held here: equal digests on two
/// nodes mean (but for a 2^-64 chance) they hold the same writes of that virtual shard.
std::vector<uint64_t> digest(shard_state& st, const std::string& collection) {
  std::vector<uint64_t> out(virtual_shards, 0);
  auto* idx = st.find(collection);
  if (!idx)
    return out;
  auto& vs = st.vshards_of(collection, *idx);
  for (uint32_t label = 0; label < idx->labels(); ++label)
    if (known(*idx, label))
      out[vs[label]] ^= mix64(fnv1a(idx->id_of(label)) ^ mix64(idx->version_at(label) + 1));
  return out;
}

id_versions list(shard_state& st, const std::string& collection, uint32_t vshard) {
  id_versions out;
  auto* idx = st.find(collection);
  if (!idx)
    return out;
  auto& vs = st.vshards_of(collection, *idx);
  for (uint32_t label = 0; label < idx->labels(); ++label)
    if (vs[label] == vshard && known(*idx, label)) {
      out.ids.emplace_back(idx->id_of(label));
      out.versions.push_back(idx->version_at(label));
    }
  return out;
}

versioned_rows fetch(shard_state& st, const std::string& collection, const std::vector<std::string>& ids) {
  versioned_rows out;
  out.rows.collection = collection;
  auto* idx = st.find(collection);
  if (!idx)
    return out;
  out.rows.dim = idx->dim();
  for (auto& id : ids) {
    bool live = idx->contains(id);
    uint64_t version = idx->version_of(id);
    if (live || version > 0)
      add_entry(st, collection, *idx, id, version, live, out);
  }
  return out;
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
  // A filter: which labels meet every condition, computed once for all queries.
  std::vector<uint8_t> allow;
  size_t allowed = 0;
  if (!req.filter.empty()) {
    std::vector<filter_condition> conditions;
    (void)parse_filters(req.filter, conditions); // checked by the router: a bad one matches nothing
    auto& pc = st.payload_for(spec.name, *idx);
    std::vector<const std::vector<field_value>*> cols;
    for (auto& c : conditions)
      cols.push_back(&st.field_for(pc, c.key));
    static const field_value absent;
    allow.assign(idx->labels(), 0);
    for (uint32_t label = 0; label < idx->labels(); ++label) {
      if (!idx->live_label(label) || conditions.empty())
        continue;
      bool ok = true;
      for (size_t c = 0; c < conditions.size() && ok; ++c)
        ok = matches(conditions[c], label < cols[c]->size() ? (*cols[c])[label] : absent);
      allow[label] = ok;
      allowed += ok;
    }
  }
  for (size_t q = 0; q < n; ++q) {
    auto t0 = std::chrono::steady_clock::now();
    if (req.filter.empty())
      idx->search(&req.queries[q * req.dim], req.k, req.ef, req.exact, st.hits);
    else
      idx->search_filtered(&req.queries[q * req.dim], req.k, req.ef, req.exact, allow, allowed, st.hits);
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

/// Reads the next rows and tombstones of a collection in virtual shards this node no longer
/// keeps (at most r.max_rows, and at most 20,000 labels looked at per call, so the shard stays
/// responsive).
handoff_batch handoff_scan(shard_state& st, const handoff_request& r) {
  handoff_batch out;
  out.data.rows.collection = r.collection;
  auto* idx = st.find(r.collection);
  if (!idx || r.keep.size() != virtual_shards) {
    out.done = true;
    return out;
  }
  out.data.rows.dim = idx->dim();
  auto& vs = st.vshards_of(r.collection, *idx);
  uint32_t label = r.after, end = idx->labels(), looked = 0;
  for (; label < end && looked < 20000; ++label, ++looked) {
    if (out.data.rows.ids.size() + out.data.deleted.ids.size() >= r.max_rows)
      break;
    if (!known(*idx, label) || r.keep[vs[label]])
      continue;
    add_entry(st, r.collection, *idx, idx->id_of(label), idx->version_at(label), idx->live_label(label), out.data);
  }
  out.next = label;
  out.done = label >= end;
  return out;
}

vector_shard_actor::behavior_type shard_behavior(shard_actor* self, shard_setup setup) {
  self->state.setup = std::move(setup);
  self->state.store.emplace(self->state.setup.db, self->state.setup.shard);
  keep_serving(self, "vector_shard");
  reload(self->state);
  if (self->state.setup.board)
    self->state.setup.board->loaded(); // status may count this shard now
  schedule_indexing(self);
  // A clean stop saves what changed, so that the next start loads the graphs instead of
  // rebuilding them. Vectors still pending are read again then.
  self->attach_functor([self](const caf::error&) { save_graphs(self->state); });
  return {
    [=](collection_drop_atom, const std::string& collection) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (auto s = st.store->drop_collection(collection); !s.ok())
        return make_error(s.code(), s.message());
      uint64_t n = 0;
      if (auto it = st.indexes.find(collection); it != st.indexes.end()) {
        n = it->second->size();
        st.indexes.erase(it);
        if (st.setup.board)
          st.setup.board->detach(st.setup.shard, collection);
      }
      st.vshards.erase(collection);
      st.payloads.erase(collection);
      std::error_code ec;
      auto path = graph_path(st, collection);
      std::filesystem::remove(path + ".meta", ec);
      std::filesystem::remove(path + ".hnsw", ec);
      return n;
    },
    [=](vshard_counts_atom) {
      auto& st = self->state;
      std::map<std::string, std::vector<uint64_t>> out;
      for (auto& [name, idx] : st.indexes) {
        auto& counts = out[name];
        counts.assign(virtual_shards + 2, 0); // then the vectors pending for the graph, the tombstones
        auto& vs = st.vshards_of(name, *idx);
        for (uint32_t label = 0; label < idx->labels(); ++label) {
          counts[vs[label]] += idx->live_label(label);
          counts[virtual_shards + 1] += !idx->live_label(label) && idx->version_at(label) > 0;
        }
        counts[virtual_shards] = idx->pending();
      }
      return out;
    },
    [=](graph_save_atom) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.pending() == 0) {
        save_graphs(st);
        return uint64_t(0);
      }
      st.save_waiters.push_back(self->make_response_promise<uint64_t>());
      schedule_indexing(self);
      return st.save_waiters.back();
    },
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
    [=](delete_atom, const collection_spec& spec, const id_versions& d) { return erase(self->state, spec, d); },
    [=](handoff_atom, const handoff_request& r) { return handoff_scan(self->state, r); },
    [=](drop_atom, const std::string& collection, const id_versions& d) -> caf::result<uint64_t> {
      auto& st = self->state;
      auto* idx = st.find(collection);
      if (!idx)
        return uint64_t(0);
      // Only what is still at the version handed off: a newer write since then stays.
      std::vector<std::string> ids;
      for (size_t i = 0; i < d.ids.size() && i < d.versions.size(); ++i)
        if (idx->version_of(d.ids[i]) == d.versions[i])
          ids.push_back(d.ids[i]);
      if (auto s = st.store->drop(collection, ids); !s.ok())
        return make_error(s.code(), s.message());
      for (auto& id : ids) {
        idx->erase(id);
        idx->set_version(id, 0);
      }
      return uint64_t(ids.size());
    },
    [=](sync_digest_atom, const std::string& collection) { return digest(self->state, collection); },
    [=](sync_list_atom, const std::string& collection, uint32_t vshard) { return list(self->state, collection, vshard); },
    [=](sync_fetch_atom, const std::string& collection, const std::vector<std::string>& ids) {
      return fetch(self->state, collection, ids);
    },
    [=](mailbox_atom) { return uint64_t(self->mailbox().size()); },
    [=](index_atom) { index_step(self); },
    [=](put_retry_atom) { retry_held(self); },
  };
}

} // namespace

vector_shard_actor spawn_vector_shard(caf::event_based_actor* parent, shard_setup setup) {
  return parent->spawn<caf::linked>(shard_behavior, std::move(setup));
}

} // namespace p2p
