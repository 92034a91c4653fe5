#include "protocol/wire_guard.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <caf/binary_deserializer.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/log.hpp"

namespace p2p::wire_guard {
namespace {

using steady = std::chrono::steady_clock;

// CAF 0.17's BASP frame: a 32-byte header (operation, two pad bytes, flags, payload length as
// a big-endian uint32, operation data, source and destination actor), then the payload.
constexpr size_t header_size = 32;
constexpr uint8_t server_handshake = 0, client_handshake = 1, last_operation = 6; // heartbeat
// Frames up to this size go to CAF as they arrive (CAF allocates at most this for a header);
// larger ones are collected here first, so that memory grows with the bytes really sent.
constexpr uint64_t pass_through_bytes = 64 * 1024;
// How much of the first frame's payload is kept: it starts with the sender's CAF node id.
constexpr size_t first_payload_bytes = 256;

// Message element types that take a node down when forged: CAF 0.17 throws while reading them (a
// variant index out of range, "invalid type found"; a byte buffer sized from the wire,
// std::length_error), which kills the BASP broker, or crashes printing them (a caf::duration
// with a time unit out of range, when an actor drops an unexpected message). No node message
// uses them; a frame naming one is refused.
constexpr std::string_view refused_types[] = {"@charbuf",        "@config_value",   "@downstream_msg", "@upstream_msg",
                                              "@open_stream_msg", "@group",          "@duration"};

bool type_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == ':'
         || ch == '<' || ch == '>' || ch == ',' || ch == '@' || ch == '+';
}

} // namespace

/// Where "@<>+" (the start of a message's type string) next occurs in `s` at or after `from`, or
/// npos. Large payloads are mostly float blocks, in which '@' (0x40) is a common byte: a search
/// that stops at every '@' (std::string_view::find, memchr) took 9 % of the CPU of a node taking
/// puts (perf/README, thirteenth session). This one tests 16 positions at a time for all four
/// bytes.
size_t find_type_string(std::string_view s, size_t from) {
  constexpr size_t npos = std::string_view::npos;
  if (s.size() < 4 || from > s.size() - 4)
    return npos;
  const char* p = s.data();
  size_t last = s.size() - 4; // the last position a match can start at
  size_t i = from;
#if defined(__SSE2__)
  const __m128i at = _mm_set1_epi8('@'), lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), plus = _mm_set1_epi8('+');
  for (; i + 15 <= last; i += 16) { // positions i..i+15, bytes up to i+18 <= last+3
    auto load = [&](size_t k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k)); };
    __m128i hit = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(load(i), at), _mm_cmpeq_epi8(load(i + 1), lt)),
                                _mm_and_si128(_mm_cmpeq_epi8(load(i + 2), gt), _mm_cmpeq_epi8(load(i + 3), plus)));
    if (int mask = _mm_movemask_epi8(hit); mask != 0)
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i <= last; ++i)
    if (p[i] == '@' && p[i + 1] == '<' && p[i + 2] == '>' && p[i + 3] == '+')
      return i;
  return npos;
}

/// The refused type a message payload names, or empty. A message's element types are one
/// string in the payload, "@<>+T1+T2..." (nested messages have their own), so every such string
/// is read; a type CAF does not know ends CAF's reading, so nothing after it matters.
std::string_view refused_type_in(std::string_view payload) {
  for (size_t at = find_type_string(payload, 0); at != std::string_view::npos;
       at = find_type_string(payload, at + 4)) {
    size_t end = at + 4;
    while (end < payload.size() && type_name_char(payload[end]))
      ++end;
    auto names = payload.substr(at + 4, end - at - 4);
    for (size_t start = 0; start <= names.size();) {
      auto plus = std::min(names.find('+', start), names.size());
      auto name = names.substr(start, plus - start);
      for (auto refused : refused_types)
        if (name.substr(0, refused.size()) == refused)
          return refused;
      start = plus + 1;
    }
  }
  return {};
}

namespace {

/// Memory of large frames already handed to CAF, kept for the next ones (per thread: the multiplexer
/// thread collects and serves them). A fresh buffer for every 2 MB put frame cost its page faults
/// (zeroed by the kernel) and a copy when it grew: with the faults of the other copies, 17 % of
/// a node's CPU under puts (perf/README, thirteenth session). At most `spare_buffers` buffers of
/// at most `spare_bytes` each are kept, so this holds at most 32 MiB per polling thread, whatever
/// the peers send.
struct spare_buffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
};
constexpr size_t spare_buffers = 4, spare_bytes = size_t(8) << 20;
thread_local std::vector<spare_buffer> spares;

/// A large frame's bytes as they arrive: grows with them (never to what a header announces before
/// the bytes came, except into memory kept from earlier frames), without zero-filling what recv
/// writes over anyway.
class frame_buffer {
public:
  // Destroying one frees its memory: only release() keeps it (a connection may be destroyed
  // after its thread's spares are gone).
  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] char* data() { return data_.get(); }
  [[nodiscard]] std::string_view view() const { return {data_.get(), size_}; }
  /// Room for `n` more bytes at data() + size(): a kept buffer that is big enough, else twice as
  /// much as now.
  void reserve_more(size_t n) {
    if (size_ + n <= capacity_)
      return;
    std::unique_ptr<char[]> bigger;
    size_t capacity = 0;
    auto kept = std::max_element(spares.begin(), spares.end(),
                                 [](auto& a, auto& b) { return a.capacity < b.capacity; });
    if (kept != spares.end() && kept->capacity >= size_ + n) {
      bigger = std::move(kept->data);
      capacity = kept->capacity;
      spares.erase(kept);
    } else {
      capacity = std::max(size_ + n, capacity_ * 2);
      bigger.reset(new char[capacity]);
    }
    auto size = size_;
    if (size > 0)
      std::memcpy(bigger.get(), data_.get(), size);
    release(); // the smaller one may serve a later frame
    data_ = std::move(bigger);
    size_ = size;
    capacity_ = capacity;
  }
  void append(const void* p, size_t n) {
    reserve_more(n);
    std::memcpy(data_.get() + size_, p, n);
    size_ += n;
  }
  void grew(size_t n) { size_ += n; } // n bytes were written at data() + size()
  /// Empty again; the memory is kept for a later frame while there is room among the spares.
  void release() {
    if (data_ && capacity_ >= pass_through_bytes && capacity_ <= spare_bytes) {
      if (spares.size() < spare_buffers)
        spares.push_back({std::move(data_), capacity_});
      else if (auto least = std::min_element(spares.begin(), spares.end(),
                                             [](auto& a, auto& b) { return a.capacity < b.capacity; });
               least->capacity < capacity_)
        *least = {std::move(data_), capacity_};
    }
    data_.reset();
    size_ = capacity_ = 0;
  }

private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0, capacity_ = 0;
};

struct connection {
  bool inbound = false; // accepted on a watched port (else a TLS connection this process opened)
  bool tls = false;
  steady::time_point opened;
  std::string peer;
  bool handshaken = false; // the peer's first frame, a handshake, arrived whole
  // Where the byte stream stands: in a header (header_have < 32) or in a payload.
  unsigned char header[header_size];
  size_t header_have = 0;
  uint64_t payload_left = 0;
  uint8_t operation = 0;
  uint64_t frames = 0;
  std::string first_payload;
  std::string payload; // a message frame's payload so far (plaintext, passed through)
  // A large frame being collected (holding) or handed to CAF (serving) from `held`.
  bool holding = false, serving = false;
  frame_buffer held;
  size_t served = 0;
  // What this connection delivered in the multiplexer's current round (its share: round_read_bytes).
  uint64_t round = 0, round_reads = 0, round_bytes = 0;
  std::vector<std::string> names; // the peer certificate's names (TLS)
};

struct state {
  std::mutex mutex;
  limits lim;
  bool configured = false;
  std::set<uint16_t> ports;
  std::unordered_map<int, connection> connections;
  uint64_t open_inbound = 0;
  std::map<std::string, std::vector<std::string>> names_by_node;
  std::set<std::string> logged;
  uint64_t refused_connections = 0, handshake_timeouts = 0, refused_frames = 0;
};

// Never destroyed: the hooks run until the last socket of the process closes.
state& guard() {
  static auto* s = new state;
  return *s;
}

// The multiplexer's share of reads per connection. CAF 0.17's multiplexer reads a readable
// connection up to max-consecutive-reads times (consecutive_reads, 50) per epoll round, each read
// one frame header or one payload, and the guard hands a large frame's payload to CAF in one
// read: a client flooding a node with 2 MB puts had 25 frames (50 MB) read in one round, and a
// new connection's handshake, a status request or its answer waited for the round to end:
// `status` took up to 4-7 s during such a flood on 2 cores. A guarded connection now starts no
// frame in a round once it delivered round_read_bytes (one large frame, or thousands of small
// ones: the read count is the limit for those), nor one that might need two reads more than CAF
// makes: a large frame is collected here whole, so once its header went to CAF its payload must
// go in the same round (the kernel has nothing left to wake the multiplexer with). A round starts
// at each epoll_wait of the thread (the multiplexer's; a thread that never polls is not limited).
constexpr uint64_t round_read_bytes = 1 << 20;
thread_local uint64_t poll_round = 0;

// The number of connections tracked: the hooks' fast path for every other descriptor.
std::atomic<size_t> tracked{0};

// When recv last returned bytes (last_received_ns), once note_receipts was called.
std::atomic<bool> noting{false};
std::atomic<int64_t> received_at{0};

ssize_t noting_receipt(ssize_t n) {
  if (n > 0 && noting.load(std::memory_order_relaxed))
    received_at.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
  return n;
}

template <class F>
F libc(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

ssize_t real_recv(int fd, void* buf, size_t len, int flags) {
  static auto f = libc<ssize_t (*)(int, void*, size_t, int)>("recv");
  return f(fd, buf, len, flags);
}

int real_close(int fd) {
  static auto f = libc<int (*)(int)>("close");
  return f(fd);
}

// CAF 0.17 names a connection by its socket's number, and when a connection closes it removes
// the number's routing entry later, through the BASP broker's own mailbox. The kernel hands out
// the lowest free number, so a connection accepted in between gets the number of the one just
// closed, and CAF then takes its messages for the dead connection's node's, or for no node's:
// they arrive, but answers to their senders are dropped for as long as the connection lives.
// Seen as a joiner whose join was never answered while every other message went through (the
// 24-node chain, with `cluster.sh up` asking every node with short-lived CLI connections). So
// sockets for TCP get their numbers in turn from a range above the ones files and pipes use, and a
// number comes back only after the whole range was handed out.
constexpr int first_socket_number = 256;
constexpr int socket_numbers_up_to = 65536;
std::atomic<int> next_socket_number{first_socket_number};

/// `fd`, or the same socket under the next free number in turn (`fd` then closed).
int renumber(int fd, bool close_on_exec) {
  rlimit rl{};
  if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return fd;
  int top = static_cast<int>(std::min<rlim_t>(rl.rlim_cur, socket_numbers_up_to));
  if (top - first_socket_number < 256)
    return fd; // too few numbers to take turns with
  int cmd = close_on_exec ? F_DUPFD_CLOEXEC : F_DUPFD;
  int from = next_socket_number.load(std::memory_order_relaxed);
  if (from < first_socket_number || from >= top)
    from = first_socket_number;
  int moved = fcntl(fd, cmd, from); // the lowest free number from `from` on
  if (moved < 0 && from > first_socket_number)
    moved = fcntl(fd, cmd, first_socket_number); // none left above: round again
  if (moved < 0)
    return fd; // no number free in the range: the kernel's
  real_close(fd);
  next_socket_number.store(moved + 1, std::memory_order_relaxed);
  return moved;
}

std::string remote_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  char host[INET6_ADDRSTRLEN] = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    if (addr.ss_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, host, sizeof host);
    else if (addr.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, host, sizeof host);
  }
  return host;
}

uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return 0;
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

/// Logs once per address and reason (under the mutex), so that a peer trying again and again
/// does not fill the log.
bool first_time(state& s, const std::string& key) {
  return s.logged.size() <= 10000 && s.logged.insert(key).second;
}

void note(state& s, const std::string& who, const std::string& what, const std::string& detail = {}) {
  if (first_time(s, who + " " + what))
    log(log_level::warn, what + detail + " (from " + who + "; logged once per address and reason)");
}

void forget(state& s, int fd) {
  auto i = s.connections.find(fd);
  if (i == s.connections.end())
    return;
  if (i->second.inbound)
    --s.open_inbound;
  s.connections.erase(i);
  tracked.store(s.connections.size(), std::memory_order_relaxed);
}

/// The first frame of a connection ended: it must be a handshake, which names the sender's
/// CAF node; with TLS, that node's certificate names are remembered.
bool first_frame_done(state& s, connection& c) {
  if (c.operation != server_handshake && c.operation != client_handshake)
    return false;
  c.handshaken = true;
  if (!c.tls)
    return true;
  caf::node_id node;
  caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr), c.first_payload.data(),
                                  c.first_payload.size()};
  if (!source(node) && node)
    s.names_by_node[caf::to_string(node)] = c.names;
  c.first_payload.clear();
  c.first_payload.shrink_to_fit();
  return true;
}

/// Follows `n` bytes the peer sent on `c` (in order): an empty string, or why the connection
/// must close.
std::string follow(state& s, connection& c, const char* data, size_t n) {
  size_t consumed = 0;
  while (consumed < n) {
    if (c.payload_left > 0) {
      auto take = static_cast<size_t>(std::min<uint64_t>(c.payload_left, n - consumed));
      if (c.tls && c.frames == 0 && c.first_payload.size() < first_payload_bytes) // names the peer's node
        c.first_payload.append(data + consumed, std::min(take, first_payload_bytes - c.first_payload.size()));
      c.payload_left -= take;
      consumed += take;
      if (c.payload_left == 0 && c.frames++ == 0 && !first_frame_done(s, c))
        return "a first BASP frame that is not a handshake";
      continue;
    }
    auto take = std::min(header_size - c.header_have, n - consumed);
    std::memcpy(c.header + c.header_have, data + consumed, take);
    c.header_have += take;
    consumed += take;
    if (c.header_have < header_size)
      continue;
    c.header_have = 0;
    c.operation = c.header[0];
    uint32_t length = 0;
    std::memcpy(&length, c.header + 4, 4);
    length = ntohl(length);
    if (c.operation > last_operation)
      return "a BASP frame of unknown type";
    if (c.frames == 0 && c.operation != server_handshake && c.operation != client_handshake)
      return "a first BASP frame that is not a handshake";
    if (length == 0 && c.operation != last_operation) // CAF 0.17 dereferences the missing payload
      return "an empty BASP frame of a type that needs a payload";
    if (c.frames == 0 && length > pass_through_bytes)
      return "a BASP handshake announcing " + std::to_string(length) + " bytes";
    if (length > s.lim.max_message_bytes)
      return "a BASP frame announcing " + std::to_string(length) + " bytes (security.max_message_mb is "
             + std::to_string(s.lim.max_message_bytes >> 20) + ")";
    if (length == 0 && c.frames++ == 0 && !first_frame_done(s, c))
      return "a first BASP frame that is not a handshake";
    c.payload_left = length;
  }
  return {};
}

void refuse_frame(state& s, connection& c, const std::string& why) {
  ++s.refused_frames;
  auto cut = why.find(" announcing "); // one line per kind of refusal, not per size
  note(s, c.peer, "closed a connection that sent " + why.substr(0, cut), cut == std::string::npos ? "" : why.substr(cut));
}

/// Empty when the message payload names no refused type, else why its connection closes.
std::string check_types(std::string_view payload) {
  auto refused = refused_type_in(payload);
  return refused.empty() ? std::string() : "a message of type " + std::string(refused) + ", which no node message uses";
}

// A socket the guard does not follow frame by frame (a connection this node opened to a peer,
// which carries that peer's puts and searches as much as an accepted one; any TLS connection,
// whose bytes OpenSSL reads with read(2)) gets the same share in bytes: CAF reads it straight
// from the kernel, so what a round leaves there wakes the next one. (OpenSSL calls read(2) only
// for bytes it does not hold yet, so a refusal never strands decrypted bytes.)
struct round_count {
  uint64_t round = 0, bytes = 0;
};
thread_local std::vector<round_count> round_counts; // by socket number; in polling threads only

/// `read_it()` (a read of socket `fd`), unless `fd` had its share of this round: then EAGAIN.
template <class Read>
ssize_t within_share(int fd, Read&& read_it) {
  if (poll_round == 0 || fd < 0 || fd >= socket_numbers_up_to)
    return read_it();
  if (size_t(fd) >= round_counts.size())
    round_counts.resize(std::max(size_t(fd) + 1, round_counts.size() * 2));
  auto& c = round_counts[size_t(fd)];
  if (c.round != poll_round) {
    c.round = poll_round;
    c.bytes = 0;
  } else if (c.bytes >= round_read_bytes) {
    errno = EAGAIN;
    return -1;
  }
  auto n = read_it();
  if (n > 0)
    c.bytes += uint64_t(n);
  return n;
}

ssize_t shared_recv(int fd, void* buf, size_t len, int flags) {
  if ((flags & MSG_PEEK) != 0)
    return real_recv(fd, buf, len, flags);
  return within_share(fd, [&] { return real_recv(fd, buf, len, flags); });
}

// This process's TCP sockets by number (socket and accept mark them, close clears them): a
// read(2) of one is a socket read (OpenSSL's), of anything else a file's or a pipe's.
std::atomic<uint64_t> tcp_socket_bits[socket_numbers_up_to / 64];

void mark_tcp_socket(int fd, bool tcp) {
  if (fd < 0 || fd >= socket_numbers_up_to)
    return;
  auto bit = uint64_t(1) << (fd % 64);
  if (tcp)
    tcp_socket_bits[fd / 64].fetch_or(bit, std::memory_order_relaxed);
  else
    tcp_socket_bits[fd / 64].fetch_and(~bit, std::memory_order_relaxed);
}

bool is_tcp_socket(int fd) {
  return fd >= 0 && fd < socket_numbers_up_to
         && (tcp_socket_bits[fd / 64].load(std::memory_order_relaxed) & (uint64_t(1) << (fd % 64))) != 0;
}

/// Reads a plaintext connection's bytes for CAF, frame by frame (see the file's comment).
ssize_t guarded_recv(state& s, connection& c, int fd, char* buf, size_t len, int flags) {
  if (c.serving) {
    auto n = std::min(len, c.held.size() - c.served);
    std::memcpy(buf, c.held.data() + c.served, n);
    c.served += n;
    if (c.served == c.held.size()) {
      c.serving = false;
      c.held.release();
      c.served = 0;
    }
    return static_cast<ssize_t>(n);
  }
  if (!c.holding && c.payload_left > 0) {
    // Inside a frame CAF reads as it arrives; a message is checked before its last byte goes.
    auto got = real_recv(fd, buf, static_cast<size_t>(std::min<uint64_t>(len, c.payload_left)), flags);
    if (got <= 0)
      return got;
    std::string why;
    if (c.frames > 0) {
      // A payload that came in one piece (the usual case) is checked where CAF will read it;
      // only one that came in pieces is copied to be checked whole.
      bool last = uint64_t(got) == c.payload_left;
      if (last && c.payload.empty()) {
        why = check_types(std::string_view(buf, static_cast<size_t>(got)));
      } else {
        c.payload.append(buf, static_cast<size_t>(got));
        if (last) {
          why = check_types(c.payload);
          std::string().swap(c.payload);
        }
      }
    }
    if (why.empty())
      why = follow(s, c, buf, static_cast<size_t>(got));
    if (!why.empty()) {
      refuse_frame(s, c, why);
      errno = ECONNRESET;
      return -1;
    }
    return got;
  }
  if (!c.holding) {
    // A frame ends here: the next one waits for the next round if this one had its share. Level-
    // triggered epoll reports the connection again at once, with the next header in the kernel.
    if (c.header_have == 0 && poll_round != 0
        && (c.round_bytes >= round_read_bytes || c.round_reads + 2 > consecutive_reads)) {
      errno = EAGAIN;
      return -1;
    }
    // A header: read it whole here before CAF sees any of it.
    while (c.header_have < header_size) {
      auto got = real_recv(fd, c.header + c.header_have, header_size - c.header_have, flags);
      if (got <= 0) {
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
          return got;
        errno = EAGAIN;
        return -1;
      }
      c.header_have += static_cast<size_t>(got);
    }
    unsigned char header[header_size];
    std::memcpy(header, c.header, header_size);
    c.header_have = 0;
    if (auto why = follow(s, c, reinterpret_cast<const char*>(header), header_size); !why.empty()) {
      refuse_frame(s, c, why);
      errno = ECONNRESET;
      return -1;
    }
    if (c.payload_left <= pass_through_bytes) {
      auto n = std::min(len, header_size); // CAF asks for the header exactly
      std::memcpy(buf, header, n);
      return static_cast<ssize_t>(n);
    }
    c.holding = true;
    c.held.append(header, header_size);
  }
  // Collecting a large frame: its header goes to CAF once the whole payload is here.
  while (c.payload_left > 0) {
    auto chunk = static_cast<size_t>(std::min<uint64_t>(c.payload_left, 1 << 20));
    auto at = c.held.size();
    c.held.reserve_more(chunk);
    auto got = real_recv(fd, c.held.data() + at, chunk, flags);
    c.held.grew(static_cast<size_t>(std::max<ssize_t>(got, 0)));
    if (got <= 0) {
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return got;
      errno = EAGAIN;
      return -1;
    }
    if (auto why = follow(s, c, c.held.data() + at, static_cast<size_t>(got)); !why.empty()) {
      refuse_frame(s, c, why);
      errno = ECONNRESET;
      return -1;
    }
  }
  if (auto why = check_types(c.held.view().substr(header_size)); !why.empty()) {
    refuse_frame(s, c, why);
    errno = ECONNRESET;
    return -1;
  }
  c.holding = false;
  c.serving = true;
  c.served = 0;
  return guarded_recv(s, c, fd, buf, len, flags);
}

void reap_forever() {
  auto& s = guard();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard<std::mutex> lock(s.mutex);
    auto deadline = steady::now() - std::chrono::milliseconds(s.lim.handshake_timeout_ms);
    for (auto& [fd, c] : s.connections) {
      if (!c.inbound || c.handshaken || c.opened > deadline)
        continue;
      // The descriptor is still this connection's (close goes through forget() under the
      // mutex first); shutdown makes CAF read the end of it and close it itself.
      ::shutdown(fd, SHUT_RDWR);
      c.handshaken = true; // once
      ++s.handshake_timeouts;
      note(s, c.peer,
           "closed a connection that did not finish its handshake within "
             + std::to_string(s.lim.handshake_timeout_ms) + " ms (security.handshake_timeout_ms)");
    }
  }
}

} // namespace

void configure(const limits& l) {
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.lim = l;
  if (!s.configured) {
    // Room for the connections (security.max_connections) and for sockets to take turns with
    // their numbers (above): the soft limit up to the hard one, at most 65,536.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < std::min<rlim_t>(rl.rlim_max, socket_numbers_up_to)) {
      rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, socket_numbers_up_to);
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    s.configured = true;
    std::thread(reap_forever).detach();
  }
}

void watch_port(uint16_t port) {
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.configured)
    s.ports.insert(port);
}

std::string address_of(int fd) { return remote_address(fd); }

void note_receipts() {
  received_at.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
  noting.store(true, std::memory_order_relaxed);
}

int64_t last_received_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::duration(received_at.load(std::memory_order_relaxed))).count();
}

void log_once(const std::string& key, const std::string& line) {
  auto& s = guard();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!first_time(s, key))
      return;
  }
  log(log_level::warn, line);
}

std::optional<std::vector<std::string>> certificate_names(const caf::node_id& node) {
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto i = s.names_by_node.find(caf::to_string(node));
  if (i == s.names_by_node.end())
    return std::nullopt;
  return i->second;
}

counters read_counters() {
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  return {s.refused_connections, s.handshake_timeouts, s.refused_frames, s.open_inbound};
}

void tls_established(int fd, std::vector<std::string> names, bool accepted) {
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto i = s.connections.find(fd);
  if (i == s.connections.end()) {
    if (accepted)
      return; // not on a watched port
    i = s.connections.emplace(fd, connection{}).first;
    i->second.opened = steady::now();
    i->second.peer = remote_address(fd);
    tracked.store(s.connections.size(), std::memory_order_relaxed);
  }
  i->second.tls = true;
  i->second.names = std::move(names);
}

bool tls_bytes(int fd, const char* data, size_t n) {
  noting_receipt(ssize_t(n)); // OpenSSL reads with read(2), not recv
  if (tracked.load(std::memory_order_relaxed) == 0)
    return true;
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto i = s.connections.find(fd);
  if (i == s.connections.end() || !i->second.tls)
    return true;
  if (auto why = follow(s, i->second, data, n); !why.empty()) {
    refuse_frame(s, i->second, why); // from a peer with the cluster's certificate
    return false;
  }
  return true;
}

} // namespace p2p::wire_guard

using namespace p2p::wire_guard;

// These take the place of libc's for the process (an executable's symbols come first); each
// passes a descriptor the guard does not follow straight to libc.
extern "C" {

int accept(int listener, sockaddr* addr, socklen_t* len) {
  static auto real = libc<int (*)(int, sockaddr*, socklen_t*)>("accept");
  int fd = renumber(real(listener, addr, len), false);
  if (fd < 0)
    return fd;
  mark_tcp_socket(fd, true);
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.ports.empty() || !s.ports.count(local_port(listener)))
    return fd;
  auto peer = remote_address(fd);
  if (s.open_inbound >= s.lim.max_connections) {
    ++s.refused_connections;
    note(s, peer,
         "refused a connection: " + std::to_string(s.open_inbound) + " are open (security.max_connections)");
    mark_tcp_socket(fd, false);
    real_close(fd);
    errno = EAGAIN;
    return -1;
  }
  auto& c = s.connections[fd];
  c = connection{};
  c.inbound = true;
  c.opened = steady::now();
  c.peer = std::move(peer);
  ++s.open_inbound;
  tracked.store(s.connections.size(), std::memory_order_relaxed);
  return fd;
}

int socket(int domain, int type, int protocol) {
  static auto real = libc<int (*)(int, int, int)>("socket");
  int fd = real(domain, type, protocol);
  bool tcp = (domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_STREAM;
  if (!tcp)
    return fd;
  fd = renumber(fd, (type & SOCK_CLOEXEC) != 0);
  mark_tcp_socket(fd, true);
  return fd;
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (tracked.load(std::memory_order_relaxed) == 0 || (flags & MSG_PEEK) != 0)
    return noting_receipt(shared_recv(fd, buf, len, flags));
  auto& s = guard();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto i = s.connections.find(fd);
  if (i == s.connections.end() || i->second.tls || !i->second.inbound)
    return noting_receipt(shared_recv(fd, buf, len, flags));
  auto& c = i->second;
  if (c.round != poll_round)
    c.round = poll_round, c.round_reads = 0, c.round_bytes = 0;
  auto n = guarded_recv(s, c, fd, static_cast<char*>(buf), len, flags);
  if (n > 0)
    ++c.round_reads, c.round_bytes += uint64_t(n);
  return noting_receipt(n);
}

int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) {
  static auto real = libc<int (*)(int, epoll_event*, int, int)>("epoll_wait");
  ++poll_round;
  return real(epfd, events, maxevents, timeout);
}

ssize_t read(int fd, void* buf, size_t len) {
  static auto real = libc<ssize_t (*)(int, void*, size_t)>("read");
  if (poll_round == 0 || !is_tcp_socket(fd))
    return real(fd, buf, len);
  return within_share(fd, [&] { return real(fd, buf, len); });
}

int close(int fd) {
  mark_tcp_socket(fd, false);
  if (tracked.load(std::memory_order_relaxed) != 0) {
    auto& s = guard();
    std::lock_guard<std::mutex> lock(s.mutex);
    forget(s, fd);
  }
  return real_close(fd);
}

} // extern "C"
