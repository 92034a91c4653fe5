#include "runtime/node_host.hpp"

#include "actors/node_actor.hpp"
#include "protocol/messages.hpp"
#include "protocol/wire_guard.hpp"
#include "runtime/actor_runtime.hpp"
#include "storage/database.hpp"

namespace p2p {

caf::expected<std::unique_ptr<node_host>> node_host::start(const node_config& cfg, fatal_handler fatal) {
  std::string error;
  std::shared_ptr<database> db = database::open(cfg.data_dir, cfg.durability, error);
  if (!db)
    return make_error(errc::storage_failure, error);
  std::unique_ptr<node_host> h(new node_host);
  h->db_ = db;
  h->guard_limits_.max_message_bytes = uint64_t(cfg.max_message_mb) << 20;
  h->guard_limits_.max_connections = cfg.max_connections;
  h->guard_limits_.handshake_timeout_ms = cfg.handshake_timeout_ms;
  h->config_ = std::make_unique<runtime_config>(cfg);
  h->system_ = make_system(*h->config_);
  h->node_ = spawn_node(*h->system_, cfg, std::move(db), std::move(fatal));
  return h;
}

caf::expected<uint16_t> node_host::publish(const std::string& host, uint16_t port) {
  wire_guard::configure(guard_limits_);
  // Watched before it opens: a peer may connect (and send its join) the moment CAF listens, before
  // publish returns here. Such a connection went unguarded, and over TLS its certificate unseen:
  // "no TLS certificate was seen from its process" refused a node of the cluster at start.
  if (port != 0)
    wire_guard::watch_port(port);
  auto bound = publish_node(*system_, node_, host, port);
  if (!bound)
    return make_error(errc::unavailable, "cannot listen on " + host + ":" + std::to_string(port) + ": "
                                           + error_text(bound.error()));
  published_ = *bound;
  wire_guard::watch_port(*bound);
  caf::anon_send(node_, bound_atom::value, *bound);
  return *bound;
}

caf::error node_host::stop(bool flush) {
  if (!system_)
    return {};
  if (published_)
    system_->middleman().unpublish(node_, *published_);
  stop_node(*system_, node_); // waits for every actor, so the shards have released the database
  system_.reset();
  auto flushed = flush ? db_->flush() : status{};
  db_.reset(); // closes RocksDB after syncing its WAL
  if (!flushed.ok())
    return make_error(flushed.code(), "on shutdown: " + flushed.message());
  return {};
}

node_host::~node_host() { (void)stop(false); }

} // namespace p2p
