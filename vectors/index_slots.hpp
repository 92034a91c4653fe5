#pragma once
// How many of a node's scheduler threads its shards may spend on building graphs at once.
//
// A graph builds in index steps between a shard's other messages. After a large put every shard
// has steps to run, and a shard keeps its thread for 10 of them at a time (20 ms; CAF's
// `scheduler.max-throughput`): with a node's four shards on its two scheduler threads, both
// threads were taken, and an agent's message, the router or a task waited for a thread at every
// hop (client messages during indexing on 3 nodes: 308-463/s, p99 149-197 ms, where 5,000/s and
// 1.3 ms after it; perf/README.md, twentieth session). A shard takes a slot for each step and
// gives it back after; a shard that finds none free waits, unscheduled, until one is given back.
// By default one thread is left for everything else (vectors.index_threads).
//
//   index_slots slots(1);
//   if (slots.take([] { /* send the shard its next step */ return true; })) { step(); slots.give_back(); }

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace p2p {

class index_slots {
public:
  /// `limit`: steps that may run at once (at least 1).
  explicit index_slots(uint32_t limit) : limit_(limit > 0 ? limit : 1) {}

  [[nodiscard]] uint32_t limit() const { return limit_; }

  /// Takes a slot and returns true, or returns false and keeps `wake` to be called (once, on the
  /// thread that gives a slot back) when one is free; the waiter then takes it again. `wake`
  /// returns false when its taker is gone (an actor that stopped): the next one is woken instead.
  bool take(std::function<bool()> wake) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (busy_ < limit_) {
      ++busy_;
      return true;
    }
    waiting_.push_back(std::move(wake));
    return false;
  }

  /// Gives a taken slot back and wakes the longest waiting taker that is still there, if any.
  void give_back() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (busy_ > 0)
      --busy_;
    while (!waiting_.empty()) {
      auto wake = std::move(waiting_.front());
      waiting_.pop_front();
      lock.unlock(); // it may send a message, or take a slot itself
      if (wake())
        return;
      lock.lock();
    }
  }

  /// Slots taken now, and takers waiting (status and /metrics show them: collection_board).
  [[nodiscard]] std::pair<uint32_t, size_t> load() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return {busy_, waiting_.size()};
  }

private:
  mutable std::mutex mutex_;
  uint32_t limit_;
  uint32_t busy_ = 0;
  std::deque<std::function<bool()>> waiting_;
};

} // namespace p2p
