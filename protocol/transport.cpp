#include "protocol/transport.hpp"

#include <dlfcn.h>

#include <caf/openssl/all.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

// CAF 0.17.6's OpenSSL sessions never empty OpenSSL's per-thread error queue (their only
// ERR_get_error call sits in log statements that Debian's build compiles out), and OpenSSL 3
// reports an entry left there as the failure of the next call on any connection of the same
// thread: one client closing its connection without a TLS close_notify, or one stranger failing
// the handshake, dropped an unrelated peer. OpenSSL requires an empty queue before each I/O
// call; these definitions take the place of libssl's for libcaf_openssl (an executable's symbols
// come first), empty the queue, and call libssl's.
namespace {

template <class F>
F libssl(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"

namespace p2p {

bool uses_tls(caf::actor_system& sys) { return sys.has_openssl_manager(); }

caf::io::middleman_actor connector(caf::actor_system& sys) {
  return uses_tls(sys) ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
}

caf::expected<caf::actor> connect_node(caf::actor_system& sys, const std::string& host, uint16_t port) {
  if (uses_tls(sys))
    return caf::openssl::remote_actor(sys, host, port);
  return sys.middleman().remote_actor(host, port);
}

caf::expected<uint16_t> publish_node(caf::actor_system& sys, const caf::actor& node, const std::string& host,
                                     uint16_t port) {
  if (uses_tls(sys))
    return caf::openssl::publish(node, port, host.c_str(), true);
  return sys.middleman().publish(node, port, host.c_str(), true);
}

} // namespace p2p
