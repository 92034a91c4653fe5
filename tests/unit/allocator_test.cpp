#include <doctest/doctest.h>

#include <malloc.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/allocator.hpp"

using namespace p2p;

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

TEST_CASE("operator new gives blocks from 1 MiB whole 2 MiB units of the huge-page range, and reuses freed ones") {
  // Small blocks are malloc's.
  auto small = std::make_unique<char[]>(4096);
  CHECK_FALSE(is_huge_block(small.get()));
  auto under = std::make_unique<char[]>(huge_block_min - 1);
  CHECK_FALSE(is_huge_block(under.get()));

  // From 1 MiB: whole units, 2 MiB aligned, every byte writable, and malloc_usable_size (which
  // RocksDB asks of its arena blocks) says the block's size.
  std::vector<float> batch(1000 * 512); // a put's batch of 512-d floats: 2,048,000 bytes
  CHECK(is_huge_block(batch.data()));
  CHECK(reinterpret_cast<uintptr_t>(batch.data()) % (2 << 20) == 0);
  CHECK(malloc_usable_size(batch.data()) == size_t(2) << 20);
  auto three = std::make_unique<char[]>(size_t(3) << 20);
  CHECK(is_huge_block(three.get()));
  CHECK(malloc_usable_size(three.get()) == size_t(4) << 20);
  std::memset(three.get(), 0x5a, size_t(3) << 20);
  CHECK(three[(size_t(3) << 20) - 1] == 0x5a);
  CHECK(malloc_usable_size(small.get()) >= 4096); // glibc's answer for malloc's own

  // A freed block is the next one of its size.
  const void* was = three.get();
  three.reset();
  auto again = std::make_unique<char[]>((size_t(3) << 20) + 5);
  CHECK(again.get() == was);

  // Past 64 MiB, malloc's again.
  auto huge = std::make_unique<char[]>(size_t(65) << 20);
  CHECK_FALSE(is_huge_block(huge.get()));
}

TEST_CASE("huge blocks: threads that allocate, fill and free them at once never share a block") {
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &bad] {
      for (int round = 0; round < 200; ++round) {
        size_t bytes = (size_t(1) << 20) + size_t((round * 7 + t) % 5) * (size_t(1) << 20);
        std::vector<char> block(bytes, char(t + 1));
        std::this_thread::yield();
        if (block.front() != char(t + 1) || block[bytes / 2] != char(t + 1) || block.back() != char(t + 1))
          ++bad[t];
        if (round % 50 == 0)
          hand_back_huge_blocks(); // pages back to the kernel while others hold blocks
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(bad == std::vector<int>(4, 0));
  // The threads' 1-2 MiB blocks are kept with their pages until handed back; after that the next
  // such block (one of theirs, its pages gone) reads as zeros, not as a thread's bytes.
  hand_back_huge_blocks();
  auto* p = static_cast<char*>(::operator new(size_t(2) << 20));
  CHECK(is_huge_block(p));
  size_t nonzero = 0;
  for (size_t i = 0; i < (size_t(2) << 20); i += 512)
    nonzero += p[i] != 0;
  CHECK(nonzero == 0);
  ::operator delete(p);
}

#endif
