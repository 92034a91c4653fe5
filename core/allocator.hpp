#pragma once
// Memory for a process that moves vectors in blocks of megabytes.

#include <cstddef>

namespace p2p {

/// Blocks of up to 32 MiB (a put's batch of floats, a message's buffer, a memtable's arena block)
/// come from malloc's heaps, and a heap keeps up to 8 MiB free at its top, instead of large blocks
/// getting mappings of their own and freed memory going back to the kernel at once. On a VM where a
/// page the process touches for the first time costs microseconds, glibc's defaults (a mapping per
/// block until one is freed, then heaps trimmed whenever 4 MiB are free at their top) made batch
/// after batch land on fresh pages: perf/README "Freed memory kept for the next batch". A shard
/// that has indexed everything still hands its freed memory back (malloc_trim). Called first in
/// main().
void keep_freed_memory();

/// Blocks that operator new gives from this size up (to 64 MiB) are whole 2 MiB units of a range
/// marked for transparent huge pages (MADV_HUGEPAGE): a batch's floats, CAF's message buffers,
/// RocksDB's memtable arena blocks. On this project's VM, writing fresh memory cost 5.8 µs per
/// 2 KB in 4 KiB pages against 0.17-0.22 µs in huge pages (perf/README, twentieth and
/// twenty-first sessions). Up to 64 MiB of freed blocks keep their pages for the next block of
/// their size; beyond that, and at hand_back_huge_blocks(), the pages go back to the kernel.
/// Where THP is off ("never") the same blocks get plain pages. P2P_HUGE_BLOCKS=0 in the
/// environment turns it off (operator new is then malloc). Not built with the sanitizers.
inline constexpr std::size_t huge_block_min = std::size_t(1) << 20;

/// Hands the pages of the kept freed blocks back to the kernel (a shard that has indexed
/// everything calls it with malloc_trim).
void hand_back_huge_blocks();

/// Whether `p` is a block from the huge-page range (for the tests).
bool is_huge_block(const void* p);

} // namespace p2p
