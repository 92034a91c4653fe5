#pragma once
// Typed interfaces of the actors: the compiler checks every message sent to a handle of one of
// these types, and every handler of its behavior, against the list. The node and the actors
// reached across the network keep dynamic handles for now (see messages.hpp for their map).

#include <map>

#include <caf/all.hpp>

#include "protocol/messages.hpp"

namespace p2p {

/// Task manager to itself: write the transitions gathered since the last flush.
using task_flush_atom = caf::atom_constant<caf::atom("k_flush")>;

/// The task manager (actors/task_manager.hpp): one per node.
using task_manager_actor = caf::typed_actor<
  // Persists one queued task per payload; the ids.
  caf::replies_to<task_atom, task_submission>::with<std::vector<uint64_t>>,
  // Submits, then answers once every task is final.
  caf::replies_to<task_submit_wait_atom, task_submission>::with<task_outcomes>,
  // Answers once every task named is final (at once for those already final).
  caf::replies_to<task_wait_atom, std::vector<uint64_t>>::with<task_outcomes>,
  // Cancels a queued or running task; false when it is unknown or already final.
  caf::replies_to<task_cancel_atom, uint64_t>::with<bool>,
  // The connected peers (without this node) and their node actors: the remote executors.
  caf::reacts_to<members_atom, std::vector<member_info>, std::vector<caf::actor>>,
  // (Its figures are not asked: it keeps them on the node's task_board.)
  // Internal: the group commit.
  caf::reacts_to<task_flush_atom>>;

/// A vector shard (actors/vector_shard.hpp): owns one slice of the node's keys; router only.
using vector_shard_actor = caf::typed_actor<
  // Stores the batch's rows that belong here; how many.
  caf::replies_to<put_atom, shard_put>::with<uint64_t>,
  // Top-k per query over this shard's vectors of the collection.
  caf::replies_to<search_atom, collection_spec, search_request>::with<search_result>,
  caf::replies_to<get_atom, collection_spec, std::string>::with<vector_record>,
  // Tombstones the ids (where newer than what is here); how many existed.
  caf::replies_to<delete_atom, collection_spec, id_versions>::with<uint64_t>,
  // The next rows and tombstones, from the request's cursor, of virtual shards not kept here.
  caf::replies_to<handoff_atom, handoff_request>::with<handoff_batch>,
  // Removes ids handed off (those still at the version handed off); how many.
  caf::replies_to<drop_atom, std::string, id_versions>::with<uint64_t>,
  // Catch-up: per virtual shard, the digest of the (id, version) pairs held here.
  caf::replies_to<sync_digest_atom, std::string>::with<std::vector<uint64_t>>,
  // Catch-up: the (id, version) pairs held here of one virtual shard.
  caf::replies_to<sync_list_atom, std::string, uint32_t>::with<id_versions>,
  // Catch-up: the rows and tombstones of these ids (those held here).
  caf::replies_to<sync_fetch_atom, std::string, std::vector<std::string>>::with<versioned_rows>,
  // (Its counts are not asked: each index keeps them on the node's collection_board, and its
  // mailbox is counted by counted<>, actors/counted_actor.hpp.) Messages waiting in its mailbox:
  // the router asks it of shards still starting to learn when they have loaded.
  caf::replies_to<mailbox_atom>::with<uint64_t>,
  // Internal: move pending vectors into the HNSW graph, a slice at a time.
  caf::reacts_to<index_atom>,
  // Internal: write again the puts that a RocksDB write stall held back.
  caf::reacts_to<put_retry_atom>,
  caf::replies_to<graph_save_atom>::with<uint64_t>,
  // Removes a collection's vectors, versions, index and graph files here; how many vectors.
  caf::replies_to<collection_drop_atom, std::string>::with<uint64_t>,
  // Per collection (name), the live vectors of each virtual shard here.
  caf::replies_to<vshard_counts_atom>::with<std::map<std::string, std::vector<uint64_t>>>>;

/// A text worker (actors/text_worker.hpp): task kernels, ingest and text search.
using text_worker_actor = caf::typed_actor<
  caf::replies_to<ingest_atom, document_batch>::with<ingest_result>,
  caf::replies_to<text_search_atom, text_search_request>::with<search_result>,
  // Runs the kernel of `type` on each payload, in order: per task completed with its result,
  // or failed with the reason (states, results, errors; ids and attempts left empty).
  caf::replies_to<run_task_atom, task_submission>::with<task_outcomes>>;

} // namespace p2p
