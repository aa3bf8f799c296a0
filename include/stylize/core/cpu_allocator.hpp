// A caching allocator for LibTorch's CPU tensors.
//
// Every iteration of the optimization allocates and frees the same few hundred
// megabytes of activations and gradients. glibc serves blocks that large with
// mmap and returns them with munmap, so each iteration page-faults all of that
// memory in again (at 512 px about a third of the time went to the kernel).
// This allocator keeps freed large blocks and hands them out again for a
// request of the same size, so from the second iteration on no memory is
// mapped or zeroed.
#pragma once

#include <cstddef>

namespace stylize {

struct CpuCacheStats {
  size_t cached_bytes = 0;  // freed blocks kept for reuse
  size_t hits = 0;          // large requests served from the cache
  size_t misses = 0;        // large requests that allocated new memory
};

// Makes the caching allocator LibTorch's CPU allocator for the rest of the
// process (tensors allocated before keep their own deleter). Idempotent.
void use_caching_cpu_allocator();

// True once use_caching_cpu_allocator() has been called.
bool caching_cpu_allocator_in_use();

// Returns every cached block to the system (between coarse-to-fine scales, whose
// sizes differ, and after a run). Harmless when the allocator is not in use.
void release_cached_cpu_memory();

CpuCacheStats cpu_cache_stats();

}  // namespace stylize
