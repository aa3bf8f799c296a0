// Process-wide settings of the core (core/device.hpp): glibc keeping freed
// memory for reuse, and giving it back.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <fstream>

#include <torch/torch.h>

#include "stylize/core/device.hpp"

namespace stylize {
namespace {

// 64 MiB: above glibc's largest automatic mmap threshold (32 MiB), so without
// keep_freed_cpu_memory() every such block is mapped and unmapped again.
constexpr int64_t kLargeFloats = int64_t{16} << 20;

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20);
}

#if defined(__SANITIZE_ADDRESS__)
#define STYLIZE_GLIBC_MALLOC 0  // AddressSanitizer replaces glibc's malloc
#else
#define STYLIZE_GLIBC_MALLOC 1
#endif

TEST(CpuMemory, FreedBlocksStayWithTheProcessForReuse) {
  // Guards against keep_freed_cpu_memory() not reaching glibc: by default a
  // 64 MiB block is mapped on its own and unmapped when freed, so every
  // iteration would fault all of its pages in again.
  if (!STYLIZE_GLIBC_MALLOC) GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's malloc in this build";
  keep_freed_cpu_memory();
  const struct mallinfo2 before = mallinfo2();
  {
    torch::Tensor t = torch::full({kLargeFloats}, 1.0f);
    const struct mallinfo2 during = mallinfo2();
    EXPECT_LT(during.hblkhd, before.hblkhd + kLargeFloats) << "the block was mapped on its own";
  }
  const struct mallinfo2 after = mallinfo2();
  EXPECT_GE(after.fordblks, before.fordblks + static_cast<size_t>(kLargeFloats) * 4 - (1 << 20))
      << "the freed block went back to the system instead of staying free for reuse";
}

TEST(CpuMemory, ReleaseGivesTheKeptMemoryBack) {
  if (!STYLIZE_GLIBC_MALLOC) GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's malloc in this build";
  keep_freed_cpu_memory();
  { torch::Tensor t = torch::full({kLargeFloats}, 1.0f); }
  const double kept = resident_mib();
  release_freed_cpu_memory();
  EXPECT_LT(resident_mib(), kept - 32) << "64 MiB were freed and kept; releasing returns them";
}

}  // namespace
}  // namespace stylize
