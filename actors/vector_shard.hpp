#pragma once
// vector_shard: owns one slice of the node's keys. Persists each put as one WriteBatch before
// acknowledging it, keeps a shard_index per collection, and moves new vectors into the HNSW
// graph in small steps between other messages.

#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"
#include "config/node_config.hpp"

namespace p2p {

class database;
class collection_board;
class index_slots;

struct shard_setup {
  uint16_t shard = 0;
  std::shared_ptr<database> db;
  hnsw_config hnsw;
  std::vector<collection_spec> collections; // known at start, for reloading
  std::shared_ptr<collection_board> board;   // where the counts of each index are put up for status
  std::shared_ptr<index_slots> slots;        // shared by the node's shards: index steps at once (null: no bound)
};

/// Spawns a shard linked to `parent`; it reloads its keys from the database first.
vector_shard_actor spawn_vector_shard(caf::event_based_actor* parent, shard_setup setup);

} // namespace p2p
