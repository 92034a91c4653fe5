#pragma once
// What a node lets through before CAF's BASP code sees a byte. CAF 0.17 trusts the network: it
// allocates the payload a frame header announces (up to 4 GiB) before anything of it arrived,
// keeps connections that never finish a handshake, and accepts every connection offered. The
// guard sits below CAF (it takes the place of libc's accept, recv and close for the node's BASP
// port, and sees the bytes SSL_read returns): it reads each frame header before CAF does, refuses
// an unknown frame type, a frame larger than the limit, or a first frame that is not a
// handshake, and hands CAF a large frame only once all of it arrived, so that memory follows the
// bytes a peer really sent. It closes connections that have not finished their handshake in
// time, refuses connections past a limit, and remembers which certificate the process behind
// each CAF node showed over TLS. It also gives TCP sockets their numbers in turn, not the lowest
// free one, so that CAF never takes a new connection for one that just closed, and gives each
// plaintext connection a share of every multiplexer round (1 MiB, or CAF's 50 reads), so that a
// client flooding large frames does not hold CAF's one I/O thread while others wait (wire_guard.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/node_id.hpp>

namespace p2p::wire_guard {

/// CAF's middleman.max-consecutive-reads, which a node sets to this: the guard keeps a large
/// frame's header and payload within one multiplexer round (wire_guard.cpp, read share).
constexpr size_t consecutive_reads = 50;

struct limits {
  uint64_t max_message_bytes = 256ull << 20; // a frame announcing more is refused
  uint32_t max_connections = 1024;           // accepted connections open at once on the BASP port
  uint32_t handshake_timeout_ms = 5000;      // from accept to the end of the peer's BASP handshake
};

/// Where "@<>+" (a message's type string) next occurs in `s` at or after `from`, or npos.
size_t find_type_string(std::string_view s, size_t from);
/// The refused type (one no node message uses, which CAF 0.17 cannot read safely) that a BASP
/// message payload names, or empty.
std::string_view refused_type_in(std::string_view payload);

/// Sets the limits and starts the thread that closes connections past the handshake timeout.
/// Until called (clients, tests), nothing is guarded.
void configure(const limits& l);

/// Guards connections accepted on the BASP port `port` (call after publishing).
void watch_port(uint16_t port);

/// The names (CN and DNS/IP SANs) of the certificate the process with CAF node id `node` showed
/// on a TLS connection to or from this process; nullopt when no such connection was seen.
[[nodiscard]] std::optional<std::vector<std::string>> certificate_names(const caf::node_id& node);

/// What the guard did, for /metrics.
struct counters {
  uint64_t refused_connections = 0; // past max_connections
  uint64_t handshake_timeouts = 0;  // closed before finishing the handshake
  uint64_t refused_frames = 0;      // unknown type, too large, not a handshake first
  uint64_t open_connections = 0;    // accepted on the BASP port and open now
};
[[nodiscard]] counters read_counters();

/// From now on, notes when this process receives bytes on any socket (clients: a node does not
/// pay for it on each read).
void note_receipts();

/// When this process last received bytes on any socket, since note_receipts (steady clock, ns
/// since its epoch; 0: never). A client has one connection, to its node, which sends BASP
/// heartbeats: a client that heard nothing for the failure timeout knows the node hangs.
[[nodiscard]] int64_t last_received_ns();

/// The remote address of a socket ("?" when it has none any more).
[[nodiscard]] std::string address_of(int fd);

/// Logs `line` (a warning) the first time `key` is seen, so that a peer trying again and again
/// does not fill the log; the guard's own refusals go through the same set.
void log_once(const std::string& key, const std::string& line);

// Called by the TLS hooks in transport.cpp.
void tls_established(int fd, std::vector<std::string> names, bool accepted);
/// Follows the bytes SSL_read returned; false: the connection must close (SSL_read fails).
[[nodiscard]] bool tls_bytes(int fd, const char* data, size_t n);

} // namespace p2p::wire_guard
