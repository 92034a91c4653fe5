#include "core/allocator.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace p2p {

void keep_freed_memory() {
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit hosts (half a heap). Setting
  // either value also turns off glibc's own adjustment of both. A trim threshold of 8 MiB put
  // as fast as 32 MiB (perf/README), with less kept free.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool built_in = false; // the sanitizers keep their own operator new, and see every block
#else
constexpr bool built_in = true;
#endif

constexpr size_t unit = size_t(2) << 20;           // a huge page
constexpr size_t max_units = 32;                   // up to 64 MiB; larger blocks come from malloc
constexpr size_t range_bytes = size_t(64) << 30;   // address space reserved (not memory)
constexpr size_t slots = range_bytes / unit;       // 32,768 places for a block's first unit
constexpr size_t keep_bytes = size_t(64) << 20;    // blocks kept with their pages for the next one
constexpr uint32_t none = 0; // slot 0 (the range's first unit) is never handed out

/// Blocks of 2 MiB units from one reserved range marked for transparent huge pages. A freed
/// block is kept with its pages (up to keep_bytes, for the next block of its size) or its pages
/// are handed back (MADV_DONTNEED) and its addresses reused. All under one mutex: blocks this
/// large come and go a few thousand times a second at most.
struct huge_blocks {
  std::mutex mutex;
  bool tried = false;
  std::atomic<char*> base{nullptr}; // read without the mutex by owns()
  size_t used = 0;                  // bytes of the range handed out so far, after slot 0 (bump)
  size_t kept = 0;                  // bytes of kept blocks (pages still there)
  uint8_t units[slots] = {};        // slot of a block's first unit -> its units
  uint32_t next[slots] = {};        // free lists, linked through the slots
  uint32_t warm[max_units + 1] = {}; // by units: freed blocks with their pages
  uint32_t cold[max_units + 1] = {}; // by units: freed blocks without pages

  bool reserve() { // under the mutex
    if (tried)
      return base.load(std::memory_order_relaxed) != nullptr;
    tried = true;
    if (const char* off = std::getenv("P2P_HUGE_BLOCKS"); off && std::strcmp(off, "0") == 0)
      return false;
    void* p = mmap(nullptr, range_bytes + unit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      return false;
    auto at = (reinterpret_cast<uintptr_t>(p) + unit - 1) & ~(uintptr_t(unit) - 1);
    char* aligned = reinterpret_cast<char*>(at);
    (void)madvise(aligned, range_bytes, MADV_HUGEPAGE); // where THP is "never", plain pages
    base.store(aligned, std::memory_order_release);
    return true;
  }

  [[nodiscard]] bool owns(const void* p) const {
    auto* b = base.load(std::memory_order_acquire);
    return b && p >= b && p < b + range_bytes;
  }

  static uint32_t pop(uint32_t& head, const uint32_t* next) {
    uint32_t s = head;
    if (s != none)
      head = next[s];
    return s;
  }

  /// A block of whole units for `bytes`, or nullptr where malloc should serve it.
  void* allocate(size_t bytes) {
    size_t n = (bytes + unit - 1) / unit;
    if (n > max_units)
      return nullptr;
    uint32_t slot = none;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!reserve())
        return nullptr;
      if ((slot = pop(warm[n], next)) != none) {
        kept -= n * unit;
      } else if ((slot = pop(cold[n], next)) == none) {
        if (unit + used + n * unit > range_bytes)
          return nullptr;
        slot = uint32_t(used / unit) + 1;
        used += n * unit;
        units[slot] = uint8_t(n);
      }
    }
    return base.load(std::memory_order_relaxed) + size_t(slot) * unit;
  }

  /// The bytes of the block at `p` (one of ours).
  [[nodiscard]] size_t size_of(const void* p) const {
    auto slot = size_t((static_cast<const char*>(p) - base.load(std::memory_order_relaxed)) / unit);
    return size_t(units[slot]) * unit;
  }

  void release(void* p) {
    char* block = static_cast<char*>(p);
    auto slot = uint32_t((block - base.load(std::memory_order_relaxed)) / unit);
    size_t n = units[slot]; // written before the block was handed out, under the mutex
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (kept + n * unit <= keep_bytes) {
        kept += n * unit;
        next[slot] = warm[n];
        warm[n] = slot;
        return;
      }
    }
    (void)madvise(block, n * unit, MADV_DONTNEED);
    std::lock_guard<std::mutex> lock(mutex);
    next[slot] = cold[n];
    cold[n] = slot;
  }

  void hand_back() {
    uint32_t lists[max_units + 1];
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (size_t n = 0; n <= max_units; ++n)
        lists[n] = warm[n], warm[n] = none;
      kept = 0;
    }
    char* b = base.load(std::memory_order_relaxed);
    for (size_t n = 1; n <= max_units; ++n)
      for (uint32_t s = lists[n]; s != none; s = next[s]) // these slots are ours alone until pushed
        (void)madvise(b + size_t(s) * unit, n * unit, MADV_DONTNEED);
    std::lock_guard<std::mutex> lock(mutex);
    for (size_t n = 1; n <= max_units; ++n)
      while (lists[n] != none) {
        uint32_t s = lists[n];
        lists[n] = next[s];
        next[s] = cold[n];
        cold[n] = s;
      }
  }
};

// Constant-initialised (all zeros): ready before any static constructor's first operator new,
// and every operator delete asks owns() without a function-local static's guard.
constinit huge_blocks the_blocks;

huge_blocks& blocks() { return the_blocks; }

[[maybe_unused]] void* allocate(size_t bytes) { // unused in the sanitizer build
  if (built_in && bytes >= huge_block_min)
    if (void* p = blocks().allocate(bytes))
      return p;
  for (;;) {
    if (void* p = std::malloc(bytes ? bytes : 1))
      return p;
    auto handler = std::get_new_handler();
    if (!handler)
      throw std::bad_alloc();
    handler();
  }
}

[[maybe_unused]] void release(void* p) noexcept {
  if (built_in && p && blocks().owns(p))
    blocks().release(p);
  else
    std::free(p);
}

} // namespace

void hand_back_huge_blocks() {
  if (built_in)
    blocks().hand_back();
}

bool is_huge_block(const void* p) { return built_in && blocks().owns(p); }

} // namespace p2p

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// The replaceable global allocation functions (the aligned ones stay libstdc++'s: they use
// aligned_alloc and free, which reach neither of these).
void* operator new(std::size_t n) { return p2p::allocate(n); }
void* operator new[](std::size_t n) { return p2p::allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return p2p::allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return p2p::allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { p2p::release(p); }
void operator delete[](void* p) noexcept { p2p::release(p); }
void operator delete(void* p, std::size_t) noexcept { p2p::release(p); }
void operator delete[](void* p, std::size_t) noexcept { p2p::release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { p2p::release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { p2p::release(p); }

// RocksDB asks malloc_usable_size() of its arena blocks, which glibc would answer by reading a
// chunk header in front of the block: ours have none, so the blocks of the range are answered
// here and everything else by glibc.
extern "C" size_t malloc_usable_size(void* p) noexcept {
  if (p && p2p::blocks().owns(p))
    return p2p::blocks().size_of(p);
  using usable_fn = size_t (*)(void*);
  static const auto glibc = reinterpret_cast<usable_fn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  return glibc ? glibc(p) : 0;
}
#endif
