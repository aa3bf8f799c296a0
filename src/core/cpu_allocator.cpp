#include "stylize/cpu_allocator.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define STYLIZE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define STYLIZE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define STYLIZE_POISON(p, n) ((void)(p), (void)(n))
#define STYLIZE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace stylize {
namespace {

// Smaller blocks come from glibc's heap, which reuses them without system calls.
constexpr size_t kMinCachedBytes = size_t{1} << 20;
constexpr size_t kPageBytes = 4096;
// Never keep more than this many freed bytes; a block freed beyond it goes back to the system.
constexpr size_t kMaxCachedBytes = size_t{8} << 30;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  static CachingCpuAllocator& instance() {
    // Never destroyed: tensors may still be freed during static destruction.
    static auto* allocator = new CachingCpuAllocator;
    return *allocator;
  }

  c10::DataPtr allocate(size_t bytes) const override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (bytes < kMinCachedBytes) {
      void* data = c10::alloc_cpu(bytes);
      return {data, data, &deallocate, cpu};
    }
    size_t size = (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
    void* data = take(size);
    if (data) {
      STYLIZE_UNPOISON(data, size);
    } else {
      try {
        data = c10::alloc_cpu(size);
      } catch (...) {
        // Out of memory with blocks of other sizes cached: give them back and retry once.
        release();
        data = c10::alloc_cpu(size);
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(data, size);
    return {data, data, &deallocate, cpu};
  }

  // oneDNN (through ideep) allocates with raw_allocate(), which needs this.
  c10::DeleterFnPtr raw_deleter() const override { return &deallocate; }

  void release() const {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      cached_bytes_ = 0;
    }
    for (const auto& [size, data] : blocks) {
      STYLIZE_UNPOISON(data, size);
      c10::free_cpu(data);
    }
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_bytes_, hits_, misses_};
  }

 private:
  // The smallest cached block of at least `size` bytes and at most twice that
  // (its size in `size`), or nullptr.
  void* take(size_t& size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = free_.lower_bound(size);
    if (found == free_.end() || found->first > 2 * size) {
      ++misses_;
      return nullptr;
    }
    void* data = found->second;
    size = found->first;
    free_.erase(found);
    cached_bytes_ -= size;
    ++hits_;
    return data;
  }

  static void deallocate(void* data) { instance().give_back(data); }

  void give_back(void* data) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto found = live_.find(data);
      if (found != live_.end()) {
        const size_t size = found->second;
        live_.erase(found);
        if (cached_bytes_ + size <= kMaxCachedBytes) {
          STYLIZE_POISON(data, size);
          free_.emplace(size, data);
          cached_bytes_ += size;
          return;
        }
      }
    }
    c10::free_cpu(data);
  }

  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;       // cached blocks by size
  mutable std::unordered_map<void*, size_t> live_;  // large blocks in use
  mutable size_t cached_bytes_ = 0;
  mutable size_t hits_ = 0;
  mutable size_t misses_ = 0;
};

std::atomic<bool> in_use{false};

}  // namespace

void use_caching_cpu_allocator() {
  if (in_use.exchange(true)) return;
  c10::SetCPUAllocator(&CachingCpuAllocator::instance(), /*priority=*/1);
}

bool caching_cpu_allocator_in_use() { return in_use.load(); }

void release_cached_cpu_memory() {
  if (in_use.load()) CachingCpuAllocator::instance().release();
}

CpuCacheStats cpu_cache_stats() { return CachingCpuAllocator::instance().stats(); }

}  // namespace stylize
