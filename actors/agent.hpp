#pragma once
// agent: one per entry of the config's `agents`, addressed as PEER_ID/AGENT_NAME. Receives
// messages from agents on any peer: one-way, or request/response (it answers with what it
// received). Tasks reach agents' capabilities through the task manager.

#include <caf/fwd.hpp>

#include "config/node_config.hpp"

namespace p2p {

caf::actor spawn_agent(caf::event_based_actor* parent, const agent_config& cfg, const std::string& peer_id);

} // namespace p2p
