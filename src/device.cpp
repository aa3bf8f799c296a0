#include "stylize/device.hpp"

#include <sched.h>

#include <algorithm>
#include <thread>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifdef STYLIZE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "stylize/errors.hpp"

namespace stylize {

torch::Device resolve_device(DeviceKind kind) {
  const bool cuda = torch::cuda::is_available();
  switch (kind) {
    case DeviceKind::Cpu: return torch::kCPU;
    case DeviceKind::Auto: return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
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
    case Precision::Bf16: return torch::kBFloat16;
    case Precision::Fp16: return torch::kFloat16;
    default: return torch::kFloat32;
  }
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int configure_threads(int threads) {
  const int count = threads > 0 ? threads : available_cores();
  torch::set_num_threads(count);
  return count;
}

}  // namespace stylize
