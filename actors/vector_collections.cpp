// The vector router's collection requests: create and drop on every live member, and a
// cluster-wide list whose counts take each virtual shard once, however many replicas hold it.

#include <algorithm>
#include <map>
#include <set>

#include "actors/fan_in.hpp"
#include "actors/vector_router_state.hpp"
#include "core/log.hpp"
#include "storage/collection_catalog.hpp"

namespace p2p {

namespace {

using counts_map = std::map<std::string, std::vector<uint64_t>>;

std::string check_spec(const collection_spec& spec) {
  if (spec.name.empty() || spec.name.size() > 255 || spec.name.find('\0') != std::string::npos)
    return "invalid collection name '" + spec.name + "' (1 to 255 bytes, no NUL)";
  if (spec.dim < 1 || spec.dim > 65536)
    return "--dim: expected 1 to 65536, got " + std::to_string(spec.dim);
  if (spec.metric > uint8_t(metric_kind::l2))
    return "unknown metric " + std::to_string(spec.metric);
  return {};
}

std::string describe(const collection_spec& spec) {
  return "dimension " + std::to_string(spec.dim) + ", " + std::string(to_string(metric_kind(spec.metric)));
}

/// Adds this node's counts to `into` (elementwise sums).
void add_counts(counts_map& into, const counts_map& from) {
  for (auto& [name, v] : from) {
    auto& dst = into[name];
    dst.resize(std::max(dst.size(), v.size()), 0);
    for (size_t i = 0; i < v.size(); ++i)
      dst[i] += v[i];
  }
}

} // namespace

caf::result<bool> create_collection(router_actor* self, const collection_spec& spec) {
  auto& st = self->state;
  if (auto err = check_spec(spec); !err.empty())
    return make_error(errc::invalid_input, err);
  if (auto it = st.collections.find(spec.name); it != st.collections.end()) {
    if (it->second.dim == spec.dim && it->second.metric == spec.metric)
      return false;
    return make_error(errc::conflict, "collection '" + spec.name + "' exists with " + describe(it->second));
  }
  auto known = known_collection(st, spec);
  if (!known)
    return known.error();
  log(log_level::info, "created collection '" + spec.name + "' (" + describe(spec) + ")");
  auto rp = self->make_response_promise<bool>();
  auto fan = std::make_shared<fan_in>([rp](const caf::error& e) mutable {
    if (e)
      rp.deliver(e);
    else
      rp.deliver(true);
  });
  fan->expect();
  for (auto& peer : st.peers) {
    fan->expect();
    ask_peer<bool>(self, peer, peer_timeout, [fan](bool) { fan->arrived(); }, fan_in::on_error(fan),
                   cluster_collection_create_atom::value, spec);
  }
  fan->arrived();
  return rp;
}

caf::result<bool> accept_collection(router_actor* self, const collection_spec& spec) {
  if (auto err = check_spec(spec); !err.empty())
    return make_error(errc::invalid_input, err);
  auto known = known_collection(self->state, spec);
  if (!known)
    return known.error();
  return true;
}

caf::result<uint64_t> drop_local(router_actor* self, const std::string& name) {
  auto& st = self->state;
  if (!st.collections.count(name))
    return uint64_t(0);
  st.collections.erase(name);
  st.publish_collections();
  if (auto s = collection_catalog(st.db).erase(name); !s.ok())
    return make_error(s.code(), s.message());
  auto rp = self->make_response_promise<uint64_t>();
  summing_fan sum(rp);
  auto& fan = sum.fan;
  fan->expect();
  for (auto& shard : st.shards) {
    fan->expect();
    self->request(shard, shard_timeout, collection_drop_atom::value, name).then(sum.add(), fan_in::on_error(fan));
  }
  fan->arrived();
  log(log_level::info, "dropped collection '" + name + "'");
  return rp;
}

caf::result<uint64_t> drop_collection(router_actor* self, const std::string& name) {
  auto& st = self->state;
  if (!st.collections.count(name))
    return make_error(errc::not_found, "not found: no collection '" + name + "'");
  if (!st.down.empty()) {
    std::set<std::string> down;
    for (auto& d : st.down)
      down.insert(d.id);
    return make_error(errc::unavailable, "collection drop refused: " + joined(down)
                                           + " is down and would bring '" + name
                                           + "' back when it returns; drop it once every member is up");
  }
  auto rp = self->make_response_promise<uint64_t>();
  summing_fan sum(rp);
  auto& fan = sum.fan;
  fan->expect();
  for (auto& peer : st.peers) {
    fan->expect();
    ask_peer<uint64_t>(self, peer, peer_timeout, sum.add(), fan_in::on_error(fan),
                       cluster_collection_drop_atom::value, name);
  }
  fan->expect(); // and this node
  self->request(caf::actor_cast<caf::actor>(self), shard_timeout, cluster_collection_drop_atom::value, name)
    .then(sum.add(), fan_in::on_error(fan));
  fan->arrived();
  return rp;
}

caf::result<counts_map> local_counts(router_actor* self) {
  auto& st = self->state;
  auto acc = std::make_shared<counts_map>();
  for (auto& [name, _] : st.collections)
    (*acc)[name].assign(virtual_shards + 2, 0);
  auto rp = self->make_response_promise<counts_map>();
  auto fan = std::make_shared<fan_in>([rp, acc](const caf::error& e) mutable {
    if (e)
      rp.deliver(e);
    else
      rp.deliver(std::move(*acc));
  });
  fan->expect();
  for (auto& shard : st.shards) {
    fan->expect();
    self->request(shard, shard_timeout, vshard_counts_atom::value)
      .then(
        [fan, acc](const counts_map& m) {
          add_counts(*acc, m);
          fan->arrived();
        },
        fan_in::on_error(fan));
  }
  fan->arrived();
  return rp;
}

caf::result<std::vector<collection_info>> list_collections(router_actor* self) {
  auto& st = self->state;
  // Each member's counts per virtual shard; a virtual shard counts once, as the most any of its
  // replicas holds (a replica still catching up holds fewer).
  auto per_member = std::make_shared<std::vector<counts_map>>();
  auto rp = self->make_response_promise<std::vector<collection_info>>();
  auto finish = [self, rp, per_member](const caf::error& e) mutable {
    if (e) {
      rp.deliver(e);
      return;
    }
    auto& st = self->state;
    std::vector<collection_info> out;
    for (auto& [name, spec] : st.collections) {
      collection_info info{name, spec.dim, std::string(to_string(metric_kind(spec.metric))), 0, 0, 0,
                           st.under_replicated()};
      std::vector<uint64_t> best(virtual_shards, 0);
      for (auto& m : *per_member) {
        auto it = m.find(name);
        if (it == m.end())
          continue;
        for (uint32_t v = 0; v < virtual_shards && v < it->second.size(); ++v)
          best[v] = std::max(best[v], it->second[v]);
        if (it->second.size() >= virtual_shards + 2) { // copies, summed: each waits for its own graph
          info.pending += it->second[virtual_shards];
          info.tombstones += it->second[virtual_shards + 1];
        }
      }
      for (auto c : best)
        info.count += c;
      out.push_back(std::move(info));
    }
    rp.deliver(std::move(out));
  };
  auto fan = std::make_shared<fan_in>(finish);
  fan->expect();
  fan->expect();
  self->request(caf::actor_cast<caf::actor>(self), shard_timeout, vshard_counts_atom::value)
    .then(
      [fan, per_member](counts_map& m) {
        per_member->push_back(std::move(m));
        fan->arrived();
      },
      fan_in::on_error(fan));
  for (auto& peer : st.peers) {
    fan->expect();
    ask_peer<counts_map>(
      self, peer, peer_timeout,
      [fan, per_member](counts_map& m) {
        per_member->push_back(std::move(m));
        fan->arrived();
      },
      fan_in::on_error(fan), vshard_counts_atom::value);
  }
  fan->arrived();
  return rp;
}

} // namespace p2p
