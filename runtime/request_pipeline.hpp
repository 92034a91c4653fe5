#pragma once
// Pipelined requests from a command to its node: up to `window` in flight, replies handed to
// their callbacks in the order the requests were sent.

#include <deque>
#include <functional>

#include "runtime/cli_common.hpp"

namespace p2p::cli {

/// Requests in flight: overlaps reading the input, the transfer and the node's work.
constexpr size_t window = 4;

/// Keeps up to `window` requests in flight and hands each reply, in order, to a callback.
template <class Reply>
class request_pipeline {
public:
  request_pipeline(node_session& s, const client_options& o, size_t in_flight = window)
      : session_(s), self_(s.system()), node_(s.node()), o_(o), in_flight_(in_flight) {}

  template <class OnReply, class... Ts>
  void send(OnReply on_reply, Ts&&... xs) {
    if (pending_.size() >= in_flight_)
      receive_one();
    if (error_)
      return;
    auto h = self_->request(node_, std::chrono::seconds(o_.timeout_s), std::forward<Ts>(xs)...);
    session_.watch(self_.ptr(), h.id());
    pending_.push_back({std::move(h), std::function<void(Reply&)>(on_reply)});
  }

  void drain() {
    while (!pending_.empty())
      receive_one();
  }

  [[nodiscard]] const caf::error& error() const { return error_; }

private:
  using handle = decltype(std::declval<caf::scoped_actor&>()->request(caf::actor{}, std::chrono::seconds(1), 0));

  void receive_one() {
    auto [h, on_reply] = std::move(pending_.front());
    pending_.pop_front();
    h.receive(
      [&, cb = on_reply](Reply& r) {
        if (!error_)
          cb(r);
      },
      [&](caf::error& e) {
        if (!error_)
          error_ = std::move(e);
      });
  }

  node_session& session_;
  caf::scoped_actor self_;
  caf::actor node_;
  const client_options& o_;
  size_t in_flight_;
  std::deque<std::pair<handle, std::function<void(Reply&)>>> pending_;
  caf::error error_;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace p2p::cli
