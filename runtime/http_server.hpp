#pragma once
// The node's HTTP listeners (Boost.Beast, one IO thread each, HTTP/1.1 with keep-alive):
// metrics.port serves /metrics, /healthz and /readyz; http.port serves those and the JSON API
// (DESIGN §6 "HTTP"): /status, /peers, collections, points, search, documents. Every request to
// the node is asked by a short-lived actor and answered on the IO thread when the node replies,
// so that requests are served at once and none waits behind another.

#include <cstddef>
#include <memory>
#include <string>

#include <caf/all.hpp>

namespace p2p {

struct http_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;     // 0: any free port
  bool api = false;      // false: only /metrics, /healthz, /readyz
  std::string api_key;   // when set, every request but /healthz needs "Authorization: Bearer KEY"
  size_t max_body = 32u << 20;  // bytes; larger requests get 413
  size_t max_points = 10000;    // points per upsert, documents per ingest; more get 413
  size_t max_queries = 1000;    // query vectors per search request
  // With all three set (security.tls), HTTPS with mutual TLS: a client must show a certificate
  // of the CA `tls_ca`, as on the node's BASP port.
  std::string tls_ca, tls_certificate, tls_key;
};

class http_server {
public:
  /// Listens on options.host:options.port; throws std::runtime_error when it cannot.
  http_server(caf::actor_system& sys, caf::actor node, http_options options);
  ~http_server(); // stop()s

  /// Stops serving: no request is read or answered after it returns. Call it before stopping
  /// the node; destroy the server after, so that answers still on their way from the node's
  /// actors land in a stopped (not a destroyed) IO context.
  void stop();

  [[nodiscard]] uint16_t port() const;

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  struct impl; // internal: the listener and its sessions (http_server.cpp)

private:
  std::unique_ptr<impl> impl_;
};

} // namespace p2p
