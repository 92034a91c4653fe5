#include "protocol/transport.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <limits>
#include <string>

#include <caf/openssl/all.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.hpp"
#include "protocol/wire_guard.hpp"

// CAF 0.17.6's OpenSSL sessions never empty OpenSSL's per-thread error queue (their only
// ERR_get_error call sits in log statements that Debian's build compiles out), and OpenSSL 3
// reports an entry left there as the failure of the next call on any connection of the same
// thread: one client closing its connection without a TLS close_notify, or one stranger failing
// the handshake, dropped an unrelated peer. OpenSSL requires an empty queue before each I/O
// call; these definitions take the place of libssl's for libcaf_openssl (an executable's symbols
// come first), empty the queue, and call libssl's. The handshake ones also log a handshake that
// failed (CAF closes such a connection without a word).
namespace {

template <class F>
F libssl(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

/// The remote address of a TLS connection's socket ("?" when it has none any more).
std::string peer_of(SSL* ssl) { return p2p::wire_guard::address_of(SSL_get_fd(ssl)); }

/// A handshake that failed for good (not one still waiting for bytes): logged once per remote
/// address and reason, so that a stranger knocking again and again does not fill the log.
void note_failed_handshake(SSL* ssl, int ret, bool accepting, const std::string& who) {
  if (SSL_get_error(ssl, ret) != SSL_ERROR_SSL)
    return;
  char reason[256] = "unknown";
  if (auto e = ERR_peek_error())
    ERR_error_string_n(e, reason, sizeof reason);
  p2p::wire_guard::log_once(who + " " + reason,
                            std::string(accepting ? "refused a TLS connection from " : "TLS handshake with ") + who
                              + (accepting ? "" : " failed") + ": " + reason
                              + " (a plain client, another CA's certificate, or no certificate; logged once "
                                "per address and reason)");
}

/// The names a certificate gives its holder: the subject's CN, then its DNS and IP SANs.
std::vector<std::string> names_of(X509* cert) {
  std::vector<std::string> names;
  if (cert == nullptr)
    return names;
  char cn[256];
  if (int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn); n > 0)
    names.emplace_back(cn, static_cast<size_t>(n));
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    auto* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      auto* s = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD && ASN1_STRING_length(name->d.iPAddress) == 4) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, ASN1_STRING_get0_data(name->d.iPAddress), text, sizeof text);
      names.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  std::sort(names.begin() + (names.empty() ? 0 : 1), names.end()); // the CN first, then each SAN once
  names.erase(std::unique(names.begin(), names.end()), names.end());
  names.erase(std::remove(names.begin() + (names.empty() ? 0 : 1), names.end(), names.empty() ? "" : names.front()), names.end());
  return names;
}

void note_established(SSL* ssl, bool accepted) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  p2p::wire_guard::tls_established(SSL_get_fd(ssl), names_of(cert), accepted);
  X509_free(cert);
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  int ret = real(ssl, buf, num);
  // A refused frame fails the read: with nothing in OpenSSL's queue, CAF reads SSL_ERROR_SYSCALL
  // and closes the connection.
  if (ret > 0 && !p2p::wire_guard::tls_bytes(SSL_get_fd(ssl), static_cast<const char*>(buf), static_cast<size_t>(ret)))
    return -1;
  return ret;
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

// TLS 1.3 with AES-128-GCM first (OpenSSL's default order puts AES-256-GCM first): both are
// AEAD with AES-NI, and the 128-bit key does 10 rounds per block instead of 14. Set on both
// sides before the handshake starts, so that either side's order picks it.
static void prefer_fast_cipher(SSL* ssl) {
  if (SSL_in_before(ssl))
    SSL_set_ciphersuites(ssl, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
}

int SSL_connect(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  SSL_set_read_ahead(ssl, 1); // one read() fills OpenSSL's buffer with many records
  prefer_fast_cipher(ssl);
  auto who = peer_of(ssl); // before: a peer that refuses us may have closed the socket after
  int ret = real(ssl);
  if (ret <= 0)
    note_failed_handshake(ssl, ret, false, who);
  else
    note_established(ssl, false);
  return ret;
}

int SSL_accept(SSL* ssl) {
  static auto real = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  SSL_set_read_ahead(ssl, 1); // one read() fills OpenSSL's buffer with many records
  prefer_fast_cipher(ssl);
  auto who = peer_of(ssl);
  int ret = real(ssl);
  if (ret <= 0)
    note_failed_handshake(ssl, ret, true, who);
  else
    note_established(ssl, true);
  return ret;
}

// With read-ahead, OpenSSL may hold whole records not yet decrypted, which SSL_pending does not
// count; CAF's read loop asks SSL_pending whether to go on once it did its quota of reads, and
// the socket, already drained, would not wake it again. Report such bytes as plenty.
int SSL_pending(const SSL* ssl) {
  static auto real = libssl<int (*)(const SSL*)>("SSL_pending");
  int n = real(ssl);
  if (n == 0 && SSL_has_pending(ssl))
    return std::numeric_limits<int>::max();
  return n;
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
