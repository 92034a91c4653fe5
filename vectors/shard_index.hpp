#pragma once
// The in-memory index of one vector shard: an HNSW graph (hnswlib) plus the vectors that are
// not yet in it, which searches scan exactly. A vector is searchable the moment upsert returns;
// index_pending() moves vectors into the graph in small steps, off the acknowledgement path.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vectors/metric.hpp"

namespace hnswlib {
template <class T> class HierarchicalNSW;
template <class T> class SpaceInterface;
} // namespace hnswlib

namespace p2p {

/// The counts of one index, kept current by the index as it changes and readable from any
/// thread: status reads them without asking the shard (which at full ingest waits seconds for a
/// scheduler thread). Each figure is exact once the index is idle; while it changes, the three
/// may be a few changes apart.
struct index_counts {
  std::atomic<uint64_t> live{0};
  std::atomic<uint64_t> pending{0};
  std::atomic<uint64_t> tombstones{0};
};

/// One search result inside a shard: hnswlib-style distance (lower is closer) and a label.
struct shard_hit {
  float distance;
  uint32_t label;
};

class shard_index {
public:
  shard_index(uint32_t dim, metric_kind metric, hnsw_config params);
  ~shard_index();
  shard_index(const shard_index&) = delete;
  shard_index& operator=(const shard_index&) = delete;

  [[nodiscard]] uint32_t dim() const { return dim_; }
  [[nodiscard]] metric_kind metric() const { return metric_; }

  /// Inserts `id` or replaces its vector (`values` has dim() floats), copying the vector.
  /// Throws std::length_error past 4 GiB of distinct id bytes in one index.
  void upsert(std::string_view id, const float* values);

  /// The same without a copy: `values` stays valid while `owner` lives, and the index keeps
  /// `owner` until the vector is in the graph (a put's batch, shared with the index).
  void upsert(std::string_view id, const float* values, std::shared_ptr<const void> owner);

  /// Removes `id`; returns false when it was not there. Gone from results at once.
  bool erase(std::string_view id);

  [[nodiscard]] bool contains(std::string_view id) const;

  /// The label of `id`, or no_label when it was never seen here.
  static constexpr uint32_t no_label = UINT32_MAX;
  [[nodiscard]] uint32_t label_of(std::string_view id) const { return find(id); }

  /// The version of the last write of `id` kept here (a put, or a delete: a tombstone); 0 when
  /// none is known.
  [[nodiscard]] uint64_t version_of(std::string_view id) const;

  /// Records the version of `id`'s last write; an id not here yet is added as a tombstone
  /// (known, not live). Version 0 forgets it (it was handed to its owner).
  void set_version(std::string_view id, uint64_t version);

  /// Every id ever seen here is a label, in arrival order (labels are never reused): labels()
  /// of them, each live or a tombstone (version > 0) or forgotten (not live, version 0).
  [[nodiscard]] uint32_t labels() const { return uint32_t(state_.size()); }
  [[nodiscard]] bool live_label(uint32_t label) const { return state_[label] & live; }
  [[nodiscard]] uint64_t version_at(uint32_t label) const { return versions_[label]; }
  [[nodiscard]] size_t size() const { return live_; }
  [[nodiscard]] size_t pending() const { return pending_count_; }
  /// Labels that are not live and have a version: deletes remembered.
  [[nodiscard]] size_t tombstones() const { return tombstones_; }
  /// size(), pending() and tombstones() for other threads, current after every call that changes them.
  [[nodiscard]] std::shared_ptr<const index_counts> counts() const { return counts_; }

  /// Moves up to `max_items` pending vectors into the graph; returns how many moved.
  size_t index_pending(size_t max_items);

  /// Vectors added to or marked dead in the graph since it was built, loaded or saved.
  [[nodiscard]] size_t graph_changes() const { return graph_changes_; }
  /// Elements of the graph, dead ones included, and the dead ones (deleted or replaced since
  /// they were added: hnswlib only marks them).
  [[nodiscard]] size_t graph_size() const;
  [[nodiscard]] size_t graph_dead() const { return graph_dead_; }

  /// Starts an empty graph: every live vector of the old one goes back to pending (copied out
  /// of it), the dead ones are gone. Searches stay exact over them until they are re-indexed.
  void compact();

  /// Saves the graph and the label table (ids, states, versions) in `path`.hnsw and
  /// `path`.meta: each written to a temporary file, synced, then renamed, the meta last; it
  /// holds the graph file's size and checksum and `sequence` (the database's sequence number
  /// the save covers). Vectors still pending are not in the graph: a load reads them again.
  /// Returns an empty string, or what failed.
  std::string save(const std::string& path, uint64_t sequence);

  /// A saved index, or why none could be loaded (no file, truncated, checksum, other
  /// parameters): never a partly trusted graph. Labels that were pending at the save are not
  /// live in it (their version is kept): the caller reads them again.
  struct loaded {
    std::unique_ptr<shard_index> index;
    uint64_t sequence = 0;
    std::string problem; // empty when loaded; "missing" when there is no saved graph
  };
  static loaded load(const std::string& path, uint32_t dim, metric_kind metric, hnsw_config params);

  /// Top `k` closest to `query`, best first. `exact` scans every vector instead of the graph.
  void search(const float* query, size_t k, size_t ef, bool exact, std::vector<shard_hit>& out) const;

  /// Top `k` among the labels with allow[label] != 0 (`allowed` of the live ones): an exact scan
  /// of those when they are few (or `exact`), else the graph asked for enough more than k that
  /// k of them pass the filter, and the exact scan after all if fewer than k do.
  void search_filtered(const float* query, size_t k, size_t ef, bool exact, const std::vector<uint8_t>& allow,
                       size_t allowed, std::vector<shard_hit>& out) const;

  [[nodiscard]] std::string_view id_of(uint32_t label) const {
    return std::string_view(id_bytes_).substr(id_offsets_[label], id_offsets_[label + 1] - id_offsets_[label]);
  }

private:
  enum state_bits : uint8_t { live = 1, pending_bit = 2, in_graph = 4 };

  [[nodiscard]] uint32_t find(std::string_view id) const;
  uint32_t add_label(std::string_view id);
  void grow_slots();
  void prepare(const float* in, float* out) const;
  struct pending_entry {
    const float* values; // not prepared: the caller's layout
    float scale;         // cosine: 1 / |values|, else 1
    uint32_t label;
  };
  [[nodiscard]] float pending_distance(const float* q, const pending_entry& e) const;
  void append_row(uint32_t label, const float* values, std::shared_ptr<const void> owner);
  /// A copy of a vector in the current copy block (a new block when it is full).
  float* copy_row(const float* values);
  void advance_head();
  /// Marks the pending entry of `label` dead (it was replaced or erased while pending).
  void bury_pending(uint32_t label);
  void ensure_graph_capacity();
  /// Stores the counts in counts_ for readers on other threads.
  void publish() const {
    counts_->live.store(live_, std::memory_order_relaxed);
    counts_->pending.store(pending_count_, std::memory_order_relaxed);
    counts_->tombstones.store(tombstones_, std::memory_order_relaxed);
  }
  void scan_pending(const float* q, size_t k, std::vector<shard_hit>& heap, const std::vector<uint8_t>* allow = nullptr) const;
  void scan_graph(const float* q, size_t k, std::vector<shard_hit>& heap, const std::vector<uint8_t>* allow) const;

  uint32_t dim_;
  metric_kind metric_;
  hnsw_config params_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;

  // label -> id: the bytes of every id back to back (a std::string each would cost 32 bytes)
  std::string id_bytes_;
  std::vector<uint32_t> id_offsets_{0}; // id of label i is id_bytes_[id_offsets_[i], id_offsets_[i + 1])
  std::vector<uint8_t> state_;          // label -> state_bits
  std::vector<uint64_t> versions_;      // label -> version of its last write (0: unknown)
  std::vector<uint32_t> slots_;         // open-addressing hash: id -> label
  // Pending vectors, in arrival order: row arena_head_ + i is pending_[i]; a replaced or erased
  // one stays as a dead entry (label no_label) until indexing passes it. They point into
  // memory kept alive by owners_ (the batches they came in, or copy blocks) until indexed.
  std::deque<pending_entry> pending_;
  std::deque<std::pair<size_t, std::shared_ptr<const void>>> owners_; // (last row using it, owner)
  static constexpr size_t copy_block_rows = 1024;
  std::shared_ptr<float[]> copy_block_; // where upsert-with-copy puts vectors
  size_t copy_block_used_ = 0;
  size_t arena_head_ = 0; // rows before it are indexed or dead (64-bit: never wraps)
  size_t next_row_ = 0;
  size_t live_ = 0;
  size_t pending_count_ = 0;
  size_t tombstones_ = 0;
  std::shared_ptr<index_counts> counts_ = std::make_shared<index_counts>();
  mutable std::vector<float> scratch_;
  size_t graph_changes_ = 0;
  size_t graph_dead_ = 0;
};

} // namespace p2p
