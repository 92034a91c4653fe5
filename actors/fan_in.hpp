#pragma once
// Fan-in: one job sent as several requests, finished once the last answer is in.

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include <caf/error.hpp>
#include <caf/response_promise.hpp>

namespace p2p {

/// Counts the answers to the parts of one job and calls `on_done` with the first error (none
/// when every part succeeded) once the last part has answered. Shared by the callbacks of the
/// parts' requests: make it with std::make_shared.
class fan_in {
public:
  explicit fan_in(std::function<void(const caf::error& first_failure)> on_done, size_t expected = 0)
    : on_done_(std::move(on_done)), remaining_(expected) {}

  /// `n` more parts will answer. While parts are still being sent, hold one count (expect(1)
  /// first, arrived() after the last send) so that early answers cannot finish the job.
  void expect(size_t n = 1) { remaining_ += n; }

  /// One part answered.
  void arrived() {
    if (--remaining_ == 0)
      on_done_(failure_);
  }

  /// One part failed: the first failure is kept for on_done; it counts as answered.
  void failed(caf::error e) {
    if (!failure_)
      failure_ = std::move(e);
    arrived();
  }

  /// An error callback for request(...).then(on_reply, fan->on_error()).
  static auto on_error(const std::shared_ptr<fan_in>& self) {
    return [self](caf::error& e) { self->failed(std::move(e)); };
  }

  /// An error callback that counts a failed part as answered and forgets the error (for figures
  /// that are fine without one part, such as counts).
  static auto ignore_error(const std::shared_ptr<fan_in>& self) {
    return [self](caf::error&) { self->arrived(); };
  }

private:
  std::function<void(const caf::error&)> on_done_;
  size_t remaining_;
  caf::error failure_;
};

/// A fan-in that answers `rp` with the sum of its parts' counts, or with the first error: each
/// part answers through `add()`. Hold one count while sending (expect() first, arrived() after).
struct summing_fan {
  std::shared_ptr<fan_in> fan;
  std::shared_ptr<uint64_t> total = std::make_shared<uint64_t>(0);

  explicit summing_fan(caf::response_promise rp) {
    fan = std::make_shared<fan_in>([rp, total = total](const caf::error& e) mutable {
      if (e)
        rp.deliver(e);
      else
        rp.deliver(*total);
    });
  }

  /// The reply handler of one part: adds its count, marks it arrived.
  [[nodiscard]] auto add() const {
    return [fan = fan, total = total](uint64_t n) {
      *total += n;
      fan->arrived();
    };
  }
};

} // namespace p2p
