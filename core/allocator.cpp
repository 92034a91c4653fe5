#include "core/allocator.hpp"

#include <malloc.h>

namespace p2p {

void keep_freed_memory() {
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit hosts (half a heap). Setting
  // either value also turns off glibc's own adjustment of both. A trim threshold of 8 MiB put
  // as fast as 32 MiB (perf/README), with less kept free.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

} // namespace p2p
