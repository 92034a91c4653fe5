// What writing memory costs on this machine, by where the memory comes from: pages the process
// never touched, the same pages again, pages given back with MADV_DONTNEED, and a stream of
// 2 MB batches through malloc. On the project's 2-core VM a page touched for the first time cost
// about 75 times a warm one, which is why every p2p-agent process keeps freed blocks in
// malloc's heaps (core/allocator.hpp; perf/README "Freed memory kept for the next batch").
//   page_cost [MB]   (default 200): prints microseconds per 2 KB (one 512-d vector) written.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/allocator.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

/// Microseconds per 2,048 bytes to copy `bytes` of `src` (2 MB, cycled) into `p`.
double write_cost(char* p, size_t bytes, const std::vector<char>& src) {
  auto t0 = clock_type::now();
  for (size_t at = 0; at < bytes; at += src.size())
    std::memcpy(p + at, src.data(), std::min(src.size(), bytes - at));
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  return secs * 1e6 / (double(bytes) / 2048);
}

char* fresh_mapping(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("page_cost: mmap");
    std::exit(1);
  }
  return static_cast<char*>(p);
}

} // namespace

int main(int argc, char** argv) {
  size_t mb = 200;
  if (argc > 1) {
    char* end = nullptr;
    mb = std::strtoul(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0')
      mb = 0;
  }
  if (argc > 2 || mb == 0 || mb > 65536) {
    std::fprintf(stderr, "usage: page_cost [MB]   (1 to 65536, default 200)\n");
    return 2;
  }
  size_t bytes = mb << 20;
  std::vector<char> src(2 << 20, 1);
  char* p = fresh_mapping(bytes);
  std::printf("us per 2 KB written, %zu MB each:\n", mb);
  std::printf("  pages never touched      %.2f\n", write_cost(p, bytes, src));
  std::printf("  the same pages again     %.2f\n", write_cost(p, bytes, src));
  madvise(p, bytes, MADV_DONTNEED);
  std::printf("  after MADV_DONTNEED      %.2f\n", write_cost(p, bytes, src));
  munmap(p, bytes);
  // A stream of 2 MB batches (1,000 vectors of 512 floats), 4 alive at a time, as a node
  // receives puts: each written once, freed when the batch after the next three arrives. With
  // glibc's defaults, then as every p2p-agent process sets malloc up.
  auto stream = [&] {
    std::vector<char*> alive;
    size_t n = bytes / (2 << 20);
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      alive.push_back(static_cast<char*>(std::malloc(2 << 20)));
      total += write_cost(alive.back(), 2 << 20, src);
      if (alive.size() == 4) {
        std::free(alive.front());
        alive.erase(alive.begin());
      }
    }
    for (auto* b : alive)
      std::free(b);
    return total / double(n);
  };
  std::printf("  a stream of 2 MB batches, glibc's defaults                 %.2f\n", stream());
  p2p::keep_freed_memory();
  std::printf("  the same after keep_freed_memory() (core/allocator.hpp)    %.2f\n", stream());
  return 0;
}
