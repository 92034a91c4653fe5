#pragma once
// The node's /metrics endpoint: HTTP/1.1 over Boost.Beast on its own thread; each request asks
// the node actor for its figures and answers in the Prometheus text format.

#include <memory>
#include <string>

#include <caf/all.hpp>

namespace p2p {

class metrics_server {
public:
  /// Listens on host:port (port 0: any free port); throws std::runtime_error when it cannot.
  metrics_server(caf::actor_system& sys, caf::actor node, const std::string& host, uint16_t port);
  ~metrics_server(); // stops the thread

  [[nodiscard]] uint16_t port() const;

  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace p2p
