#include "actors/membership.hpp"
#include "actors/counted_actor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <caf/io/all.hpp>

#include "protocol/messages.hpp"
#include "protocol/transport.hpp"
#include "protocol/wire_guard.hpp"
#include "core/counters.hpp"
#include "core/hashing.hpp"
#include "core/log.hpp"

namespace p2p {

namespace {

using tick_atom = caf::atom_constant<caf::atom("m_tick")>;

/// Peers that get the member list each gossip interval.
constexpr size_t gossip_fanout = 3;

struct peer {
  member_info info;
  caf::actor node; // null until connected
};

struct membership_state {
  membership_setup setup;
  member_info self_info;
  bool started = false;
  std::map<std::string, peer> peers;       // by id, without this node
  std::set<std::string> connecting;        // addresses with a connect in flight
  std::set<std::string> bootstrap_pending; // bootstrap addresses not joined yet
  std::set<std::string> left;              // peers that left gracefully: not re-added by gossip
  std::set<std::string> refusals_logged;   // "address: reason" of joins refused, each logged once
  std::set<std::string> forgotten;         // down peers dropped for good: their keys went to others
  bool leaving = false;
  size_t gossip_turn = 0; // which peers get the member list next
  static inline const char* name = "membership";

  std::vector<member_info> members() const {
    std::vector<member_info> out{self_info};
    for (auto& [_, p] : peers)
      if (p.node)
        out.push_back(p.info);
    return out;
  }

  /// The members and, after them, the peers that are down (state "down"): what `peers` shows.
  std::vector<member_info> listing() const {
    auto out = members();
    for (auto& [_, p] : peers)
      if (!p.node)
        out.push_back(p.info);
    return out;
  }
};

using membership_actor = counted<caf::stateful_actor<membership_state>>;

std::chrono::milliseconds ms(uint32_t x) { return std::chrono::milliseconds(x); }

void merge(membership_actor* self, const std::vector<member_info>& members);

/// A hash of who is a member where (ids and addresses, in id order), equal on two nodes that
/// are connected to the same members.
uint64_t member_digest(std::vector<member_info> members) {
  std::sort(members.begin(), members.end(), [](auto& a, auto& b) { return a.id < b.id; });
  uint64_t h = fnv1a("members");
  for (auto& m : members) {
    h = fnv1a(m.id, h);
    h = fnv1a(std::string_view("\0", 1), h);
    h = fnv1a(m.address, h);
    h = fnv1a(std::string_view("\0", 1), h);
  }
  return h;
}
std::string certificate_mismatch(membership_actor* self, const caf::node_id& node, const std::string& id);

/// Tells the node who its peers are now: the connected ones, and those dropped without leaving
/// (state "down", no actor), which still own their keys.
void announce(membership_actor* self) {
  auto& st = self->state;
  std::vector<member_info> infos;
  std::vector<caf::actor> nodes;
  for (auto& [_, p] : st.peers) {
    infos.push_back(p.info);
    nodes.push_back(p.node);
  }
  self->send(st.setup.node, members_atom::value, std::move(infos), std::move(nodes));
}

/// Adds `info` as a connected member reachable through `node`, watching it.
void admit(membership_actor* self, const member_info& info, const caf::actor& node) {
  auto& st = self->state;
  auto& p = st.peers[info.id];
  bool is_new = !p.node;
  p.info = info;
  p.info.state = "alive";
  if (is_new) {
    p.node = node;
    self->monitor(node);
    log(log_level::info, "peer " + info.id + " at " + info.address + " joined");
    announce(self);
  }
}

/// Connects to the node at `address` and joins it; `bootstrap` failures are retried.
void connect_and_join(membership_actor* self, const std::string& address, bool bootstrap) {
  auto& st = self->state;
  if (address == st.self_info.address || st.connecting.count(address))
    return;
  std::string host;
  uint16_t port = 0;
  if (!parse_address(address, host, port))
    return;
  st.connecting.insert(address);
  auto mm = connector(self->system());
  auto timeout = ms(st.setup.cfg.failure_timeout_ms);
  self->request(mm, timeout, caf::connect_atom::value, host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto remote = caf::actor_cast<caf::actor>(ptr);
        if (!remote) {
          self->state.connecting.erase(address);
          log(log_level::warn, "peer at " + address + ": no node actor published there");
          return;
        }
        self->request(remote, timeout, join_atom::value, self->state.self_info, self->state.setup.node,
                      self->state.setup.cfg.cluster_name)
          .then(
            [=](std::vector<member_info>& members) {
              auto& st = self->state;
              st.connecting.erase(address);
              st.bootstrap_pending.erase(address);
              if (!members.empty() && st.forgotten.count(members.front().id)) {
                log(log_level::warn, "peer at " + address + " is '" + members.front().id
                                       + "', which this cluster forgot: not admitted");
                return;
              }
              if (!members.empty()) {
                if (auto why = certificate_mismatch(self, remote.node(), members.front().id); !why.empty()) {
                  if (st.refusals_logged.insert(address + ": " + why).second)
                    log(log_level::error, "peer at " + address + " says it is '" + members.front().id + "' but "
                                            + why + ": not admitted (logged once)");
                  return;
                }
                admit(self, members.front(), remote);
              }
              merge(self, members);
            },
            [=](caf::error& err) {
              auto& st = self->state;
              st.connecting.erase(address);
              auto reason = error_text(err);
              if (err == caf::sec::request_timeout) {
                // Not a refusal: no answer. Asked again later; logged once per address, not at
                // every gossip interval.
                if (st.refusals_logged.insert(address + ": join not answered").second)
                  log(log_level::warn, "peer at " + address + " did not answer this node's join within "
                                         + std::to_string(st.setup.cfg.failure_timeout_ms)
                                         + " ms; asking again later (logged once)");
                return;
              }
              log(log_level::error, "peer at " + address + " refused this node: " + reason);
              // Another cluster, a taken id, another protocol: retrying cannot help.
              auto code = code_of(err);
              if (code == errc::conflict || code == errc::protocol_mismatch)
                self->state.setup.fatal("refused by the cluster at " + address + ": " + reason);
            });
      },
      [=](caf::error& err) {
        self->state.connecting.erase(address);
        // Once per address and reason: a peer that keeps refusing (down, another CA) is retried
        // every gossip interval without filling the log.
        if (bootstrap && self->state.refusals_logged.insert(address + ": " + error_text(err)).second)
          log(log_level::warn, "bootstrap peer " + address + ": " + error_text(err) + "; retrying");
      });
}

/// Connects to every member not known yet.
void merge(membership_actor* self, const std::vector<member_info>& members) {
  auto& st = self->state;
  if (st.leaving)
    return;
  for (auto& m : members) {
    if (m.id == st.self_info.id || st.left.count(m.id) || st.forgotten.count(m.id))
      continue;
    auto it = st.peers.find(m.id);
    if (it != st.peers.end() && it->second.node)
      continue;
    connect_and_join(self, m.address, false);
  }
}

/// With TLS: empty when the process behind `node` showed a certificate naming `id` (CN or SAN),
/// else why not. A node may only join, and be joined, under the id its certificate names.
std::string certificate_mismatch(membership_actor* self, const caf::node_id& node, const std::string& id) {
  if (!uses_tls(self->system()) || node == self->node())
    return {};
  auto names = wire_guard::certificate_names(node);
  if (!names)
    return "no TLS certificate was seen from its process";
  if (std::find(names->begin(), names->end(), id) != names->end())
    return {};
  std::string listed;
  for (auto& n : *names)
    listed += (listed.empty() ? "" : ", ") + n;
  return "its certificate names " + (listed.empty() ? std::string("nothing") : listed) + ", not '" + id + "'";
}

/// A join refused: logged here once per address and reason (the other side logs it too), and
/// answered with the reason.
caf::error refuse_join(membership_actor* self, const member_info& who, errc code, const std::string& reason) {
  auto key = who.address + ": " + reason;
  if (self->state.refusals_logged.insert(key).second)
    log(log_level::warn, "refused the join of '" + who.id + "' from " + who.address + ": " + reason);
  return make_error(code, reason);
}

caf::result<std::vector<member_info>> on_join(membership_actor* self, const member_info& who, const caf::actor& node,
                                              const std::string& cluster) {
  auto& st = self->state;
  if (st.leaving)
    return make_error(errc::refused, "node " + st.self_info.id + " is leaving the cluster");
  std::string host;
  uint16_t port = 0;
  if (!valid_node_id(who.id) || !parse_address(who.address, host, port))
    return make_error(errc::invalid_input, "a join needs an id of 1 to 128 printable ASCII characters and a HOST:PORT address");
  if (who.protocol != protocol_version)
    return refuse_join(self, who, errc::protocol_mismatch, "protocol version " + std::to_string(who.protocol)
                                                             + " is not this node's " + std::to_string(protocol_version));
  if (cluster != st.setup.cfg.cluster_name)
    return refuse_join(self, who, errc::conflict, "node " + st.self_info.id + " belongs to cluster '"
                                                    + st.setup.cfg.cluster_name + "', not '" + cluster + "'");
  if (st.forgotten.count(who.id))
    return refuse_join(self, who, errc::conflict, "node id '" + who.id + "' was forgotten by the cluster (its keys "
                                                    "went to the other nodes): start it with a new id and an empty data dir");
  if (who.id == st.self_info.id && who.address != st.self_info.address)
    return refuse_join(self, who, errc::conflict, "peer id '" + who.id + "' is already used by " + st.self_info.address);
  if (auto it = st.peers.find(who.id); it != st.peers.end() && it->second.node && it->second.info.address != who.address)
    return refuse_join(self, who, errc::conflict,
                       "peer id '" + who.id + "' is already used by " + it->second.info.address);
  if (!node)
    return refuse_join(self, who, errc::invalid_input, "join without a node actor");
  if (auto sender = self->current_sender(); sender) {
    if (auto why = certificate_mismatch(self, sender->node(), who.id); !why.empty())
      return refuse_join(self, who, errc::conflict, why);
  }
  st.left.erase(who.id); // it came back
  admit(self, who, node);
  return st.members();
}

void tick(membership_actor* self) {
  auto& st = self->state;
  if (st.leaving)
    return;
  for (auto& address : std::vector<std::string>(st.bootstrap_pending.begin(), st.bootstrap_pending.end()))
    connect_and_join(self, address, true);
  // A digest of the members goes to a few peers per interval, in turn, not to all: every member
  // is connected to every other (a join answers with the whole list), so gossip only spreads
  // what a node has not heard of yet. A peer whose own digest differs sends its list back; in
  // turn each peer hears from this one within N / 3 intervals, and sends its list where it
  // knows more. An idle cluster sends 3 digests (8 bytes) per node and interval, no lists.
  auto digest = member_digest(st.members());
  std::vector<caf::actor> live;
  for (auto& [_, p] : st.peers)
    if (p.node)
      live.push_back(p.node);
  size_t fanout = std::min<size_t>(gossip_fanout, live.size());
  for (size_t i = 0; i < fanout; ++i)
    self->send(live[(st.gossip_turn + i) % live.size()], gossip_atom::value, digest, st.setup.node);
  st.gossip_turn += fanout;
  self->delayed_send(self, ms(st.setup.cfg.gossip_interval_ms), tick_atom::value);
}

caf::behavior membership_behavior(membership_actor* self, membership_setup setup) {
  auto& st = self->state;
  st.setup = std::move(setup);
  keep_serving(self, "membership");
  st.self_info.id = st.setup.cfg.id;
  st.self_info.address = st.setup.cfg.host + ":" + std::to_string(st.setup.cfg.port);
  for (auto& a : st.setup.cfg.agents)
    for (auto& c : a.capabilities)
      if (std::find(st.self_info.capabilities.begin(), st.self_info.capabilities.end(), c)
          == st.self_info.capabilities.end())
        st.self_info.capabilities.push_back(c);
  for (uint32_t s = 0; s < st.setup.cfg.shards; ++s)
    st.self_info.shards.push_back(s);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto it = st.peers.begin(); it != st.peers.end(); ++it) {
      if (it->second.node && it->second.node.address() == dm.source) {
        log(log_level::warn, "peer " + it->first + " at " + it->second.info.address + " is down ("
                               + error_text(dm.reason) + ")");
        auto& bootstrap = st.setup.cfg.bootstrap;
        if (std::find(bootstrap.begin(), bootstrap.end(), it->second.info.address) != bootstrap.end())
          st.bootstrap_pending.insert(it->second.info.address); // keep asking it: it may come back
        // Dropped without leaving: it is down, not gone. Its keys stay its own (reads of them
        // say "unavailable", searches say what they missed) until it rejoins or is forgotten.
        it->second.node = nullptr;
        it->second.info.state = "down";
        announce(self);
        return;
      }
    }
  });
  return {
    [=](bound_atom, uint16_t port) {
      auto& st = self->state;
      st.self_info.address = st.setup.cfg.host + ":" + std::to_string(port);
      if (st.started)
        return;
      st.started = true;
      for (auto& b : st.setup.cfg.bootstrap)
        if (b != st.self_info.address)
          st.bootstrap_pending.insert(b);
      tick(self);
    },
    [=](join_atom, const member_info& who, const caf::actor& node, const std::string& cluster) {
      return on_join(self, who, node, cluster);
    },
    [=](gossip_atom, const std::vector<member_info>& members) {
      counters().gossip_lists.fetch_add(1, std::memory_order_relaxed);
      merge(self, members);
    },
    [=](gossip_atom, uint64_t digest, const caf::actor& from) {
      counters().gossip_digests.fetch_add(1, std::memory_order_relaxed);
      auto& st = self->state;
      if (!from || st.leaving)
        return;
      auto members = st.members();
      if (member_digest(members) != digest)
        self->send(from, gossip_atom::value, std::move(members));
    },
    [=](tick_atom) { tick(self); },
    [=](leave_atom) -> caf::result<bool> {
      auto& st = self->state;
      // With one copy per vector, part of what this node holds would belong to a down peer
      // once it is gone, and could go nowhere: refuse before anything moves. With replicas,
      // the live ones take it and the down one catches up when it returns.
      std::string down;
      for (auto& [id, p] : st.peers)
        if (!p.node)
          down += (down.empty() ? "" : ", ") + id;
      if (!down.empty() && st.setup.cfg.replication_factor <= 1)
        return make_error(errc::refused, "leave refused: " + down + " is down and would own part of this node's "
                                           "vectors; bring it back, or drop it with 'p2p-agent forget', first");
      st.leaving = true;
      for (auto& [_, p] : st.peers)
        if (p.node)
          self->send(p.node, leave_atom::value, st.self_info.id);
      return true;
    },
    [=](leave_atom, const std::string& id) {
      auto& st = self->state;
      auto it = st.peers.find(id);
      if (it == st.peers.end())
        return;
      log(log_level::info, "peer " + id + " at " + it->second.info.address + " is leaving");
      if (it->second.node)
        self->demonitor(it->second.node);
      st.left.insert(id);
      st.peers.erase(it);
      announce(self);
    },
    [=](peers_atom) { return self->state.listing(); },
    [=](forget_atom a, const std::string& id) -> caf::result<std::string> {
      auto& st = self->state;
      auto it = st.peers.find(id);
      if (it == st.peers.end())
        return st.forgotten.count(id) ? std::string("'" + id + "' is already forgotten")
                                      : std::string("'" + id + "' is not a member here");
      if (it->second.node)
        return make_error(errc::conflict, "'" + id + "' is alive (at " + it->second.info.address
                                            + "): only a down node can be forgotten; use leave for a live one");
      log(log_level::warn, "forgetting down peer " + id + " at " + it->second.info.address
                             + ": its keys go to the other nodes, and it may not rejoin under that id");
      st.bootstrap_pending.erase(it->second.info.address); // nothing to wait for from it
      st.peers.erase(it);
      st.forgotten.insert(id);
      for (auto& [_, p] : st.peers) // once to every member: each forgets it the same way
        if (p.node)
          self->send(p.node, a, id);
      announce(self);
      return std::string("forgot '" + id + "': its keys now belong to the other nodes");
    },
    [=](lookup_atom, const std::string& id) -> caf::result<caf::actor> {
      auto& st = self->state;
      auto it = st.peers.find(id);
      if (it != st.peers.end() && it->second.node)
        return it->second.node;
      std::string known = st.self_info.id;
      for (auto& [other, p] : st.peers)
        if (p.node)
          known += ", " + other;
      return make_error(errc::not_found, "no peer '" + id + "' in the cluster (members: " + known + ")");
    },
  };
}

} // namespace

caf::actor spawn_membership(caf::event_based_actor* parent, membership_setup setup) {
  // A thread of its own, like the node actor: heartbeats, gossip and the members that status and
  // peers ask for never wait for a scheduler thread behind the shards at full ingest. The node
  // stops it with stop_node() (which cancels the clock's hold on it).
  return parent->spawn<caf::linked + caf::detached>(membership_behavior, std::move(setup));
}

} // namespace p2p
