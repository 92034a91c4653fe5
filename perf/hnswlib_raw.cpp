// Raw hnswlib baseline for vector_bench: the same data, parameters (M=16, ef_construction=200)
// and queries as the node, straight on the library, one thread. Prints "result key=value" lines.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <boost/program_options.hpp>

#include "perf/harness/program_options.hpp"
#include <hnswlib/hnswlib.h>

#include "perf/harness/datasets.hpp"
#include "vectors/distance.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  size_t n = 20000, nq = 1000, k = 10;
  uint32_t dim = 512;
  int repeats = 3;
  std::string data = "embedding";
  po::options_description desc("hnswlib_raw options");
  desc.add_options()("help,h", "show this help")("n", po::value(&n)->default_value(n), "stored vectors")(
    "queries", po::value(&nq)->default_value(nq), "search queries")("dim", po::value(&dim)->default_value(dim), "dimension")(
    "repeats", po::value(&repeats)->default_value(repeats), "timed search repetitions")(
    "data", po::value(&data)->default_value(data), "embedding or gaussian");
  po::variables_map vm;
  if (auto status = p2p::bench::parse_program_options("hnswlib_raw", argc, argv, desc, vm))
    return *status;
  if (data != "embedding" && data != "gaussian") {
    std::fprintf(stderr, "hnswlib_raw: --data: expected embedding or gaussian, got '%s'\n", data.c_str());
    return 2;
  }
  bool gaussian = data == "gaussian";
  auto base = gaussian ? p2p::datasets::random_vectors(n, dim, 1) : p2p::datasets::embedding_like_vectors(n, dim, 1);
  auto queries = gaussian ? p2p::datasets::random_vectors(nq, dim, 2) : p2p::datasets::embedding_like_vectors(nq, dim, 2);
  for (size_t i = 0; i < n; ++i)
    p2p::normalize(&base[i * dim], dim);
  for (size_t i = 0; i < nq; ++i)
    p2p::normalize(&queries[i * dim], dim);

  hnswlib::InnerProductSpace space(dim);
  hnswlib::HierarchicalNSW<float> index(&space, n, 16, 200);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i)
    index.addPoint(&base[i * dim], i);
  double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("result build_per_s=%.1f\n", double(n) / build);

  std::vector<size_t> rows(n);
  for (size_t i = 0; i < n; ++i)
    rows[i] = i;
  std::vector<std::vector<size_t>> results(nq);
  auto search = [&](size_t ef) {
    index.setEf(ef);
    auto start = std::chrono::steady_clock::now();
    for (size_t q = 0; q < nq; ++q) {
      results[q].clear();
      auto top = index.searchKnn(&queries[q * dim], k);
      for (; !top.empty(); top.pop())
        results[q].push_back(top.top().second);
    }
    return double(nq) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  size_t ef = 0;
  double recall = 0;
  for (size_t candidate : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024}) {
    search(candidate);
    recall = p2p::datasets::cosine_recall(base, rows, queries, dim, k, results);
    std::printf("  raw hnswlib ef=%zu: recall@10 %.4f\n", candidate, recall);
    ef = candidate;
    if (recall >= 0.99)
      break;
  }
  std::printf("result ef=%zu\nresult recall=%.4f\n", ef, recall);
  for (int r = 0; r < repeats; ++r)
    std::printf("result qps%d=%.1f\n", r, search(ef));
  return 0;
}
