#include "exit_codes.hpp"

#include <new>
#include <string>

#include <spdlog/spdlog.h>

#include "stylize/errors.hpp"

namespace stylize::cli {
namespace {

template <typename E>
bool is(const std::exception& error) {
  return dynamic_cast<const E*>(&error) != nullptr;
}

// The message of an allocation that failed outside stylize's own checks:
// LibTorch's CPU allocator (a c10::Error "[enforce fail at alloc_cpu.cpp:..]
// . DefaultCPUAllocator: can't allocate memory: ...", then a stack trace),
// CUDA's caching allocator ("CUDA out of memory. Tried to allocate ..."),
// OpenCV ("... Failed to allocate N bytes ..."), or std::bad_alloc. "" for
// any other error.
std::string allocation_failure(const std::exception& error) {
  if (is<Error>(error)) return "";
  if (is<std::bad_alloc>(error)) return "std::bad_alloc";
  const std::string text = error.what();
  const std::string first_line = text.substr(0, text.find('\n'));
  for (const char* mark : {"DefaultCPUAllocator", "CUDA out of memory", "Failed to allocate"}) {
    const auto at = first_line.find(mark);
    if (at != std::string::npos) return first_line.substr(at);
  }
  return "";
}

bool out_of_memory(const std::exception& error) { return !allocation_failure(error).empty(); }

struct Mapping {
  bool (*matches)(const std::exception&);
  int code;
};

// Most specific first; an Error of no other kind is a bug (1).
constexpr Mapping kTable[] = {
    {is<OptionError>, kUsageError},       // a flag's value is unusable
    {is<ImageError>, kImageError},        // a content, style or init image
    {is<WeightsError>, kWeightsError},    // weights missing, unreadable, not a VGG19
    {is<FetchError>, kWeightsError},      // their download failed
    {is<DeviceError>, kDeviceError},      // device or precision not available
    {is<OutputError>, kOutputError},      // an output cannot be written
    {is<ResourceError>, kResourceError},  // not enough memory
    {out_of_memory, kResourceError},      // an allocation failed after the check
};

}  // namespace

int exit_code_for(const std::exception& error) {
  for (const Mapping& mapping : kTable) {
    if (mapping.matches(error)) return mapping.code;
  }
  return kInternalError;
}

int report_error(const std::exception& error) {
  const int code = exit_code_for(error);
  if (const std::string failure = allocation_failure(error); !failure.empty()) {
    spdlog::error(
        "ran out of memory ({}): the run needs more than this process may use (the machine's memory, a cgroup or "
        "Slurm --mem limit, ulimit -v); give a smaller --size or --style-size, --tile auto, or more memory",
        failure);
  } else if (code == kInternalError && !is<Error>(error)) {
    spdlog::error("internal error: {}", error.what());
  } else {
    spdlog::error("{}", error.what());
  }
  return code;
}

}  // namespace stylize::cli
