#include <gtest/gtest.h>

#include <torch/torch.h>

#include "stylize/cpu_allocator.hpp"

namespace stylize {
namespace {

constexpr int64_t kLargeFloats = 1 << 20;  // 4 MiB: above the caching threshold

TEST(CpuAllocator, ReusesAFreedLargeBlockOfTheSameSize) {
  use_caching_cpu_allocator();
  ASSERT_TRUE(caching_cpu_allocator_in_use());
  release_cached_cpu_memory();
  const CpuCacheStats before = cpu_cache_stats();

  void* first = nullptr;
  {
    torch::Tensor t = torch::full({kLargeFloats}, 1.5f);
    first = t.data_ptr();
  }
  EXPECT_GE(cpu_cache_stats().cached_bytes, kLargeFloats * sizeof(float));
  torch::Tensor again = torch::full({kLargeFloats}, 2.5f);
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(cpu_cache_stats().hits, before.hits + 1);
  // The reused memory holds the new values, not the old ones.
  EXPECT_EQ(again.sum().item<double>(), 2.5 * kLargeFloats);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
}

TEST(CpuAllocator, OtherSizesAllocateAndReleaseReturnsEverything) {
  use_caching_cpu_allocator();
  release_cached_cpu_memory();
  const CpuCacheStats before = cpu_cache_stats();
  { torch::Tensor t = torch::ones({kLargeFloats}); }
  torch::Tensor other = torch::ones({2 * kLargeFloats});
  EXPECT_EQ(cpu_cache_stats().misses, before.misses + 2);
  EXPECT_GT(cpu_cache_stats().cached_bytes, 0u);
  release_cached_cpu_memory();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
  EXPECT_EQ(other.sum().item<double>(), 2.0 * kLargeFloats);
}

TEST(CpuAllocator, SmallTensorsAndConvolutionsWork) {
  use_caching_cpu_allocator();
  // oneDNN allocates its buffers through the CPU allocator's raw interface.
  const torch::Tensor x = torch::rand({1, 16, 64, 64});
  const torch::Tensor w = torch::rand({16, 16, 3, 3});
  const torch::Tensor expected = torch::conv2d(x, w, {}, 1, 1);
  for (int i = 0; i < 3; ++i) {
    const torch::Tensor y = torch::conv2d(x.contiguous(torch::MemoryFormat::ChannelsLast),
                                          w.contiguous(torch::MemoryFormat::ChannelsLast), {}, 1, 1);
    EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-4));
  }
  EXPECT_EQ(torch::arange(10).sum().item<int64_t>(), 45);
}

}  // namespace
}  // namespace stylize
