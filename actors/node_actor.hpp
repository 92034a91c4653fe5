#pragma once
// node: the facade of one process, published on node.host:node.port. Answers status and
// routes client requests to the actors behind it.

#include <memory>

#include <caf/fwd.hpp>

#include "config/node_config.hpp"

namespace p2p {

class database;

/// Spawns the node and its router and shards. The database closes when the last of them exits.
caf::actor spawn_node(caf::actor_system& sys, const node_config& cfg, std::shared_ptr<database> db);

} // namespace p2p
