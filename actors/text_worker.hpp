#pragma once
// text_worker: the node's task worker. Runs task kernels (text processing, embedding), turns
// documents into embedded chunks stored through the router (ingest), and embeds text queries.
// A node has runtime.workers of them; each handles one message at a time.

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"

namespace p2p {

/// Spawns a worker linked to `parent` that stores chunks and searches through `router`;
/// embeddings are `dim` wide. It has a thread of its own: on CAF's scheduler each batch of tasks
/// waited for a thread behind the shards while they built a graph (perf/README.md, nineteenth
/// session); the kernels it runs hold a thread for milliseconds anyway.
text_worker_actor spawn_text_worker(caf::event_based_actor* parent, caf::actor router, uint32_t dim);

} // namespace p2p
