#pragma once
// What status says of the collections, kept current by the actors that own it: the router puts
// up each collection's name, dimension, metric and under-replication as they change, and every
// shard attaches the live counts of its index of each collection (vectors/shard_index.hpp
// index_counts). The node actor reads it at once for status, without asking the router and the
// shards: at full ingest each of them waits for a scheduler thread behind the puts, which held a
// status answer for 0.2-0.5 s at the median (perf/README.md, seventeenth and eighteenth sessions).
// For /metrics the board also holds the shards' mailbox counts (actors/counted_actor.hpp) and the
// latency of the searches the router has merged, and the node's index slots (how many shards
// build graphs now, and how many wait to).

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/counted_actor.hpp"
#include "protocol/messages.hpp"
#include "vectors/index_slots.hpp"
#include "vectors/shard_index.hpp"

namespace p2p {

class collection_board {
public:
  /// The node has `shards` shards; the board is ready() once each has loaded what it holds.
  void expect(size_t shards) { expected_.store(shards, std::memory_order_relaxed); }
  /// A shard has loaded its indexes (at the end of its start) and attached them.
  void loaded() { loaded_.fetch_add(1, std::memory_order_acq_rel); }
  /// Every shard has loaded: the counts are the node's (before, those of shards still loading are missing).
  [[nodiscard]] bool ready() const {
    return loaded_.load(std::memory_order_acquire) >= expected_.load(std::memory_order_relaxed);
  }

  /// The collections as the router knows them (counts left 0): replaces the last list.
  void set_collections(std::vector<collection_info> skeleton) {
    std::lock_guard<std::mutex> lock(mutex_);
    skeleton_ = std::move(skeleton);
  }

  /// Shard `shard`'s index of `collection` is now the one with these counts (a new, loaded or
  /// rebuilt index replaces the last one).
  void attach(uint16_t shard, const std::string& collection, std::shared_ptr<const index_counts> counts) {
    std::lock_guard<std::mutex> lock(mutex_);
    counts_[{collection, shard}] = std::move(counts);
  }

  /// Shard `shard` holds no index of `collection` any more (dropped).
  void detach(uint16_t shard, const std::string& collection) {
    std::lock_guard<std::mutex> lock(mutex_);
    counts_.erase({collection, shard});
  }

  /// Every collection with this node's counts added up over its shards, in name order. A
  /// collection a shard has and the router does not list yet still shows, with its counts.
  [[nodiscard]] std::vector<collection_info> read() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, collection_info> by_name;
    for (auto& info : skeleton_)
      by_name[info.name] = info;
    for (auto& [key, c] : counts_) {
      auto& info = by_name[key.first];
      info.name = key.first;
      info.count += c->live.load(std::memory_order_relaxed);
      info.pending += c->pending.load(std::memory_order_relaxed);
      info.tombstones += c->tombstones.load(std::memory_order_relaxed);
    }
    std::vector<collection_info> out;
    out.reserve(by_name.size());
    for (auto& [_, info] : by_name)
      out.push_back(std::move(info));
    return out;
  }

  /// Shard `shard`'s mailbox counts (put up by the router when it spawns the shard).
  void attach_mailbox(uint16_t shard, std::shared_ptr<const mailbox_counts> counts) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mailboxes_.size() <= shard)
      mailboxes_.resize(size_t(shard) + 1);
    mailboxes_[shard] = std::move(counts);
  }

  /// Messages waiting at each shard, by shard number (0 for a shard not spawned yet).
  [[nodiscard]] std::vector<uint64_t> shard_mailboxes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<uint64_t> out;
    out.reserve(mailboxes_.size());
    for (auto& c : mailboxes_)
      out.push_back(c ? c->waiting() : 0);
    return out;
  }

  /// The index slots the node's shards share (put up by the router before it spawns them).
  void attach_slots(std::shared_ptr<const index_slots> slots) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_ = std::move(slots);
  }

  struct index_load {
    uint32_t threads = 0, busy = 0, waiting = 0;
  };

  /// Index steps that may run at once, those running, and shards waiting for one (all 0 before
  /// the router has put the slots up).
  [[nodiscard]] index_load index_slots_load() const {
    std::shared_ptr<const index_slots> slots;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slots = slots_;
    }
    if (!slots)
      return {};
    auto [busy, waiting] = slots->load();
    return {slots->limit(), busy, uint32_t(waiting)};
  }

  /// A search that the router merged took `seconds`, request to answer.
  void observe_search(double seconds) {
    std::lock_guard<std::mutex> lock(latency_mutex_);
    search_latency_.observe(seconds);
  }

  [[nodiscard]] latency_histogram search_latency() const {
    std::lock_guard<std::mutex> lock(latency_mutex_);
    return search_latency_;
  }

private:
  std::atomic<size_t> expected_{0};
  std::atomic<size_t> loaded_{0};
  mutable std::mutex mutex_;
  std::vector<collection_info> skeleton_;
  std::map<std::pair<std::string, uint16_t>, std::shared_ptr<const index_counts>> counts_;
  std::vector<std::shared_ptr<const mailbox_counts>> mailboxes_;
  std::shared_ptr<const index_slots> slots_;
  mutable std::mutex latency_mutex_; // its own: a search does not wait for a reader of the counts
  latency_histogram search_latency_;
};

} // namespace p2p
