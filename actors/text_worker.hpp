#pragma once
// text_worker: the node's task worker. Runs task kernels (text processing, embedding), turns
// documents into embedded chunks stored through the router (ingest), and embeds text queries.
// A node has runtime.workers of them; each handles one message at a time.

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"

namespace p2p {

/// Spawns a worker linked to `parent` that stores chunks and searches through `router`;
/// embeddings are `dim` wide.
text_worker_actor spawn_text_worker(caf::event_based_actor* parent, caf::actor router, uint32_t dim);

} // namespace p2p
