#pragma once
// What every client of a node uses, the CLI and the bench alike: request options, one request
// and its answer as a value, a pipeline of requests in flight, and the progress line.

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <type_traits>

#include <caf/all.hpp>

#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "runtime/actor_runtime.hpp"

namespace p2p::client {

/// Where requests go and how they are shown.
struct client_options {
  std::string peer;
  std::string config_path;
  std::string data_dir;
  std::string tls_dir; // --tls-dir, else $P2P_TLS_DIR: ca.pem, client.pem, client.key for a TLS cluster
  std::string collection = "default";
  bool json = false;
  unsigned timeout_s = 120;
};

/// What a node's clock saw over a run of messages it sent itself (`send --count`, a bench step
/// with "from": "node"): the JSON the node answers, read.
struct message_run {
  uint64_t done = 0, errors = 0;
  double seconds = 0, p50_us = 0, p99_us = 0;
  std::string error; // the first failure
};

/// Reads a node's answer to (send_atom, ..., count, window); false if it is not one.
[[nodiscard]] bool read_message_run(const std::string& json, message_run& out);

/// A float printed with enough digits to read back exactly.
[[nodiscard]] std::string format_float(double v);

[[nodiscard]] inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// A one-line progress display on stderr; silent unless stderr is a terminal and enabled.
class progress_line {
public:
  progress_line(std::string what, size_t total, bool enabled);
  ~progress_line();
  void update(size_t done);
  /// The total, once known (after the first batch of a file, say): the line then shows an ETA.
  void set_total(size_t total) { total_ = total; }
  void finish();

private:
  std::string what_;
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

/// Sends (xs...) to the session's node and waits for the reply of type R, or its error; a
/// control request (is_control_request) with high priority.
template <class R, class T, class... Ts>
[[nodiscard]] caf::expected<R> try_ask(node_session& s, const client_options& o, T&& x, Ts&&... xs) {
  caf::scoped_actor self{s.system()};
  caf::expected<R> out{caf::error{}};
  constexpr auto priority = is_control_request<T> ? caf::message_priority::high : caf::message_priority::normal;
  auto h = self->template request<priority>(s.node(), std::chrono::seconds(o.timeout_s), std::forward<T>(x),
                                            std::forward<Ts>(xs)...);
  s.watch(self.ptr(), h.id());
  h.receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

/// Requests in flight by default: overlaps reading the input, the transfer and the node's work.
constexpr size_t default_window = 4;

/// The bytes of vectors a request carries (batch_bytes, as the node counts them), 0 for other
/// elements: what a put queues for its connection.
template <class T>
size_t carried_bytes(const T& x) {
  if constexpr (std::is_same_v<std::decay_t<T>, vector_batch>)
    return batch_bytes(x);
  else
    return 0;
}

/// Keeps up to `window` requests in flight, and at most `max_bytes` of vectors (0: no bound; one
/// request is always let through), and hands each reply, in order, to a callback; the first error
/// stops the callbacks and is kept.
template <class Reply>
class request_pipeline {
public:
  request_pipeline(node_session& s, const client_options& o, size_t in_flight = default_window, size_t max_bytes = 0)
      : session_(s), self_(s.system()), node_(s.node()), o_(o), in_flight_(in_flight), max_bytes_(max_bytes) {}

  template <class OnReply, class... Ts>
  void send(OnReply on_reply, Ts&&... xs) {
    size_t bytes = (size_t(0) + ... + carried_bytes(xs));
    while (!pending_.empty() && !error_
           && (pending_.size() >= in_flight_ || (max_bytes_ > 0 && bytes_in_flight_ + bytes > max_bytes_)))
      receive_one();
    if (error_)
      return;
    auto msg = caf::make_message(std::forward<Ts>(xs)...); // kept to send again if the node is busy
    auto h = start(msg);
    pending_.push_back({h, std::function<void(Reply&)>(on_reply), std::move(msg), clock::now(), bytes});
    bytes_in_flight_ += bytes;
  }

  /// How many times a request was sent again because the node answered busy.
  [[nodiscard]] size_t busy_retries() const { return busy_retries_; }

  void drain() {
    while (!pending_.empty())
      receive_one();
  }

  [[nodiscard]] const caf::error& error() const { return error_; }

private:
  using clock = std::chrono::steady_clock;

  /// Sends a request without a timer in CAF's clock: CAF 0.17 sets one per request, wakes its
  /// clock thread to do so and keeps it until it expires, answered or not (--timeout later).
  /// The wait for the answer is bounded here instead (receive_one).
  caf::message_id start(const caf::message& msg) {
    auto h = self_->request(node_, caf::infinite, msg);
    session_.watch(self_.ptr(), h.id());
    return h.id();
  }

  /// Waits for the oldest reply, at most --timeout from its sending; a busy node gets the same
  /// request again after a pause that doubles from 50 ms to 2 s, for as long as --timeout allows
  /// in all.
  void receive_one() {
    auto [mid, on_reply, msg, sent, bytes] = std::move(pending_.front());
    pending_.pop_front();
    bytes_in_flight_ -= bytes;
    auto backoff = std::chrono::milliseconds(50);
    auto give_up = sent + std::chrono::seconds(o_.timeout_s);
    for (;;) {
      bool busy = false;
      caf::blocking_actor::accept_one_cond rc;
      auto left = std::max<clock::duration>(give_up - clock::now(), clock::duration::zero());
      self_->varargs_receive(
        rc, mid,
        [&, cb = on_reply](Reply& r) {
          if (!error_)
            cb(r);
        },
        [&](caf::error& e) {
          if (code_of(e) == errc::busy && clock::now() + backoff < give_up)
            busy = true;
          else if (!error_)
            error_ = std::move(e);
        },
        caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left) + std::chrono::milliseconds(1)) >> [&] {
          if (!error_)
            error_ = caf::make_error(caf::sec::request_timeout);
        });
      session_.unwatch(self_.ptr(), mid);
      if (!busy)
        return;
      ++busy_retries_;
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
      mid = start(msg);
    }
  }

  node_session& session_;
  caf::scoped_actor self_;
  caf::actor node_;
  const client_options& o_;
  size_t in_flight_;
  size_t max_bytes_;
  size_t bytes_in_flight_ = 0;
  struct in_flight {
    caf::message_id mid; // of the answer
    std::function<void(Reply&)> on_reply;
    caf::message msg;
    clock::time_point sent;
    size_t bytes; // carried_bytes of the request
  };
  std::deque<in_flight> pending_;
  caf::error error_;
  size_t busy_retries_ = 0;
};

} // namespace p2p::client
