// Choosing where and how the network runs.
#pragma once

#include <torch/types.h>

#include "stylize/types.hpp"

namespace stylize {

// cpu, cuda, or for auto the first CUDA device when LibTorch has one.
// Throws DeviceError when cuda is asked for and not available.
torch::Device resolve_device(DeviceKind kind);

// The precision the network runs in on `device`. auto: bf16 on a CPU with
// AMX or AVX512-BF16, bf16 on a CUDA device that supports it (else fp16),
// fp32 otherwise. Throws DeviceError for fp16 on a CPU.
Precision resolve_precision(Precision requested, const torch::Device& device);

// The tensor dtype of a resolved precision (never Precision::Auto).
torch::Dtype dtype_of(Precision precision);

// True when the processor has native bfloat16 matrix support (AMX-BF16 or AVX512-BF16).
bool cpu_has_fast_bf16();

// Memory this process can still use on `device`, in bytes: on the CPU the
// smallest of MemAvailable, the cgroup limit and what ulimit -v leaves of the
// address space, on CUDA the free device memory.
// STYLIZE_MEMORY_LIMIT_MB, when set, caps it (for tests and shared machines);
// OptionError when it is not a number of MiB above 0.
double available_memory_bytes(const torch::Device& device);

// STYLIZE_MEMORY_LIMIT_MB in bytes, 0 when it is not set; OptionError when it
// is not a number of MiB above 0.
double memory_cap_bytes();

// Cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Sets LibTorch's intra-op thread count: `threads`, or every available core for 0.
// Returns the count in force.
int configure_threads(int threads);

// Makes glibc keep freed memory for reuse, for the rest of the process: every
// iteration frees and allocates the same few hundred megabytes of activations
// and gradients, which glibc would otherwise unmap and map again, page-faulting
// all of it in every iteration. Large blocks then come from the heap, never
// from mmap (mallopt M_MMAP_MAX 0), and the heap is never trimmed
// (M_TRIM_THRESHOLD -1). Process-wide, so the front end opts in; measured
// against a caching allocator and jemalloc in README, "Speed". No effect with
// another C library.
void keep_freed_cpu_memory();

// Returns the freed memory kept so far to the system (malloc_trim), e.g.
// between the scales of a coarse-to-fine run, whose blocks have other sizes.
void release_freed_cpu_memory();

}  // namespace stylize
