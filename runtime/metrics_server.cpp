#include "runtime/metrics_server.hpp"

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "protocol/messages.hpp"
#include "core/log.hpp"
#include "runtime/metrics_text.hpp"

namespace p2p {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto io_timeout = std::chrono::seconds(10);

/// The node's figures as Prometheus text; an error text (and false) when the node does not answer.
bool scrape(caf::actor_system& sys, const caf::actor& node, std::string& body) {
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(node, io_timeout, metrics_atom::value)
    .receive(
      [&](node_metrics& m) {
        body = prometheus_text(m);
        ok = true;
      },
      [&](caf::error& e) { body = "the node did not answer: " + error_text(e) + "\n"; });
  return ok;
}

/// /healthz: the node (its facade and vector router) answers within a second. /readyz: it also
/// serves reads (it has caught up with its peers). The text says why not.
bool probe(caf::actor_system& sys, const caf::actor& node, bool ready, std::string& body) {
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(node, std::chrono::seconds(1), serving_atom::value)
    .receive(
      [&](std::string& why) {
        ok = !ready || why.empty();
        body = !ready ? "ok\n" : ok ? "ready\n" : why + "\n";
      },
      [&](caf::error& e) { body = "the node did not answer within 1 s: " + error_text(e) + "\n"; });
  return ok;
}

/// One connection: read a request, answer it, close (Connection: close keeps this simple).
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, caf::actor_system& sys, caf::actor node)
      : stream_(std::move(socket)), sys_(sys), node_(std::move(node)) {}

  void start() {
    stream_.expires_after(io_timeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

private:
  void on_read(beast::error_code ec) {
    if (ec)
      return; // closed, timed out or malformed: nothing to answer
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "p2p-agent");
    auto target = std::string(request_.target());
    auto path = target.substr(0, target.find('?'));
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
      response_.body() = "only GET and HEAD\n";
    } else if (path == "/healthz" || path == "/readyz") {
      std::string body;
      bool ok = probe(sys_, node_, path == "/readyz", body);
      response_.result(ok ? http::status::ok : http::status::service_unavailable);
      response_.body() = std::move(body);
    } else if (path != "/metrics") {
      response_.result(http::status::not_found);
      response_.body() = "not found: " + path + " (the figures are at /metrics; /healthz, /readyz)\n";
    } else {
      std::string body;
      bool ok = scrape(sys_, node_, body);
      response_.result(ok ? http::status::ok : http::status::service_unavailable);
      response_.set(http::field::content_type, ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
      response_.body() = std::move(body);
    }
    if (!response_.count(http::field::content_type))
      response_.set(http::field::content_type, "text/plain");
    response_.prepare_payload();
    if (request_.method() == http::verb::head)
      response_.body().clear();
    stream_.expires_after(io_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  caf::actor_system& sys_;
  caf::actor node_;
};

} // namespace

struct metrics_server::impl {
  caf::actor_system& sys;
  caf::actor node;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  impl(caf::actor_system& s, caf::actor n) : sys(s), node(std::move(n)) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec)
        std::make_shared<session>(std::move(socket), sys, node)->start();
      accept();
    });
  }
};

metrics_server::metrics_server(caf::actor_system& sys, caf::actor node, const std::string& host, uint16_t port)
    : impl_(std::make_unique<impl>(sys, std::move(node))) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    throw std::runtime_error("metrics: bad host '" + host + "': " + ec.message());
  tcp::endpoint ep{address, port};
  auto& a = impl_->acceptor;
  if (a.open(ep.protocol(), ec); !ec)
    if (a.set_option(asio::socket_base::reuse_address(true), ec); !ec)
      if (a.bind(ep, ec); !ec)
        a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("metrics: cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

metrics_server::~metrics_server() {
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

uint16_t metrics_server::port() const { return impl_->acceptor.local_endpoint().port(); }

} // namespace p2p
