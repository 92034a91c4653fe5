#pragma once
// glibc's malloc, set up for a process that moves vectors in blocks of megabytes.

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

} // namespace p2p
