#pragma once
// How a process reaches and offers node actors over the network: CAF's BASP, over TLS (CAF's
// OpenSSL module) when the actor system was configured with security.tls, else plain TCP.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace p2p {

/// An actor system whose threads all keep SIGPIPE blocked (they inherit the mask in place while it
/// starts them), while the calling thread keeps its own: a write to a closed socket fails with
/// EPIPE instead of killing the process, and CAF's OpenSSL sessions need not block SIGPIPE around
/// every call (see transport.cpp). A program that writes to a closed stdout still stops.
[[nodiscard]] std::unique_ptr<caf::actor_system> make_system(caf::actor_system_config& cfg);

/// Whether `sys` speaks TLS (it was configured with security.tls).
[[nodiscard]] bool uses_tls(caf::actor_system& sys);

/// The middleman actor that connects and publishes: CAF's OpenSSL one with TLS, else the
/// plain one.
[[nodiscard]] caf::io::middleman_actor connector(caf::actor_system& sys);

/// Connects to the node actor published at host:port, over TLS when `sys` uses it; an
/// `unavailable` error when the node has not finished CAF's handshake within `timeout`.
[[nodiscard]] caf::expected<caf::actor> connect_node(caf::actor_system& sys, const std::string& host, uint16_t port,
                                                    std::chrono::milliseconds timeout);

/// Publishes `node` at host:port (0: any free port), over TLS when `sys` uses it; the port bound.
[[nodiscard]] caf::expected<uint16_t> publish_node(caf::actor_system& sys, const caf::actor& node,
                                                  const std::string& host, uint16_t port);

} // namespace p2p
