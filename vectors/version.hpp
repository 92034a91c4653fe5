#pragma once
// Versions of writes: a hybrid logical clock packed in 64 bits, compared as plain integers.
//   bits 63..22  wall-clock milliseconds since 2020-01-01 (42 bits: until the year 2159)
//   bits 21..12  a counter for writes in the same millisecond (carries into the ms when full)
//   bits 11..0   a tag of the node that assigned it (a hash of its id), so that two nodes never
//                assign the same version to different writes (unless their tags collide too)
// The newer version wins on every replica, in handoff and in catch-up alike; version 0 is
// "never written" (and rows stored before versions existed).

#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/hashing.hpp"

namespace p2p {

inline constexpr uint64_t version_epoch_ms = 1577836800000ull; // 2020-01-01T00:00:00Z
inline constexpr int version_ms_shift = 22;
inline constexpr uint64_t version_tag_mask = 0xFFF;

[[nodiscard]] inline uint16_t version_tag(std::string_view node_id) {
  return uint16_t(mix64(fnv1a(node_id)) & version_tag_mask);
}

/// The wall-clock milliseconds (since the Unix epoch) a version was assigned at.
[[nodiscard]] inline uint64_t version_ms(uint64_t v) { return (v >> version_ms_shift) + version_epoch_ms; }

class hybrid_clock {
public:
  explicit hybrid_clock(uint16_t tag = 0) : tag_(tag & version_tag_mask) {}

  /// A version newer than every one assigned or observed here, at wall time `now_ms` (ms since
  /// the Unix epoch).
  uint64_t next(uint64_t now_ms) {
    uint64_t wall = now_ms > version_epoch_ms ? (now_ms - version_epoch_ms) << version_ms_shift : 0;
    uint64_t after = (last_ & ~version_tag_mask) + (version_tag_mask + 1);
    last_ = (wall > after ? wall : after) | tag_;
    return last_;
  }

  uint64_t next() {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return next(uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
  }

  /// A version seen from elsewhere: the next one assigned here is newer.
  void observe(uint64_t v) {
    if (v > last_)
      last_ = v;
  }

  [[nodiscard]] uint64_t last() const { return last_; }

private:
  uint64_t last_ = 0;
  uint64_t tag_;
};

} // namespace p2p
