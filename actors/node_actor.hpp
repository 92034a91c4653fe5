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

} // namespace p2p
