// libFuzzer target: the safetensors reader on arbitrary bytes. Every input must
// parse and read back, or be refused with a WeightsError (fuzz_checks_weights.hpp).
// Anything else (a failed check, another exception, a crash, a sanitizer
// report, a leak, an allocation beyond -malloc_limit_mb, a timeout) is a bug.
// See fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_checks_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = stylize::fuzz::check_safetensors(std::string(reinterpret_cast<const char*>(data), size));
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_safetensors: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
