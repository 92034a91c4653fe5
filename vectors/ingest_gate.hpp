#pragma once
// When a shard may build its graph: not while puts keep arriving (ingest first), so that puts are
// acknowledged at the store's pace and the graph catches up in the pauses. "Keep arriving" is
// judged against the pace of the puts themselves, not a fixed gap: with a fixed 50 ms, a machine
// on which one put took longer than that saw a pause after every put, built the graph between
// them, and stored 6,800-7,400 vectors/s instead of 16,000-20,000 (perf/README "Indexing waits
// for a pause in the puts"). Pure logic, so that the tests give it the clock.

#include <algorithm>
#include <chrono>

namespace p2p {

class ingest_gate {
public:
  using clock = std::chrono::steady_clock;
  /// The quiet period stays within these: at least the old fixed gap, and at most a second, so
  /// that the graph starts within a second of the last put.
  static constexpr clock::duration min_quiet = std::chrono::milliseconds(50);
  static constexpr clock::duration max_quiet = std::chrono::seconds(1);

  /// A put arrived at `now`. A gap longer than max_quiet starts a new stream: it says nothing
  /// about the pace of this one.
  void on_put(clock::time_point now) {
    if (seen_) {
      auto gap = now - last_;
      if (gap > max_quiet)
        gap_ = clock::duration::zero();
      else
        gap_ = std::max(gap, gap_ - gap_ / 8);
    }
    seen_ = true;
    last_ = now;
  }

  /// How long after the last put the stream counts as paused: four times its longest recent gap
  /// (a gap decays by an eighth with each put after it); max_quiet while the pace is not known yet
  /// (one put of a stream so far), so that the first gaps of a stream are not taken for pauses.
  [[nodiscard]] clock::duration quiet_period() const {
    return gap_ == clock::duration::zero() ? max_quiet : std::clamp(4 * gap_, min_quiet, max_quiet);
  }

  /// True when no put came for the quiet period (or none ever came).
  [[nodiscard]] bool paused(clock::time_point now) const { return !seen_ || now - last_ >= quiet_period(); }

  /// Time left until paused(now) would hold; zero when it holds.
  [[nodiscard]] clock::duration left(clock::time_point now) const {
    return paused(now) ? clock::duration::zero() : quiet_period() - (now - last_);
  }

private:
  bool seen_ = false;
  clock::time_point last_{};
  clock::duration gap_{}; // the longest recent gap between puts of the current stream, decaying
};

} // namespace p2p
