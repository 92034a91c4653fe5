#include "vectors/shard_index.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include <hnswlib/hnswlib.h>

#include "vectors/distance.hpp"
#include "core/hashing.hpp"

namespace p2p {

namespace {

constexpr size_t initial_graph_capacity = 1024;

uint64_t hash_id(std::string_view id) { return mix64(fnv1a(id)); }

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
    if (id_of(label) == id)
      return label;
  }
}

void shard_index::grow_slots() {
  std::vector<uint32_t> bigger(slots_.size() * 2, no_label);
  size_t mask = bigger.size() - 1;
  for (uint32_t label : slots_) {
    if (label == no_label)
      continue;
    size_t i = hash_id(id_of(label)) & mask;
    while (bigger[i] != no_label)
      i = (i + 1) & mask;
    bigger[i] = label;
  }
  slots_.swap(bigger);
}

uint32_t shard_index::add_label(std::string_view id) {
  auto label = static_cast<uint32_t>(state_.size());
  if ((size_t(label) + 1) * 2 > slots_.size())
    grow_slots();
  if (id_bytes_.size() + id.size() > UINT32_MAX)
    throw std::length_error("shard index: more than 4 GiB of ids");
  id_bytes_.append(id);
  id_offsets_.push_back(static_cast<uint32_t>(id_bytes_.size()));
  state_.push_back(0);
  versions_.push_back(0);
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
  if (!copy_block_ || copy_block_used_ == copy_block_rows) {
    copy_block_.reset(new float[copy_block_rows * dim_]);
    copy_block_used_ = 0;
  }
  float* copy = copy_block_.get() + copy_block_used_++ * dim_;
  std::copy_n(values, dim_, copy);
  upsert(id, copy, copy_block_);
}

void shard_index::upsert(std::string_view id, const float* values, std::shared_ptr<const void> owner) {
  uint32_t label = find(id);
  if (label == no_label)
    label = add_label(id);
  uint8_t& st = state_[label];
  if ((st & in_graph) && (st & live) && !(st & pending_bit))
    graph_->markDelete(label); // the graph copy is stale until re-indexed
  if (!(st & live))
    ++live_;
  if (st & pending_bit)
    bury_pending(label);
  else
    ++pending_count_;
  append_row(label, values, std::move(owner));
  st |= live | pending_bit;
}

uint64_t shard_index::version_of(std::string_view id) const {
  uint32_t label = find(id);
  return label == no_label ? 0 : versions_[label];
}

void shard_index::set_version(std::string_view id, uint64_t version) {
  uint32_t label = find(id);
  if (label == no_label) {
    if (version == 0)
      return;
    label = add_label(id);
  }
  versions_[label] = version;
}

bool shard_index::erase(std::string_view id) {
  uint32_t label = find(id);
  if (label == no_label || !(state_[label] & live))
    return false;
  uint8_t& st = state_[label];
  if (st & pending_bit) {
    st &= ~pending_bit; // a graph copy was marked deleted when it became pending
    bury_pending(label);
    --pending_count_;
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
  // Grow by a quarter: hnswlib keeps a 40-byte mutex per slot of capacity, so doubling would
  // cost up to 40 bytes per stored vector in unused slots. Level 0 grows with realloc.
  if (graph_->cur_element_count >= graph_->max_elements_)
    graph_->resizeIndex(graph_->max_elements_ + std::max<size_t>(1024, graph_->max_elements_ / 4));
}

float shard_index::pending_distance(const float* q, const pending_entry& e) const {
  return metric_ == metric_kind::l2 ? l2_squared(q, e.values, dim_) : 1.0f - dot(q, e.values, dim_) * e.scale;
}

void shard_index::append_row(uint32_t label, const float* values, std::shared_ptr<const void> owner) {
  float scale = 1.0f;
  if (metric_ == metric_kind::cosine) {
    float norm = std::sqrt(dot(values, values, dim_));
    scale = norm > 0 ? 1.0f / norm : 0.0f;
  }
  pending_.push_back({values, scale, label});
  if (!owners_.empty() && owners_.back().second == owner)
    owners_.back().first = next_row_;
  else
    owners_.emplace_back(next_row_, std::move(owner));
  ++next_row_;
}

void shard_index::advance_head() {
  ++arena_head_;
  pending_.pop_front();
  while (!owners_.empty() && owners_.front().first < arena_head_)
    owners_.pop_front(); // every row using it is indexed or dead
  if (arena_head_ == next_row_) { // drained: start over and let go of every owner
    arena_head_ = next_row_ = 0;
    owners_.clear();
    copy_block_.reset();
  }
}

void shard_index::bury_pending(uint32_t label) {
  // Replacing or erasing a vector that is still pending is rare: a scan from the newest entry
  // costs less than a row number kept for every vector (4 bytes each, resident).
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it)
    if (it->label == label) {
      it->label = no_label;
      return;
    }
}

size_t shard_index::index_pending(size_t max_items) {
  size_t moved = 0;
  while (moved < max_items && arena_head_ < next_row_) {
    const pending_entry& e = pending_.front();
    if (e.label != no_label) {
      uint8_t& st = state_[e.label];
      if (!(st & in_graph))
        ensure_graph_capacity();
      prepare(e.values, scratch_.data());
      graph_->addPoint(scratch_.data(), e.label); // an existing label is updated and unmarked
      st = live | in_graph;
      --pending_count_;
      ++moved;
    }
    advance_head();
  }
  return moved;
}

void shard_index::scan_pending(const float* q, size_t k, std::vector<shard_hit>& heap) const {
  for (size_t i = 0; i < pending_.size(); ++i) {
    auto& e = pending_[i];
    if (e.label == no_label)
      continue;
    offer(heap, k, {pending_distance(q, e), e.label});
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
  if (live_ > pending_count_) {
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
