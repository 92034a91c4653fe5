#include "vectors/shard_index.hpp"

#include <algorithm>
#include <functional>

#include <hnswlib/hnswlib.h>

#include "vectors/distance.hpp"

namespace p2p {

namespace {

constexpr size_t initial_graph_capacity = 1024;

uint64_t hash_id(std::string_view id) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (unsigned char c : id)
    h = (h ^ c) * 1099511628211ull;
  return h ^ (h >> 29);
}

auto by_distance = [](const shard_hit& a, const shard_hit& b) { return a.distance < b.distance; };

/// Keeps the k best hits in a max-heap on distance.
void offer(std::vector<shard_hit>& heap, size_t k, shard_hit h) {
  if (heap.size() < k) {
    heap.push_back(h);
    std::push_heap(heap.begin(), heap.end(), by_distance);
  } else if (h.distance < heap.front().distance) {
    std::pop_heap(heap.begin(), heap.end(), by_distance);
    heap.back() = h;
    std::push_heap(heap.begin(), heap.end(), by_distance);
  }
}

} // namespace

shard_index::shard_index(uint32_t dim, metric_kind metric, hnsw_config params)
  : dim_(dim), metric_(metric), params_(params), scratch_(dim) {
  if (metric == metric_kind::l2)
    space_ = std::make_unique<hnswlib::L2Space>(dim);
  else
    space_ = std::make_unique<hnswlib::InnerProductSpace>(dim);
  graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), initial_graph_capacity, params.m,
                                                             params.ef_construction);
  slots_.assign(64, no_label);
}

shard_index::~shard_index() = default;

uint32_t shard_index::find(std::string_view id) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
    uint32_t label = slots_[i];
    if (label == no_label)
      return no_label;
    if (ids_[label] == id)
      return label;
  }
}

void shard_index::grow_slots() {
  std::vector<uint32_t> bigger(slots_.size() * 2, no_label);
  size_t mask = bigger.size() - 1;
  for (uint32_t label : slots_) {
    if (label == no_label)
      continue;
    size_t i = hash_id(ids_[label]) & mask;
    while (bigger[i] != no_label)
      i = (i + 1) & mask;
    bigger[i] = label;
  }
  slots_.swap(bigger);
}

uint32_t shard_index::add_label(std::string_view id) {
  if ((ids_.size() + 1) * 2 > slots_.size())
    grow_slots();
  auto label = static_cast<uint32_t>(ids_.size());
  ids_.emplace_back(id);
  state_.push_back(0);
  pending_row_.push_back(no_label);
  size_t mask = slots_.size() - 1;
  size_t i = hash_id(id) & mask;
  while (slots_[i] != no_label)
    i = (i + 1) & mask;
  slots_[i] = label;
  return label;
}

void shard_index::prepare(const float* in, float* out) const {
  std::copy(in, in + dim_, out);
  if (metric_ == metric_kind::cosine)
    normalize(out, dim_);
}

void shard_index::upsert(std::string_view id, const float* values) {
  uint32_t label = find(id);
  if (label == no_label)
    label = add_label(id);
  uint8_t& st = state_[label];
  if (st & pending_bit) { // replace the pending copy in place
    prepare(values, &arena_[size_t(pending_row_[label]) * dim_]);
    return;
  }
  if ((st & in_graph) && (st & live))
    graph_->markDelete(label); // the graph copy is stale until re-indexed
  if (!(st & live))
    ++live_;
  auto row = static_cast<uint32_t>(arena_labels_.size());
  arena_.resize(arena_.size() + dim_);
  prepare(values, &arena_[size_t(row) * dim_]);
  arena_labels_.push_back(label);
  pending_row_[label] = row;
  st |= live | pending_bit;
  ++pending_;
}

bool shard_index::erase(std::string_view id) {
  uint32_t label = find(id);
  if (label == no_label || !(state_[label] & live))
    return false;
  uint8_t& st = state_[label];
  if (st & pending_bit) {
    st &= ~pending_bit; // its arena row is now dead; a graph copy was marked when it became pending
    --pending_;
  } else if (st & in_graph) {
    graph_->markDelete(label);
  }
  st &= ~live;
  --live_;
  return true;
}

bool shard_index::contains(std::string_view id) const {
  uint32_t label = find(id);
  return label != no_label && (state_[label] & live);
}

void shard_index::ensure_graph_capacity() {
  if (graph_->cur_element_count >= graph_->max_elements_)
    graph_->resizeIndex(graph_->max_elements_ * 2);
}

size_t shard_index::index_pending(size_t max_items) {
  size_t moved = 0;
  while (moved < max_items && arena_head_ < arena_labels_.size()) {
    size_t row = arena_head_++;
    uint32_t label = arena_labels_[row];
    uint8_t& st = state_[label];
    if (!(st & pending_bit) || pending_row_[label] != row)
      continue; // deleted or replaced while pending
    if (!(st & in_graph))
      ensure_graph_capacity();
    graph_->addPoint(&arena_[row * dim_], label); // an existing label is updated and unmarked
    st = live | in_graph;
    pending_row_[label] = no_label;
    --pending_;
    ++moved;
  }
  compact_arena();
  return moved;
}

void shard_index::compact_arena() {
  if (arena_head_ == arena_labels_.size()) {
    std::vector<float>().swap(arena_); // give the memory back once drained
    std::vector<uint32_t>().swap(arena_labels_);
    arena_head_ = 0;
    return;
  }
  if (arena_head_ < 4096 || arena_head_ * 2 < arena_labels_.size())
    return;
  size_t out = 0;
  for (size_t row = arena_head_; row < arena_labels_.size(); ++row) {
    uint32_t label = arena_labels_[row];
    if (!(state_[label] & pending_bit) || pending_row_[label] != row)
      continue;
    std::copy_n(&arena_[row * dim_], dim_, &arena_[out * dim_]);
    arena_labels_[out] = label;
    pending_row_[label] = static_cast<uint32_t>(out);
    ++out;
  }
  arena_.resize(out * dim_);
  arena_labels_.resize(out);
  arena_head_ = 0;
}

void shard_index::scan_pending(const float* q, size_t k, std::vector<shard_hit>& heap) const {
  for (size_t row = arena_head_; row < arena_labels_.size(); ++row) {
    uint32_t label = arena_labels_[row];
    if (!(state_[label] & pending_bit) || pending_row_[label] != row)
      continue;
    offer(heap, k, {distance(metric_, q, &arena_[row * dim_], dim_), label});
  }
}

void shard_index::search(const float* query, size_t k, size_t ef, bool exact,
                         std::vector<shard_hit>& out) const {
  out.clear();
  if (k == 0 || live_ == 0)
    return;
  prepare(query, scratch_.data());
  const float* q = scratch_.data();
  std::vector<shard_hit>& heap = out;
  if (live_ > pending_) {
    if (exact) {
      for (size_t i = 0; i < graph_->cur_element_count; ++i) {
        auto label = static_cast<uint32_t>(graph_->getExternalLabel(static_cast<hnswlib::tableint>(i)));
        if ((state_[label] & (live | pending_bit)) != live)
          continue;
        auto* data = reinterpret_cast<const float*>(graph_->getDataByInternalId(static_cast<hnswlib::tableint>(i)));
        offer(heap, k, {distance(metric_, q, data, dim_), label});
      }
    } else {
      graph_->setEf(std::max(ef, k));
      auto found = graph_->searchKnn(q, k);
      for (; !found.empty(); found.pop())
        offer(heap, k, {found.top().first, static_cast<uint32_t>(found.top().second)});
    }
  }
  scan_pending(q, k, heap);
  std::sort_heap(heap.begin(), heap.end(), by_distance);
}

} // namespace p2p
