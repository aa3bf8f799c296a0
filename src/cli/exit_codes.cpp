#include "exit_codes.hpp"

#include <spdlog/spdlog.h>

#include "stylize/errors.hpp"

namespace stylize::cli {
namespace {

template <typename E>
bool is(const std::exception& error) {
  return dynamic_cast<const E*>(&error) != nullptr;
}

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
  if (code == kInternalError && !is<Error>(error)) {
    spdlog::error("internal error: {}", error.what());
  } else {
    spdlog::error("{}", error.what());
  }
  return code;
}

}  // namespace stylize::cli
