#pragma once
// vector_router: maps an id to its shard, validates and splits put batches, scatters searches
// to every shard and merges their top-k, and owns the collection records.

#include <memory>

#include <caf/fwd.hpp>

#include "config/node_config.hpp"

namespace p2p {

class database;
class collection_board;

/// Spawns the router, and through it the node's `cfg.shards` shards, linked to `parent`. They
/// keep `board` current (a board of their own when none is given); status reads it.
caf::actor spawn_vector_router(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                               std::shared_ptr<collection_board> board = nullptr);

} // namespace p2p
