#pragma once
// agent: one per entry of the config's `agents`, addressed as PEER_ID/AGENT_NAME. Receives
// messages from agents on any peer: one-way, or request/response (it answers with what it
// received). Tasks reach agents' capabilities through the task manager.

#include <atomic>
#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

#include "config/node_config.hpp"

namespace p2p {

/// `delivered` counts the messages every agent of the node received (the node's
/// p2p_messages_received_total): they come through the node actor or straight to the agent.
caf::actor spawn_agent(caf::event_based_actor* parent, const agent_config& cfg, const std::string& peer_id,
                       std::shared_ptr<std::atomic<uint64_t>> delivered);

} // namespace p2p
