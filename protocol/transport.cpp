#include "protocol/transport.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>

#include <caf/openssl/all.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.hpp"
#include "protocol/errors.hpp"
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
F next_definition(const char* name) {
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

/// Whether `set` holds exactly these signals.
bool is_only(const sigset_t* set, std::initializer_list<int> signals) {
  if (set == nullptr)
    return false;
  sigset_t want;
  sigemptyset(&want);
  for (int s : signals)
    sigaddset(&want, s);
  // The first 64 bits only: the signals there are, and all that the kernel reads or writes (the
  // rest of a mask it filled in is whatever the caller's memory held).
  return std::memcmp(set, &want, (NSIG - 1) / 8) == 0;
}

/// Whether SIGPIPE is blocked in this thread for good, as far as the calls seen here tell.
thread_local bool sigpipe_blocked = false;

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_definition<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  int ret = real(ssl, buf, num);
  // A refused frame fails the read: with nothing in OpenSSL's queue, CAF reads SSL_ERROR_SYSCALL
  // and closes the connection.
  if (ret > 0 && !p2p::wire_guard::tls_bytes(SSL_get_fd(ssl), static_cast<const char*>(buf), static_cast<size_t>(ret)))
    return -1;
  return ret;
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next_definition<int (*)(SSL*, const void*, int)>("SSL_write");
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
  static auto real = next_definition<int (*)(SSL*)>("SSL_connect");
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
  static auto real = next_definition<int (*)(SSL*)>("SSL_accept");
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
  static auto real = next_definition<int (*)(const SSL*)>("SSL_pending");
  int n = real(ssl);
  if (n == 0 && SSL_has_pending(ssl))
    return std::numeric_limits<int>::max();
  return n;
}


// Around every SSL_read and SSL_write, CAF 0.17.6's OpenSSL session blocks SIGPIPE, waits for a
// pending one with a zero timeout, and restores the mask: three system calls per call, which
// strace counted at 13.5 per one-way message on node-1 (against 4.7 reads and writes). The actor
// systems of this program are built with SIGPIPE blocked in all their threads (`make_system`
// below), for good, so the guard does nothing there but cost. These definitions take the place
// of libc's for libcaf_openssl and make that exact sequence free on a thread where SIGPIPE was
// already blocked when it began: the block hands back a marker mask ({SIGKILL, SIGSTOP}, which a
// real mask never holds), the restore of that marker does nothing, and the wait for SIGPIPE
// returns "none". Any other use goes to libc unchanged. A SIGPIPE that a write raises there stays
// pending on a thread that keeps it blocked: the write itself fails with EPIPE, as CAF expects.

int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  static auto real = next_definition<int (*)(int, const sigset_t*, sigset_t*)>("pthread_sigmask");
  if (sigpipe_blocked && how == SIG_BLOCK && old != nullptr && is_only(set, {SIGPIPE})) {
    sigemptyset(old);
    sigaddset(old, SIGKILL);
    sigaddset(old, SIGSTOP);
    return 0;
  }
  if (how == SIG_SETMASK && is_only(set, {SIGKILL, SIGSTOP}))
    return 0; // the restore of the marker above
  int ret = real(how, set, old);
  if (ret == 0 && set != nullptr) {
    if (how == SIG_BLOCK && old != nullptr && sigismember(set, SIGPIPE) == 1 && sigismember(old, SIGPIPE) == 1)
      sigpipe_blocked = true; // it was blocked before this call
    else if ((how == SIG_UNBLOCK && sigismember(set, SIGPIPE) == 1)
             || (how == SIG_SETMASK && sigismember(set, SIGPIPE) != 1))
      sigpipe_blocked = false;
  }
  return ret;
}

int sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
  static auto real = next_definition<int (*)(const sigset_t*, siginfo_t*, const struct timespec*)>("sigtimedwait");
  if (sigpipe_blocked && timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0
      && is_only(set, {SIGPIPE})) {
    errno = EAGAIN;
    return -1;
  }
  return real(set, info, timeout);
}

} // extern "C"

namespace p2p {

bool uses_tls(caf::actor_system& sys) { return sys.has_openssl_manager(); }

caf::io::middleman_actor connector(caf::actor_system& sys) {
  return uses_tls(sys) ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
}

caf::expected<caf::actor> connect_node(caf::actor_system& sys, const std::string& host, uint16_t port,
                                       std::chrono::milliseconds timeout) {
  // Asked with a timeout of its own: CAF's remote_actor waits without end, and a client does not
  // rely on BASP's connection timeout (runtime/actor_runtime.cpp says why).
  caf::scoped_actor self{sys};
  caf::expected<caf::actor> result{caf::sec::request_timeout};
  self->request(connector(sys), timeout, caf::connect_atom::value, host, port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (ptr)
          result = caf::actor_cast<caf::actor>(ptr);
        else
          result = make_error(errc::unavailable, "nothing is published on port " + std::to_string(port));
      },
      [&](caf::error& err) {
        result = err == caf::sec::request_timeout
                   ? make_error(errc::unavailable, "no CAF handshake within " + std::to_string(timeout.count()) + " ms")
                   : std::move(err);
      });
  return result;
}

caf::expected<uint16_t> publish_node(caf::actor_system& sys, const caf::actor& node, const std::string& host,
                                     uint16_t port) {
  if (uses_tls(sys))
    return caf::openssl::publish(node, port, host.c_str(), true);
  return sys.middleman().publish(node, port, host.c_str(), true);
}

std::unique_ptr<caf::actor_system> make_system(caf::actor_system_config& cfg) {
  sigset_t pipe, before;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &before);
  auto sys = std::make_unique<caf::actor_system>(cfg);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return sys;
}

} // namespace p2p
