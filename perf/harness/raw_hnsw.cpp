#include "perf/harness/raw_hnsw.hpp"

#include <algorithm>
#include <memory>
#include <queue>
#include <vector>

// hnswlib.h defines non-inline functions (cpuid, xgetbv, the AVX probes) and global function
// pointers (p2p_raw_hnswlib::L2SqrSIMD16Ext, ...); the shard index includes it too, and a binary may
// hold only one copy of each. Renamed in this file, namespace included, they cannot clash.
#define hnswlib p2p_raw_hnswlib
#define cpuid p2p_raw_hnsw_cpuid
#define xgetbv p2p_raw_hnsw_xgetbv
#define AVXCapable p2p_raw_hnsw_avx_capable
#define AVX512Capable p2p_raw_hnsw_avx512_capable
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable
#undef hnswlib

namespace p2p {


struct raw_hnsw::impl {
  std::unique_ptr<p2p_raw_hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<p2p_raw_hnswlib::HierarchicalNSW<float>> graph;
};

raw_hnsw::raw_hnsw(uint32_t dim, metric_kind metric, size_t capacity, uint32_t m, uint32_t ef_construction)
    : impl_(std::make_unique<impl>()) {
  if (metric == metric_kind::l2)
    impl_->space = std::make_unique<p2p_raw_hnswlib::L2Space>(dim);
  else
    impl_->space = std::make_unique<p2p_raw_hnswlib::InnerProductSpace>(dim);
  impl_->graph = std::make_unique<p2p_raw_hnswlib::HierarchicalNSW<float>>(impl_->space.get(), capacity, m, ef_construction);
}

raw_hnsw::~raw_hnsw() = default;

void raw_hnsw::add(const float* v, size_t label) { impl_->graph->addPoint(v, label); }

void raw_hnsw::set_ef(size_t ef) { impl_->graph->setEf(ef); }

std::vector<size_t> raw_hnsw::search(const float* q, size_t k) const {
  auto top = impl_->graph->searchKnn(q, k);
  std::vector<size_t> out(top.size());
  for (size_t i = top.size(); i-- > 0; top.pop())
    out[i] = top.top().second;
  return out;
}

} // namespace p2p
