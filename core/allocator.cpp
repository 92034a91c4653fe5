#include "core/allocator.hpp"

#include <malloc.h>

namespace p2p {

void keep_freed_memory() {
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit hosts (half a heap). Setting
  // either value also turns off glibc's own adjustment of both.
  constexpr int limit = 32 << 20;
  mallopt(M_MMAP_THRESHOLD, limit);
  mallopt(M_TRIM_THRESHOLD, limit);
}

} // namespace p2p
