#include "runtime/actor_runtime.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

#include <caf/openssl/manager.hpp>

#include "protocol/messages.hpp"
#include "protocol/wire_guard.hpp"
#include "runtime/node_host.hpp"

namespace p2p {

runtime_config::runtime_config(const node_config& cfg) {
  load<caf::io::middleman>();
  register_message_types(*this);
  register_error_category(*this);
  set("scheduler.max-threads", size_t(cfg.scheduler_threads));
  // An actor yields its thread after 10 messages (CAF 0.17 lets it run without end by default):
  // shards that keep sending themselves index steps would otherwise hold both threads while
  // status, /metrics and the router wait. Measured on 2 cores (perf/README.md): /metrics during a
  // 50,000-vector put and its indexing answered within 0.53 s at most (3.65 s with 100, unbounded
  // before), indexing 2.5 % slower.
  set("scheduler.max-throughput", size_t(10));
  set("scheduler.policy", cfg.scheduler_policy == "stealing" ? caf::atom("stealing") : caf::atom("sharing"));
  // Run BASP in the multiplexer thread: measured 3x lower cross-process latency (field notes).
  set("middleman.workers", size_t(0));
  // CAF's default; the wire guard's share of each multiplexer round per connection counts on it.
  set("middleman.max-consecutive-reads", wire_guard::consecutive_reads);
  // BASP heartbeats: a peer that hangs without closing its socket is dropped after
  // cluster.failure_timeout_ms without traffic.
  set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(cfg.heartbeat_ms)});
  set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(cfg.failure_timeout_ms)});
  set("logger.verbosity", caf::atom("quiet"));
  set("logger.console", caf::atom("none"));
  if (cfg.tls()) {
    // CAF verifies the peer's certificate against the CA on both sides of every connection
    // (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT when a CA file is set).
    load<caf::openssl::manager>();
    set("openssl.certificate", cfg.tls_certificate);
    set("openssl.key", cfg.tls_key);
    set("openssl.cafile", cfg.tls_ca);
  }
}

namespace {
using watch_tick_atom = caf::atom_constant<caf::atom("w_tick")>;
} // namespace

struct node_session::watch_state {
  std::mutex mutex;
  std::string address;
  bool down = false;
  std::string why = "went down";
  std::vector<std::pair<caf::strong_actor_ptr, caf::message_id>> waiting;

  void fail(const caf::strong_actor_ptr& who, caf::message_id mid) {
    who->enqueue(caf::make_mailbox_element(nullptr, mid, {}, make_error(errc::unavailable, "the node at " + address + " " + why)),
                 nullptr);
  }

  /// The node is gone (or hangs): every request waiting on it fails now, and later ones at once.
  void give_up(std::string reason) {
    std::lock_guard<std::mutex> guard(mutex);
    if (down)
      return;
    down = true;
    why = std::move(reason);
    for (auto& [who, mid] : waiting)
      fail(who, mid);
    waiting.clear();
  }
};

void node_session::watch(caf::blocking_actor* requester, caf::message_id mid) {
  if (!watch_)
    return;
  auto who = caf::actor_cast<caf::strong_actor_ptr>(requester->ctrl());
  std::lock_guard<std::mutex> guard(watch_->mutex);
  if (watch_->down)
    watch_->fail(who, mid);
  else
    watch_->waiting.emplace_back(std::move(who), mid);
}

void node_session::unwatch(caf::blocking_actor* requester, caf::message_id mid) {
  if (!watch_)
    return;
  auto who = requester->ctrl();
  std::lock_guard<std::mutex> guard(watch_->mutex);
  auto& w = watch_->waiting;
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i].second == mid && w[i].first.get() == who) {
      w[i] = std::move(w.back());
      w.pop_back();
      return;
    }
}

caf::actor_system& node_session::system() { return host_ ? host_->system() : *remote_system_; }

node_session::~node_session() {
  if (watcher_)
    caf::anon_send_exit(watcher_, caf::exit_reason::user_shutdown);
  node_ = nullptr;
  watcher_ = nullptr;
  host_.reset(); // stops the embedded node: every actor, then the database
  remote_system_.reset();
}

caf::expected<std::unique_ptr<node_session>> node_session::embedded(const node_config& cfg) {
  auto host = node_host::start(cfg);
  if (!host)
    return host.error();
  std::unique_ptr<node_session> s(new node_session);
  s->host_ = std::move(*host);
  s->node_ = s->host_->node();
  return s;
}

caf::expected<std::unique_ptr<node_session>> node_session::remote(const node_config& cfg,
                                                                  const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (!parse_address(address, host, port))
    return make_error(errc::usage, "--peer: expected HOST:PORT, got '" + address + "'");
  std::unique_ptr<node_session> s(new node_session);
  s->config_ = std::make_unique<runtime_config>(cfg);
  // A client sends BASP heartbeats (a node drops a connection silent for its failure timeout)
  // but checks none itself. CAF 0.17 counts an outgoing connection as last heard from at time
  // zero until the node's handshake arrives, so the client's first heartbeat tick (within
  // heartbeat_ms of its start) dropped every connection whose handshake came later: under a
  // flood, 1 to 3 of about 32 `status` probes failed with "cannot reach node ...:
  // connection_timeout" after 1.2 s. The connect has a timeout of its own instead, and the
  // session's watcher (below) gives up on a node whose heartbeats stop.
  s->config_->set("middleman.connection-timeout", caf::timespan{0});
  wire_guard::note_receipts();
  s->remote_system_ = make_system(*s->config_);
  auto node = connect_node(*s->remote_system_, host, port, std::chrono::milliseconds(cfg.failure_timeout_ms));
  if (!node)
    return make_error(errc::unavailable, "cannot reach node at " + address + ": " + error_text(node.error()));
  s->node_ = *node;
  s->watch_ = std::make_shared<watch_state>();
  s->watch_->address = address;
  // A node that closes the connection is seen at once (down); one that hangs with it open by the
  // silence of its BASP heartbeats, which its multiplexer sends every heartbeat_ms whatever its
  // load: the client's only connection is to the node, so any bytes received count.
  auto every = std::chrono::milliseconds(std::max<uint32_t>(cfg.heartbeat_ms, 100));
  auto silence = std::chrono::nanoseconds(std::chrono::milliseconds(cfg.failure_timeout_ms));
  s->watcher_ = s->remote_system_->spawn([watch = s->watch_, node = s->node_, every,
                                          silence](caf::event_based_actor* self) -> caf::behavior {
    self->monitor(node);
    self->set_down_handler([=](caf::down_msg&) { watch->give_up("went down"); });
    self->delayed_send(self, every, watch_tick_atom::value);
    return {
      [=](watch_tick_atom) {
        auto quiet = std::chrono::steady_clock::now().time_since_epoch()
                     - std::chrono::nanoseconds(wire_guard::last_received_ns());
        if (quiet > silence) {
          watch->give_up("sent nothing for " + std::to_string(silence.count() / 1000000) + " ms (it hangs, or the "
                         "network between)");
          return;
        }
        self->delayed_send(self, every, watch_tick_atom::value);
      },
    };
  });
  return s;
}

} // namespace p2p
