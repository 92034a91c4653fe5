#pragma once
// The actor system of a process, configured from the node config, and the two ways a command
// reaches a node: an embedded node in this process, or a remote one through its published port.

#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "config/node_config.hpp"
#include "protocol/transport.hpp"

namespace p2p {

class node_host;

/// CAF settings from the node config: scheduler threads and policy, middleman loaded; with
/// security.tls, CAF's OpenSSL module too, with the node's certificate, key and CA.
class runtime_config : public caf::actor_system_config {
public:
  explicit runtime_config(const node_config& cfg);
};

/// A node to send requests to, and the actor system that talks to it.
class node_session {
public:
  ~node_session();

  /// Starts an embedded node on cfg.data_dir (runtime/node_host.hpp).
  [[nodiscard]] static caf::expected<std::unique_ptr<node_session>> embedded(const node_config& cfg);

  /// Connects to the node published at `address` (H:P): a malformed address is a usage error,
  /// a node that does not answer is unavailable.
  [[nodiscard]] static caf::expected<std::unique_ptr<node_session>> remote(const node_config& cfg,
                                                                           const std::string& address);

  [[nodiscard]] caf::actor_system& system();
  [[nodiscard]] const caf::actor& node() const { return node_; }
  [[nodiscard]] bool is_embedded() const { return host_ != nullptr; }

  /// Makes the request whose response id is `mid` (response_handle::id()) of `requester` fail at once if the remote node goes down: CAF 0.17
  /// leaves requests to a dead peer pending until their timeout.
  void watch(caf::blocking_actor* requester, caf::message_id mid);
  /// The request is answered: it is no longer watched (a pipeline of many requests stays small).
  void unwatch(caf::blocking_actor* requester, caf::message_id mid);

private:
  node_session() = default;
  std::unique_ptr<node_host> host_; // embedded
  std::unique_ptr<runtime_config> config_; // remote
  std::unique_ptr<caf::actor_system> remote_system_;
  caf::actor node_;
  struct watch_state;
  std::shared_ptr<watch_state> watch_;
  caf::actor watcher_;
};

} // namespace p2p
