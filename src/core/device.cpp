#include "stylize/core/device.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifdef STYLIZE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime_api.h>
#endif

#include "stylize/errors.hpp"

namespace stylize {

torch::Device resolve_device(DeviceKind kind) {
  const bool cuda = torch::cuda::is_available();
  switch (kind) {
    case DeviceKind::Cpu:
      return torch::kCPU;
    case DeviceKind::Auto:
      return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    case DeviceKind::Cuda:
      if (!cuda) {
        throw DeviceError(
            std::string("--device cuda was asked for, but ") +
            (at::hasCUDA() ? "no CUDA device is visible" : "this build of stylize uses a CPU-only LibTorch") +
            "; use --device cpu (or auto), or build against a CUDA LibTorch (see README)");
      }
      return torch::Device(torch::kCUDA, 0);
  }
  return torch::kCPU;
}

bool cpu_has_fast_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool amx_bf16 = (edx >> 22) & 1u;
  const unsigned max_subleaf = eax;
  bool avx512_bf16 = false;
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0) avx512_bf16 = (eax >> 5) & 1u;
  return amx_bf16 || avx512_bf16;
#else
  return false;
#endif
}

Precision resolve_precision(Precision requested, const torch::Device& device) {
  if (device.is_cpu()) {
    if (requested == Precision::Fp16) {
      throw DeviceError("--precision fp16 is not supported on the CPU; use bf16 or fp32");
    }
    if (requested == Precision::Auto) return cpu_has_fast_bf16() ? Precision::Bf16 : Precision::Fp32;
    return requested;
  }
  if (requested != Precision::Auto) return requested;
#ifdef STYLIZE_WITH_CUDA
  return at::cuda::getCurrentDeviceProperties()->major >= 8 ? Precision::Bf16 : Precision::Fp16;
#else
  return Precision::Bf16;
#endif
}

torch::Dtype dtype_of(Precision precision) {
  switch (precision) {
    case Precision::Bf16:
      return torch::kBFloat16;
    case Precision::Fp16:
      return torch::kFloat16;
    default:
      return torch::kFloat32;
  }
}

namespace {

// A number from a one-line file such as /sys/fs/cgroup/memory.max; -1 if absent or "max".
double read_number(const char* path) {
  std::ifstream file(path);
  std::string text;
  if (!(file >> text) || text == "max") return -1;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return -1;
  }
}

double mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

// What is left of this process's address space under ulimit -v (RLIMIT_AS,
// which login nodes and some batch systems set): the limit less the mappings
// it has now; -1 without a limit. Allocations past it fail however much
// memory the machine has free.
double address_space_left_bytes() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1;
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  if (!(statm >> pages)) return -1;
  return std::max(0.0, static_cast<double>(limit.rlim_cur) - pages * static_cast<double>(::sysconf(_SC_PAGESIZE)));
}

}  // namespace

double available_memory_bytes(const torch::Device& device) {
  double available = -1;
  const auto cap_at = [&](double bytes) {
    if (bytes >= 0 && (available < 0 || bytes < available)) available = bytes;
  };
  if (device.is_cpu()) {
    available = mem_available_bytes();
    const double limit = read_number("/sys/fs/cgroup/memory.max");
    const double used = read_number("/sys/fs/cgroup/memory.current");
    if (limit > 0 && used >= 0) cap_at(limit - used);
    cap_at(address_space_left_bytes());
  }
#ifdef STYLIZE_WITH_CUDA
  if (device.is_cuda()) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) available = static_cast<double>(free_bytes);
  }
#endif
  if (const double cap = memory_cap_bytes(); cap > 0) cap_at(cap);
  return available;
}

double memory_cap_bytes() {
  const char* cap = std::getenv("STYLIZE_MEMORY_LIMIT_MB");
  if (!cap || !*cap) return 0;
  char* end = nullptr;
  const double mib = std::strtod(cap, &end);
  if (end == cap || *end != '\0' || !(mib > 0) || !std::isfinite(mib)) {
    throw OptionError(std::string("STYLIZE_MEMORY_LIMIT_MB must be a number of MiB above 0, got '") + cap +
                      "'; unset it for no cap");
  }
  return mib * 1024 * 1024;
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// At most this many threads per available core (--threads); configure_threads
// throws OptionError above it, or for a negative count.
constexpr int kMaxThreadsPerCore = 4;

int configure_threads(int threads) {
  const int cores = available_cores();
  // Far more threads than cores only slow the run, and where the process may
  // not create them (ulimit -u) OpenMP waits for them for ever.
  if (threads < 0 || threads > kMaxThreadsPerCore * cores) {
    throw OptionError("--threads must be between 0 (all " + std::to_string(cores) + " available cores) and " +
                      std::to_string(kMaxThreadsPerCore * cores) + ", got " + std::to_string(threads));
  }
  const int count = threads > 0 ? threads : cores;
  torch::set_num_threads(count);
  return count;
}

void keep_freed_cpu_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);
#endif
}

void release_freed_cpu_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace stylize
