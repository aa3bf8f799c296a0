// libFuzzer target: the Keras HDF5 reader (through libhdf5's in-memory file
// image, so nothing touches the disk) on arbitrary bytes. Every input must give
// the convolutions of a VGG19, or be refused with a WeightsError
// (fuzz_checks_weights.hpp). Anything else (a failed check, another exception, a
// crash, a sanitizer report, a leak, an allocation beyond -malloc_limit_mb, a
// timeout) is a bug. See fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_checks_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = stylize::fuzz::check_keras_h5(std::string(reinterpret_cast<const char*>(data), size));
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_keras_h5: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
