#pragma once
// glibc's malloc, set up for a process that moves vectors in blocks of megabytes.

namespace p2p {

/// Blocks of up to 32 MiB (a put's batch of floats, a message's buffer, a memtable's arena block)
/// come from malloc's heaps, and a heap keeps up to 8 MiB free at its top, instead of each block
/// getting a mapping of its own and freed memory going back to the kernel at once. On a VM where
/// a page the process touches for the first time costs microseconds, the default (a new mapping
/// for every batch, and the heap trimmed whenever 4 MiB are free at its top) made every batch
/// land on fresh pages: perf/README "Freed memory kept for the next batch". A shard that has
/// indexed everything still hands its freed memory back (malloc_trim). Called first in main().
void keep_freed_memory();

} // namespace p2p
