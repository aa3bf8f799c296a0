// Process-wide settings of the core (core/device.hpp): glibc keeping freed
// memory for reuse, and giving it back.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include <torch/torch.h>

#include "stylize/core/device.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/errors.hpp"
#include "test_util.hpp"

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

// README: a run that does not fit is refused with the largest size that does.
// The limit lies between the estimates for 192 and 224 px, above the runtime's
// fixed share, so the advice must name 192: guards against advice that is
// missing, off by a step, or computed for another batch or dtype.
TEST(MemoryRefusal, NamesTheLargestSizeThatFits) {
  StylizeOptions options = test::tiny_options();
  const VggWeights weights = load_vgg19_weights(test::fixture("vgg19_tiny.safetensors"));
  Stylizer stylizer(options, weights);
  const auto estimate = [&](int64_t side) {
    return estimate_memory_bytes(stylizer.network(), side, side, torch::kFloat32, 1);
  };
  const double limit = (estimate(192) + estimate(224)) / 2;
  ASSERT_LT(estimate(192), limit);
  test::ScopedEnv cap("STYLIZE_MEMORY_LIMIT_MB", std::to_string(limit / (1 << 20)));
  EXPECT_NO_THROW(stylizer.check_memory(192, 192));
  try {
    stylizer.check_memory(256, 256);
    FAIL() << "expected a ResourceError";
  } catch (const ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("the largest size that fits is about --size 192"), std::string::npos)
        << e.what();
  }
}

// ulimit -v (RLIMIT_AS) bounds what a run may allocate however much memory
// the machine has free: the memory check counts what it leaves.
TEST(MemoryRefusal, CountsWhatUlimitVLeaves) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  ASSERT_TRUE(statm >> pages);
  const double mapped = pages * static_cast<double>(::sysconf(_SC_PAGESIZE));
  constexpr double kLeft = 512.0 * (1 << 20);
  rlimit lowered = before;
  lowered.rlim_cur = static_cast<rlim_t>(mapped + kLeft);
  if (before.rlim_max != RLIM_INFINITY) {
    ASSERT_LE(lowered.rlim_cur, before.rlim_max);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &lowered), 0);
  const double available = available_memory_bytes(torch::kCPU);
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &before), 0);
  EXPECT_LE(available, kLeft);
  EXPECT_GT(available, kLeft - 64.0 * (1 << 20)) << "the mappings made between the two readings are few";
}

}  // namespace
}  // namespace stylize
