// libFuzzer target: the image decoder on arbitrary bytes. Every input must
// decode to a (1, 3, H, W) float32 image in [0, 1] or be refused with an
// ImageError (fuzz_checks.hpp), and must leave no temporary file behind.
// Anything else (a failed check, another exception, a crash, a sanitizer
// report, a leak, an allocation beyond -malloc_limit_mb, a timeout) is a bug.
// See fuzz/README.md.
//
// OpenCV and the codec libraries are not instrumented: ASan still catches
// crashes, huge allocations and bad memcpy/free calls made by them (through its
// interceptors), but libFuzzer sees coverage of stylize's own code only, which
// is the same few edges for almost every input. To give it something to steer
// by, each outcome (the format the signature selects, decoded or refused, the
// size, the error message) is hashed onto one of kBuckets functions below, each
// a distinct edge for libFuzzer; inputs that reach a new outcome are kept.
#include <dirent.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <utility>

#include <ATen/Parallel.h>

#include "fuzz_checks.hpp"

namespace {

constexpr size_t kBuckets = 1024;

template <size_t I>
__attribute__((noinline)) void outcome_bucket() {
  asm volatile("" ::: "memory");  // keep each function distinct and not inlined
}

template <size_t... I>
constexpr std::array<void (*)(), sizeof...(I)> make_buckets(std::index_sequence<I...>) {
  return {&outcome_bucket<I>...};
}

constexpr auto kOutcomeBuckets = make_buckets(std::make_index_sequence<kBuckets>());

void mark_outcome(size_t hash) { kOutcomeBuckets[hash % kBuckets](); }

bool starts_with(const std::string& bytes, const char* prefix, size_t length, size_t at = 0) {
  return bytes.size() >= at + length && std::memcmp(bytes.data() + at, prefix, length) == 0;
}

// Which of OpenCV's decoders the signature selects (roughly as imdecode does).
int format_of(const std::string& b) {
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return 1;
  if (starts_with(b, "\xff\xd8\xff", 3)) return 2;
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBPVP8", 7, 8)) return 3;
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4) || starts_with(b, "II+\0", 4) ||
      starts_with(b, "MM\0+", 4)) {
    return 4;
  }
  if (starts_with(b, "BM", 2)) return 5;
  if (starts_with(b, "P7", 2)) return 6;
  if (starts_with(b, "PF", 2) || starts_with(b, "Pf", 2)) return 7;
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return 8;
  if (starts_with(b, "#?RADIANCE", 10) || starts_with(b, "#?RGBE", 6)) return 9;
  if (starts_with(b, "\x59\xa6\x6a\x95", 4)) return 10;
  if (starts_with(b, "\0\0\0\x0cjP  \r\n\x87\n", 12)) return 11;
  if (starts_with(b, "\xff\x4f\xff\x51", 4)) return 12;
  if (starts_with(b, "DICM", 4, 128)) return 13;
  if (starts_with(b, "\x76\x2f\x31\x01", 4)) return 14;
  if (starts_with(b, "NITF", 4)) return 15;       // GDAL
  if (starts_with(b, "DTED", 4, 140)) return 16;  // GDAL
  return 0;
}

size_t log2_bucket(int64_t n) {
  size_t bits = 0;
  while (n > 1 && bits < 31) {
    n >>= 1;
    ++bits;
  }
  return bits;
}

size_t combine(size_t seed, size_t value) { return seed ^ (value + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2)); }

// scripts/fuzz.sh points OpenCV's temporary files (OPENCV_TEMP_PATH) at an
// empty directory of their own; it must still be empty after every input.
const char* g_temp_dir = nullptr;

bool temp_dir_is_empty() {
  DIR* dir = ::opendir(g_temp_dir);
  if (dir == nullptr) return true;
  bool empty = true;
  while (const dirent* entry = ::readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      std::fprintf(stderr, "fuzz_image: temporary file left behind: %s/%s\n", g_temp_dir, entry->d_name);
      empty = false;
    }
  }
  ::closedir(dir);
  return empty;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);
  // OpenCV reports every refused image on std::cerr and through its logger;
  // millions of those lines would drown the fuzzer's own output.
  setenv("OPENCV_LOG_LEVEL", "SILENT", 0);
  std::cerr.rdbuf(nullptr);
  g_temp_dir = std::getenv("OPENCV_TEMP_PATH");
  if (g_temp_dir != nullptr) {
    // Left by an input that failed the check in an earlier process (-fork).
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(g_temp_dir, ignored)) {
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const stylize::fuzz::ImageOutcome outcome = stylize::fuzz::check_image(bytes);
  if (!outcome.problem.empty()) {
    std::fprintf(stderr, "fuzz_image: %s\n", outcome.problem.c_str());
    std::abort();
  }
  size_t hash = static_cast<size_t>(format_of(bytes));
  if (outcome.decoded) {
    hash = combine(hash, 1);
    hash = combine(hash, log2_bucket(outcome.height));
    hash = combine(hash, log2_bucket(outcome.width));
    hash = combine(hash, outcome.constant);
  } else {
    hash = combine(hash, 2);
    hash = combine(hash, std::hash<std::string>()(outcome.error));
  }
  mark_outcome(hash);
  if (g_temp_dir != nullptr && !temp_dir_is_empty()) std::abort();
  return 0;
}
