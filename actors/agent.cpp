#include "actors/agent.hpp"
#include "actors/counted_actor.hpp"

#include "protocol/messages.hpp"
#include "text/document_reader.hpp"

namespace p2p {

namespace {

struct agent_state {
  agent_config cfg;
  std::string peer_id;
  uint64_t received = 0;
  std::shared_ptr<std::atomic<uint64_t>> delivered; // the node's count, over all its agents
  static inline const char* name = "agent";
};

using agent_actor = counted<caf::stateful_actor<agent_state>>;

caf::behavior agent_behavior(agent_actor* self, agent_config cfg, std::string peer_id,
                             std::shared_ptr<std::atomic<uint64_t>> delivered) {
  self->state.cfg = std::move(cfg);
  self->state.delivered = std::move(delivered);
  keep_serving(self, "agent");
  self->state.peer_id = std::move(peer_id);
  return {
    [=](deliver_atom, const std::string&, const std::string& from, const std::string& text, bool one_way) {
      auto& st = self->state;
      ++st.received;
      st.delivered->fetch_add(1, std::memory_order_relaxed);
      if (one_way)
        return std::string("{\"sent\": true}"); // it has the message; nothing more is said
      return "{\"peer\": \"" + json_escape(st.peer_id) + "\", \"agent\": \"" + json_escape(st.cfg.name)
             + "\", \"from\": \"" + json_escape(from) + "\", \"received\": " + std::to_string(st.received)
             + ", \"bytes\": " + std::to_string(text.size()) + "}";
    },
    [=](mailbox_atom) { return uint64_t(self->mailbox().size()); },
  };
}

} // namespace

caf::actor spawn_agent(caf::event_based_actor* parent, const agent_config& cfg, const std::string& peer_id,
                       std::shared_ptr<std::atomic<uint64_t>> delivered) {
  return parent->spawn<caf::linked>(agent_behavior, cfg, peer_id, std::move(delivered));
}

} // namespace p2p
