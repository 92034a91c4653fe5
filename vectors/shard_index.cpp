#include "vectors/shard_index.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
  // The graph comes with its first element (ensure_graph_capacity): hnswlib sets up 65,536
  // mutexes (2.6 MB) for an empty one, which the first put of a new collection paid on every
  // shard (5 % of all the CPU of a first put of 10,000 vectors to 3 nodes, perf/README,
  // thirteenth session), while indexing waits for the puts to pause anyway.
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

float* shard_index::copy_row(const float* values) {
  if (!copy_block_ || copy_block_used_ == copy_block_rows) {
    copy_block_.reset(new float[copy_block_rows * dim_]);
    copy_block_used_ = 0;
  }
  float* copy = copy_block_.get() + copy_block_used_++ * dim_;
  std::copy_n(values, dim_, copy);
  return copy;
}

void shard_index::upsert(std::string_view id, const float* values) { upsert(id, copy_row(values), copy_block_); }

void shard_index::upsert(std::string_view id, const float* values, std::shared_ptr<const void> owner) {
  uint32_t label = find(id);
  if (label == no_label)
    label = add_label(id);
  uint8_t& st = state_[label];
  if ((st & in_graph) && (st & live) && !(st & pending_bit)) {
    graph_->markDelete(label); // the graph copy is stale until re-indexed
    ++graph_dead_;
    ++graph_changes_;
  }
  if (!(st & live)) {
    ++live_;
    tombstones_ -= versions_[label] > 0;
  }
  if (st & pending_bit)
    bury_pending(label);
  else
    ++pending_count_;
  append_row(label, values, std::move(owner));
  st |= live | pending_bit;
  publish();
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
  if (!(state_[label] & live)) {
    tombstones_ += version > 0;
    tombstones_ -= versions_[label] > 0;
  }
  versions_[label] = version;
  publish();
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
    ++graph_dead_;
    ++graph_changes_;
  }
  st &= ~live;
  --live_;
  tombstones_ += versions_[label] > 0;
  publish();
  return true;
}

bool shard_index::contains(std::string_view id) const {
  uint32_t label = find(id);
  return label != no_label && (state_[label] & live);
}

void shard_index::ensure_graph_capacity() {
  // Grow by a quarter: hnswlib keeps a 40-byte mutex per slot of capacity, so doubling would
  // cost up to 40 bytes per stored vector in unused slots. Level 0 grows with realloc.
  if (!graph_)
    graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), initial_graph_capacity, params_.m,
                                                               params_.ef_construction);
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
      else
        --graph_dead_; // its dead copy is updated and unmarked
      ++graph_changes_;
      prepare(e.values, scratch_.data());
      graph_->addPoint(scratch_.data(), e.label); // an existing label is updated and unmarked
      st = live | in_graph;
      --pending_count_;
      ++moved;
    }
    advance_head();
  }
  publish();
  return moved;
}

void shard_index::scan_pending(const float* q, size_t k, std::vector<shard_hit>& heap,
                               const std::vector<uint8_t>* allow) const {
  for (size_t i = 0; i < pending_.size(); ++i) {
    auto& e = pending_[i];
    if (e.label == no_label || (allow && !(*allow)[e.label]))
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
      scan_graph(q, k, heap, nullptr);
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

void shard_index::scan_graph(const float* q, size_t k, std::vector<shard_hit>& heap,
                             const std::vector<uint8_t>* allow) const {
  for (size_t i = 0; i < graph_->cur_element_count; ++i) {
    auto label = static_cast<uint32_t>(graph_->getExternalLabel(static_cast<hnswlib::tableint>(i)));
    if ((state_[label] & (live | pending_bit)) != live || (allow && !(*allow)[label]))
      continue;
    auto* data = reinterpret_cast<const float*>(graph_->getDataByInternalId(static_cast<hnswlib::tableint>(i)));
    offer(heap, k, {distance(metric_, q, data, dim_), label});
  }
}

void shard_index::search_filtered(const float* query, size_t k, size_t ef, bool exact, const std::vector<uint8_t>& allow,
                                  size_t allowed, std::vector<shard_hit>& out) const {
  out.clear();
  if (k == 0 || allowed == 0 || live_ == 0 || allow.size() < state_.size())
    return;
  prepare(query, scratch_.data());
  const float* q = scratch_.data();
  std::vector<shard_hit>& heap = out;
  size_t graph_live = live_ - pending_count_;
  // Few matches: scanning them costs less than a graph search (a few thousand distances).
  bool scan = exact || allowed <= 2000 || allowed * 20 <= live_;
  if (graph_live > 0) {
    if (scan) {
      scan_graph(q, k, heap, &allow);
    } else {
      // Ask the graph for enough that k pass: twice the share the filter keeps, and more.
      double share = double(allowed) / double(live_);
      size_t fetch = std::min(graph_live, size_t(double(k) / share * 2.0) + 10);
      graph_->setEf(std::max(ef, fetch));
      auto found = graph_->searchKnn(q, fetch);
      size_t passed = 0;
      for (; !found.empty(); found.pop()) {
        auto label = static_cast<uint32_t>(found.top().second);
        if (allow[label]) {
          offer(heap, k, {found.top().first, label});
          ++passed;
        }
      }
      if (passed < k && fetch < graph_live) {
        heap.clear();
        scan_graph(q, k, heap, &allow);
      }
    }
  }
  scan_pending(q, k, heap, &allow);
  std::sort_heap(heap.begin(), heap.end(), by_distance);
}

size_t shard_index::graph_size() const { return graph_ ? graph_->cur_element_count : 0; }

void shard_index::compact() {
  if (!graph_)
    return;
  auto old = std::move(graph_);
  graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), initial_graph_capacity, params_.m,
                                                             params_.ef_construction);
  graph_changes_ += old->cur_element_count;
  graph_dead_ = 0;
  for (size_t i = 0; i < old->cur_element_count; ++i) {
    auto internal = static_cast<hnswlib::tableint>(i);
    auto label = static_cast<uint32_t>(old->getExternalLabel(internal));
    uint8_t& st = state_[label];
    if ((st & (live | pending_bit | in_graph)) != (live | in_graph)) {
      st &= uint8_t(~in_graph); // dead, or pending with a newer vector: nothing to keep
      continue;
    }
    // The graph holds the prepared vector (normalized for cosine): preparing it again is harmless.
    float* copy = copy_row(reinterpret_cast<const float*>(old->getDataByInternalId(internal)));
    append_row(label, copy, copy_block_);
    st = live | pending_bit;
    ++pending_count_;
  }
  publish();
}

namespace {

constexpr char graph_magic[8] = {'P', '2', 'P', 'G', 'R', 'A', 'P', 'H'};
constexpr uint32_t graph_format = 1;

/// A file mapped read-only, or the reason it could not be.
struct mapped_file {
  const char* data = nullptr;
  size_t size = 0;
  std::string problem;
  explicit mapped_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      problem = errno == ENOENT ? "missing" : path + ": " + std::strerror(errno);
      return;
    }
    struct stat sb {};
    if (::fstat(fd, &sb) == 0 && sb.st_size > 0) {
      size = size_t(sb.st_size);
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED)
        problem = path + ": " + std::strerror(errno);
      else
        data = static_cast<const char*>(p);
    } else {
      problem = path + ": empty";
    }
    ::close(fd);
  }
  ~mapped_file() {
    if (data)
      ::munmap(const_cast<char*>(data), size);
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
};

std::string sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    std::string err = path + ": " + std::strerror(errno);
    if (fd >= 0)
      ::close(fd);
    return err;
  }
  ::close(fd);
  return {};
}

template <class T> void put_pod(std::string& out, const T& x) { out.append(reinterpret_cast<const char*>(&x), sizeof(T)); }

/// Reads PODs from a block, failing (once) past its end.
struct pod_reader {
  const char* p;
  const char* end;
  bool ok = true;
  template <class T> T get() {
    T x{};
    read(&x, sizeof(T));
    return x;
  }
  void read(void* out, size_t n) {
    if (!ok || size_t(end - p) < n) {
      ok = false;
      return;
    }
    std::memcpy(out, p, n);
    p += n;
  }
};

} // namespace

std::string shard_index::save(const std::string& path, uint64_t sequence) {
  std::string graph_path = path + ".hnsw", meta_path = path + ".meta";
  std::string graph_tmp = graph_path + ".tmp", meta_tmp = meta_path + ".tmp";
  try {
    ensure_graph_capacity(); // an index saved before anything was indexed saves an empty graph
    graph_->saveIndex(graph_tmp);
  } catch (const std::exception& e) {
    return graph_tmp + ": " + e.what();
  }
  uint64_t graph_bytes = 0, graph_hash = 0;
  {
    mapped_file written(graph_tmp);
    if (!written.data)
      return graph_tmp + ": not written (" + written.problem + ")";
    graph_bytes = written.size;
    graph_hash = hash_block(written.data, written.size);
  }
  if (auto err = sync_file(graph_tmp); !err.empty())
    return err;
  std::string meta(graph_magic, sizeof graph_magic);
  put_pod(meta, graph_format);
  put_pod(meta, dim_);
  put_pod(meta, uint32_t(metric_));
  put_pod(meta, params_.m);
  put_pod(meta, sequence);
  put_pod(meta, graph_bytes);
  put_pod(meta, graph_hash);
  put_pod(meta, uint64_t(state_.size()));
  put_pod(meta, uint64_t(id_bytes_.size()));
  meta.append(id_bytes_);
  meta.append(reinterpret_cast<const char*>(id_offsets_.data()), id_offsets_.size() * sizeof(uint32_t));
  meta.append(reinterpret_cast<const char*>(state_.data()), state_.size());
  meta.append(reinterpret_cast<const char*>(versions_.data()), versions_.size() * sizeof(uint64_t));
  put_pod(meta, hash_block(meta.data(), meta.size()));
  int fd = ::open(meta_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return meta_tmp + ": " + std::strerror(errno);
  size_t done = 0;
  while (done < meta.size()) {
    ssize_t n = ::write(fd, meta.data() + done, meta.size() - done);
    if (n <= 0) {
      std::string err = meta_tmp + ": " + std::strerror(errno);
      ::close(fd);
      return err;
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    std::string err = meta_tmp + ": " + std::strerror(errno);
    ::close(fd);
    return err;
  }
  ::close(fd);
  // The graph first: a crash between the renames leaves an old meta whose checksum does not
  // match the new graph, which a load rejects.
  if (std::rename(graph_tmp.c_str(), graph_path.c_str()) != 0 || std::rename(meta_tmp.c_str(), meta_path.c_str()) != 0)
    return path + ": rename: " + std::strerror(errno);
  auto slash = path.find_last_of('/');
  if (auto err = sync_file(slash == std::string::npos ? "." : path.substr(0, slash)); !err.empty())
    return err;
  graph_changes_ = 0;
  return {};
}

shard_index::loaded shard_index::load(const std::string& path, uint32_t dim, metric_kind metric, hnsw_config params) {
  loaded out;
  mapped_file meta(path + ".meta");
  if (!meta.data) {
    out.problem = meta.problem;
    return out;
  }
  if (meta.size < sizeof graph_magic + 8 || std::memcmp(meta.data, graph_magic, sizeof graph_magic) != 0) {
    out.problem = "not a graph meta file";
    return out;
  }
  uint64_t stored_hash = 0;
  std::memcpy(&stored_hash, meta.data + meta.size - 8, 8);
  if (hash_block(meta.data, meta.size - 8) != stored_hash) {
    out.problem = "meta file checksum mismatch";
    return out;
  }
  pod_reader in{meta.data + sizeof graph_magic, meta.data + meta.size - 8};
  auto format = in.get<uint32_t>();
  auto saved_dim = in.get<uint32_t>();
  auto saved_metric = in.get<uint32_t>();
  auto saved_m = in.get<uint32_t>();
  out.sequence = in.get<uint64_t>();
  auto graph_bytes = in.get<uint64_t>();
  auto graph_hash = in.get<uint64_t>();
  auto labels = in.get<uint64_t>();
  auto id_bytes = in.get<uint64_t>();
  if (!in.ok || format != graph_format || saved_dim != dim || saved_metric != uint32_t(metric) || saved_m != params.m) {
    out.problem = "saved with other parameters (format, dimension, metric or hnsw.m)";
    return out;
  }
  size_t table_bytes = id_bytes + (labels + 1) * 4 + labels + labels * 8;
  if (labels >= UINT32_MAX || id_bytes > UINT32_MAX || size_t(in.end - in.p) != table_bytes) {
    out.problem = "label table of the wrong size";
    return out;
  }
  mapped_file graph_file(path + ".hnsw");
  if (!graph_file.data) {
    out.problem = "graph file " + graph_file.problem;
    return out;
  }
  if (graph_file.size != graph_bytes || hash_block(graph_file.data, graph_file.size) != graph_hash) {
    out.problem = "graph file does not match its meta (size " + std::to_string(graph_file.size) + ", expected "
                  + std::to_string(graph_bytes) + ", or checksum): truncated or from another save";
    return out;
  }
  auto idx = std::make_unique<shard_index>(dim, metric, params);
  try {
    idx->graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(idx->space_.get(), path + ".hnsw");
  } catch (const std::exception& e) {
    out.problem = std::string("graph file unreadable: ") + e.what();
    return out;
  }
  idx->id_bytes_.resize(id_bytes);
  in.read(idx->id_bytes_.data(), id_bytes);
  idx->id_offsets_.resize(labels + 1);
  in.read(idx->id_offsets_.data(), (labels + 1) * 4);
  idx->state_.resize(labels);
  in.read(idx->state_.data(), labels);
  idx->versions_.resize(labels);
  in.read(idx->versions_.data(), labels * 8);
  if (!in.ok || idx->id_offsets_[0] != 0 || idx->id_offsets_[labels] != id_bytes
      || !std::is_sorted(idx->id_offsets_.begin(), idx->id_offsets_.end())) {
    out.problem = "label table unreadable";
    return out;
  }
  // Every graph element must be a label the table has in the graph, and no other.
  size_t in_graph_labels = 0;
  for (auto& st : idx->state_) {
    if ((st & live) && (st & pending_bit))
      st &= uint8_t(~(live | pending_bit)); // pending at the save: read again by the caller
    st &= uint8_t(live | in_graph);
    in_graph_labels += (st & in_graph) != 0;
    idx->live_ += (st & live) != 0;
    idx->graph_dead_ += (st & in_graph) && !(st & live);
  }
  for (uint32_t label = 0; label < labels; ++label)
    idx->tombstones_ += !(idx->state_[label] & live) && idx->versions_[label] > 0;
  auto& g = *idx->graph_;
  if (g.cur_element_count != in_graph_labels) {
    out.problem = "graph has " + std::to_string(g.cur_element_count) + " elements, its table "
                  + std::to_string(in_graph_labels);
    return out;
  }
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    auto label = g.getExternalLabel(static_cast<hnswlib::tableint>(i));
    if (label >= labels || !(idx->state_[label] & in_graph)) {
      out.problem = "graph element " + std::to_string(i) + " has a label its table does not";
      return out;
    }
    if (g.isMarkedDeleted(static_cast<hnswlib::tableint>(i)) == bool(idx->state_[label] & live)) {
      out.problem = "graph element " + std::to_string(i) + " is marked otherwise than its table says";
      return out;
    }
  }
  g.num_deleted_ = idx->graph_dead_; // hnswlib 0.6.2 leaves it uninitialized when loading
  while (labels * 2 > idx->slots_.size())
    idx->slots_.assign(idx->slots_.size() * 2, no_label);
  size_t mask = idx->slots_.size() - 1;
  for (uint32_t label = 0; label < labels; ++label) {
    size_t i = hash_id(idx->id_of(label)) & mask;
    while (idx->slots_[i] != no_label)
      i = (i + 1) & mask;
    idx->slots_[i] = label;
  }
  idx->publish();
  out.index = std::move(idx);
  return out;
}

} // namespace p2p
