#include "actors/vector_router.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include <simdjson.h>

#include "actors/protocol.hpp"
#include "actors/vector_shard.hpp"
#include "runtime/log.hpp"
#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "vectors/distance.hpp"
#include "vectors/vector_io.hpp"

namespace p2p {

namespace {

constexpr auto shard_timeout = std::chrono::seconds(120);

struct router_state {
  node_config cfg;
  std::shared_ptr<database> db;
  std::vector<caf::actor> shards;
  std::map<std::string, collection_spec, std::less<>> collections;
  static inline const char* name = "vector_router";

  size_t shard_of(std::string_view id) const { return stable_hash(id) % shards.size(); }
};

using router_actor = caf::stateful_actor<router_state>;

std::string encode_spec(const collection_spec& spec) {
  std::string v(5, '\0');
  std::memcpy(v.data(), &spec.dim, 4);
  v[4] = char(spec.metric);
  return v;
}

void load_collections(router_state& st) {
  st.db->scan(column::collections, "", [&](std::string_view key, std::string_view value) {
    if (value.size() != 5 || uint8_t(value[4]) > uint8_t(metric_kind::l2)) {
      log(log_level::warn, "skipping unreadable collection record '" + std::string(key) + "'");
      return;
    }
    collection_spec spec{std::string(key), 0, uint8_t(value[4])};
    std::memcpy(&spec.dim, value.data(), 4);
    st.collections.emplace(spec.name, spec);
  });
}

/// Checks a batch as a whole, so that it is applied entirely or not at all.
std::string check_batch(const vector_batch& b) {
  if (b.collection.empty() || b.collection.find('\0') != std::string::npos)
    return "invalid collection name";
  if (b.dim == 0)
    return "dimension 0";
  if (b.ids.empty())
    return "empty batch";
  if (b.values.size() != b.ids.size() * b.dim)
    return "batch has " + std::to_string(b.values.size()) + " values for " + std::to_string(b.ids.size())
           + " ids of dimension " + std::to_string(b.dim);
  if (!b.metadata.empty() && b.metadata.size() != b.ids.size())
    return "batch has " + std::to_string(b.metadata.size()) + " metadata entries for " + std::to_string(b.ids.size())
           + " ids";
  for (size_t i = 0; i < b.ids.size(); ++i)
    if (b.ids[i].empty())
      return "row " + std::to_string(i) + " of the batch: empty id";
  if (auto bad = first_non_finite(b.values.data(), b.values.size()); bad != SIZE_MAX)
    return "id '" + b.ids[bad / b.dim] + "': value " + std::to_string(bad % b.dim) + " is not finite";
  simdjson::dom::parser parser;
  for (size_t i = 0; i < b.metadata.size(); ++i) {
    if (b.metadata[i].empty())
      continue;
    simdjson::dom::element doc;
    if (parser.parse(b.metadata[i]).get(doc) || !doc.is_object())
      return "id '" + b.ids[i] + "': metadata is not a JSON object";
  }
  return {};
}

/// The collection for a put, created with the node's dim and metric on first use.
caf::expected<collection_spec> collection_for_put(router_state& st, const vector_batch& b) {
  if (auto it = st.collections.find(b.collection); it != st.collections.end()) {
    if (it->second.dim != b.dim)
      return make_user_error("collection '" + b.collection + "' has dimension " + std::to_string(it->second.dim)
                             + ", got vectors of dimension " + std::to_string(b.dim));
    return it->second;
  }
  if (b.dim != st.cfg.dim)
    return make_user_error("new collection '" + b.collection + "' takes vectors.dim = " + std::to_string(st.cfg.dim)
                           + ", got vectors of dimension " + std::to_string(b.dim));
  collection_spec spec{b.collection, b.dim, uint8_t(st.cfg.metric)};
  rocksdb::WriteBatch wb;
  wb.Put(st.db->cf(column::collections), spec.name, encode_spec(spec));
  if (auto s = st.db->write(wb); !s.ok())
    return make_user_error("storage write failed: " + s.ToString());
  st.collections.emplace(spec.name, spec);
  log(log_level::info, "created collection '" + spec.name + "' (dim " + std::to_string(spec.dim) + ", "
                         + std::string(to_string(st.cfg.metric)) + ")");
  return spec;
}

caf::result<uint64_t> put(router_actor* self, vector_batch& b) {
  auto& st = self->state;
  if (auto problem = check_batch(b); !problem.empty())
    return make_user_error("put refused: " + problem);
  auto spec = collection_for_put(st, b);
  if (!spec)
    return spec.error();
  auto shared = std::make_shared<const vector_batch>(std::move(b));
  std::vector<shard_put> parts(st.shards.size());
  for (auto& p : parts) {
    p.spec = *spec;
    p.batch = shared;
  }
  for (size_t i = 0; i < shared->ids.size(); ++i)
    parts[st.shard_of(shared->ids[i])].rows.push_back(uint32_t(i));
  struct fan_in {
    size_t remaining = 0;
    uint64_t stored = 0;
    caf::error failure;
  };
  auto rp = self->make_response_promise<uint64_t>();
  auto acc = std::make_shared<fan_in>();
  for (auto& p : parts)
    acc->remaining += p.rows.empty() ? 0 : 1;
  auto finish = [rp, acc]() mutable {
    if (--acc->remaining > 0)
      return;
    if (acc->failure)
      rp.deliver(acc->failure);
    else
      rp.deliver(acc->stored);
  };
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].rows.empty())
      continue;
    self->request(st.shards[s], shard_timeout, put_atom::value, std::move(parts[s]))
      .then([acc, finish](uint64_t n) mutable { acc->stored += n; finish(); },
            [acc, finish](caf::error& e) mutable { acc->failure = std::move(e); finish(); });
  }
  return rp;
}

/// Merges per-shard top-k lists into one top-k list per query.
search_result merge(const std::vector<search_result>& parts, size_t queries, size_t k, metric_kind metric) {
  search_result out;
  out.counts.assign(queries, 0);
  out.took_us.assign(queries, 0);
  std::vector<size_t> offsets(parts.size(), 0);
  std::vector<std::pair<float, const std::string*>> pool;
  for (size_t q = 0; q < queries; ++q) {
    pool.clear();
    for (size_t s = 0; s < parts.size(); ++s) {
      auto& p = parts[s];
      for (uint32_t i = 0; i < p.counts[q]; ++i)
        pool.emplace_back(p.scores[offsets[s] + i], &p.ids[offsets[s] + i]);
      offsets[s] += p.counts[q];
      out.took_us[q] = std::max(out.took_us[q], p.took_us[q]);
    }
    size_t n = std::min(k, pool.size());
    std::partial_sort(pool.begin(), pool.begin() + n, pool.end(),
                      [metric](auto& a, auto& b) { return better_score(metric, a.first, b.first); });
    for (size_t i = 0; i < n; ++i) {
      out.ids.push_back(*pool[i].second);
      out.scores.push_back(pool[i].first);
    }
    out.counts[q] = uint32_t(n);
  }
  return out;
}

caf::result<search_result> search(router_actor* self, search_request& req) {
  auto& st = self->state;
  auto it = st.collections.find(req.collection);
  if (it == st.collections.end())
    return make_user_error("search refused: no collection '" + req.collection + "'");
  auto spec = it->second;
  if (req.dim != spec.dim)
    return make_user_error("search refused: collection '" + req.collection + "' has dimension "
                           + std::to_string(spec.dim) + ", got queries of dimension " + std::to_string(req.dim));
  if (req.queries.empty() || req.queries.size() % req.dim != 0)
    return make_user_error("search refused: the query values are not a whole number of vectors");
  if (req.k == 0 || req.k > 10000)
    return make_user_error("search refused: k must be from 1 to 10000, got " + std::to_string(req.k));
  if (auto bad = first_non_finite(req.queries.data(), req.queries.size()); bad != SIZE_MAX)
    return make_user_error("search refused: query " + std::to_string(bad / req.dim) + ", value "
                           + std::to_string(bad % req.dim) + " is not finite");
  if (req.ef == 0)
    req.ef = st.cfg.hnsw.ef_search;
  struct fan_in {
    std::vector<search_result> parts;
    size_t remaining;
    caf::error failure;
  };
  auto acc = std::make_shared<fan_in>();
  acc->parts.resize(st.shards.size());
  acc->remaining = st.shards.size();
  auto rp = self->make_response_promise<search_result>();
  size_t queries = req.queries.size() / req.dim;
  size_t k = req.k;
  auto metric = metric_kind(spec.metric);
  for (size_t s = 0; s < st.shards.size(); ++s) {
    auto finish = [rp, acc, queries, k, metric]() mutable {
      if (--acc->remaining > 0)
        return;
      if (acc->failure)
        rp.deliver(acc->failure);
      else
        rp.deliver(merge(acc->parts, queries, k, metric));
    };
    self->request(st.shards[s], shard_timeout, search_atom::value, spec, req)
      .then([acc, s, finish](search_result& r) mutable { acc->parts[s] = std::move(r); finish(); },
            [acc, finish](caf::error& e) mutable { acc->failure = std::move(e); finish(); });
  }
  return rp;
}

caf::result<std::vector<collection_info>> stats(router_actor* self) {
  auto& st = self->state;
  auto acc = std::make_shared<std::map<std::string, collection_info>>();
  for (auto& [name, spec] : st.collections)
    (*acc)[name] = {name, spec.dim, std::string(to_string(metric_kind(spec.metric))), 0, 0};
  auto remaining = std::make_shared<size_t>(st.shards.size());
  auto rp = self->make_response_promise<std::vector<collection_info>>();
  for (auto& shard : st.shards) {
    auto finish = [rp, acc, remaining]() mutable {
      if (--*remaining > 0)
        return;
      std::vector<collection_info> out;
      for (auto& [_, info] : *acc)
        out.push_back(info);
      rp.deliver(std::move(out));
    };
    self->request(shard, shard_timeout, stats_atom::value)
      .then(
        [acc, finish](const std::vector<collection_info>& infos) mutable {
          for (auto& i : infos) {
            (*acc)[i.name].count += i.count;
            (*acc)[i.name].pending += i.pending;
          }
          finish();
        },
        [finish](caf::error&) mutable { finish(); });
  }
  return rp;
}

/// Hands the current request to `dest`, which answers the original sender.
template <class... Ts>
caf::response_promise forward(router_actor* self, const caf::actor& dest, Ts&&... xs) {
  auto rp = self->make_response_promise();
  rp.delegate(dest, std::forward<Ts>(xs)...);
  return rp;
}

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
      return make_user_error("not found: no collection '" + collection + "'");
    return it->second;
  };
  return {
    [=](put_atom, vector_batch& b) { return put(self, b); },
    [=](search_atom, search_request& req) { return search(self, req); },
    [=](get_atom, const std::string& collection, const std::string& id) -> caf::result<vector_record> {
      auto spec = lookup(collection);
      if (!spec)
        return spec.error();
      return forward(self, self->state.shards[self->state.shard_of(id)], get_atom::value, *spec, id);
    },
    [=](delete_atom, const std::string& collection, const std::string& id) -> caf::result<bool> {
      auto spec = lookup(collection);
      if (!spec)
        return false;
      return forward(self, self->state.shards[self->state.shard_of(id)], delete_atom::value, *spec, id);
    },
    [=](stats_atom) { return stats(self); },
  };
}

} // namespace

caf::actor spawn_vector_router(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db) {
  return parent->spawn<caf::linked>(router_behavior, cfg, std::move(db));
}

} // namespace p2p
