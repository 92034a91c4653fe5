#pragma once
// node: the facade of one process, published on node.host:node.port. Answers status and
// routes client requests to the actors behind it.

#include <functional>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "config/node_config.hpp"

namespace p2p {

class database;

/// Spawns the node and its router and shards. The database closes when the last of them exits.
/// `fatal` is called when the node must stop (its id is taken in the cluster it joins).
caf::actor spawn_node(caf::actor_system& sys, const node_config& cfg, std::shared_ptr<database> db,
                      std::function<void(const std::string&)> fatal = {});

/// Tells the node to stop and waits until it and every other actor of `sys` are done; then `sys`
/// may be destroyed. The node has a thread of its own, which CAF 0.17 ends only once nothing holds
/// the actor, and the clock holds every actor with a request timeout or a delayed message still
/// due (a request's timeout stays until it fires, answered or not). The system stops its clock
/// before it waits for such threads, so without this its destructor waits for ever.
void stop_node(caf::actor_system& sys, caf::actor& node);

} // namespace p2p
