#pragma once
// membership: who is in the cluster. Joins the cluster.bootstrap peers, answers joins from
// others (refusing a taken id or another protocol version), gossips the member list every
// cluster.gossip_interval_ms, connects to every member it learns of, and drops a member whose
// node actor goes down (closed connection, or no heartbeat within cluster.failure_timeout_ms).

#include <functional>
#include <string>

#include <caf/actor.hpp>

#include "config/node_config.hpp"

namespace p2p {

struct membership_setup {
  node_config cfg;
  caf::actor node; // this node's published actor, handed to peers on join
  /// Called when this node must stop (its id is taken in the cluster it joins).
  std::function<void(const std::string& reason)> fatal;
};

/// Spawns the membership actor linked to `parent`. It starts joining once told the port the
/// node listens on: (bound_atom, uint16_t port).
caf::actor spawn_membership(caf::event_based_actor* parent, membership_setup setup);

} // namespace p2p
