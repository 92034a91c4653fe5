// Writes an .fvecs file of embedding-like 512-d vectors: bench_data FILE ROWS SEED.
#include <cstdio>
#include <string>

#include "perf/harness/datasets.hpp"
#include "vectors/vector_io.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_data FILE ROWS SEED\n");
    return 2;
  }
  size_t rows = std::stoul(argv[2]);
  auto v = p2p::datasets::embedding_like_vectors(rows, 512, std::stoull(argv[3]));
  return p2p::write_fvecs(argv[1], v.data(), rows, 512) ? 0 : 1;
}
