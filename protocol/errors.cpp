#include "protocol/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/sec.hpp>

#include "core/counters.hpp"

namespace p2p {

caf::error make_error(errc code, std::string message) {
  if (size_t(code) < counters().errors.size())
    counters().errors[size_t(code)].fetch_add(1, std::memory_order_relaxed);
  return caf::make_error(code, std::move(message));
}

errc code_of(const caf::error& err) {
  if (!err)
    return errc::none;
  if (err.category() == caf::atom("p2p"))
    return static_cast<errc>(err.code());
  if (err.category() != caf::atom("system"))
    return errc::internal;
  switch (static_cast<caf::sec>(err.code())) {
    case caf::sec::request_timeout: return errc::timeout;
    case caf::sec::request_receiver_down:
    case caf::sec::cannot_connect_to_node:
    case caf::sec::disconnect_during_handshake:
    case caf::sec::remote_linking_failed:
    case caf::sec::no_route_to_receiving_node: return errc::unavailable;
    case caf::sec::unexpected_message:
    case caf::sec::unexpected_response: return errc::protocol_mismatch;
    default: return errc::internal;
  }
}

std::string error_text(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>()
      && (err.category() == caf::atom("p2p") || err.category() == caf::atom("system")))
    return ctx.get_as<std::string>(0);
  if (err == caf::sec::request_timeout)
    return "request timed out";
  if (err == caf::sec::request_receiver_down)
    return "the node went down before answering";
  // Connection failures in words a user can act on, not CAF's enum and tuple.
  if (err == caf::sec::cannot_connect_to_node)
    return "connection refused or unreachable (is a node running there?)";
  if (err == caf::sec::disconnect_during_handshake)
    return "the process there closed the connection during the handshake (a TLS node and no --tls-dir or a "
           "certificate of another CA? TLS on one side only? not a node's port? a metrics or HTTP port does this; or the node has security.max_connections open)";
  if (err == caf::sec::incompatible_versions || err == caf::sec::incompatible_application_ids)
    return "the process there speaks another version of the actor protocol (CAF) than this one";
  return caf::to_string(err);
}

void register_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(caf::atom("p2p"), [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    std::string out = "p2p: " + std::string(to_string(static_cast<errc>(code)));
    if (ctx.match_elements<std::string>())
      out += " (" + ctx.get_as<std::string>(0) + ")";
    return out;
  });
}

} // namespace p2p
