#pragma once
// The one owner of a node's start and stop, whether it runs as `p2p-agent node`, embedded in a
// command, or inside a benchmark: opens the database, starts the actor system and the node's
// actors, publishes it on request, and on stop waits for every actor before it flushes and
// closes the database.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "config/node_config.hpp"
#include "protocol/wire_guard.hpp"

namespace p2p {

class database;
class runtime_config;

class node_host {
public:
  using fatal_handler = std::function<void(const std::string&)>;

  /// Starts a node from `cfg`; `fatal` is called when the node must stop on its own (its id is
  /// taken in the cluster it joins). Fails with storage_failure when the database cannot open.
  [[nodiscard]] static caf::expected<std::unique_ptr<node_host>> start(const node_config& cfg,
                                                                       fatal_handler fatal = {});

  /// Stops the node if stop() was not called (without the flush: the WAL holds every write).
  ~node_host();

  /// Publishes the node on host:port (0: any free port) and tells it the port; the bound port.
  [[nodiscard]] caf::expected<uint16_t> publish(const std::string& host, uint16_t port);

  /// Unpublishes, stops every actor, then closes the database, first flushing its memtables
  /// when `flush`; the flush's error.
  [[nodiscard]] caf::error stop(bool flush = true);

  [[nodiscard]] caf::actor_system& system() { return *system_; }
  [[nodiscard]] const caf::actor& node() const { return node_; }

private:
  node_host() = default;
  std::unique_ptr<runtime_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<database> db_;
  caf::actor node_;
  std::optional<uint16_t> published_;
  wire_guard::limits guard_limits_;
};

} // namespace p2p
