#include "estimate.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace stylize::cli {

IterationTimes::IterationTimes(std::vector<int> sizes) : sizes_(std::move(sizes)), counted_(sizes_.size()) {}

bool IterationTimes::record(int scale, int iteration, double seconds) {
  if (complete_) return false;
  if (scale < 1 || scale > static_cast<int>(sizes_.size())) {
    throw std::logic_error("IterationTimes::record: scale " + std::to_string(scale) + " of " +
                           std::to_string(sizes_.size()));
  }
  const bool is_long = seconds >= kLongIteration;
  if (iteration > 1 || is_long) counted_[static_cast<size_t>(scale - 1)].push_back(seconds);
  const bool last_scale = scale == static_cast<int>(sizes_.size());
  const bool scale_measured = counted_[static_cast<size_t>(scale - 1)].size() >= static_cast<size_t>(kCounted);
  complete_ = is_long || (last_scale && scale_measured);
  return !complete_;
}

int IterationTimes::measured_scales() const {
  int measured = 0;
  while (measured < static_cast<int>(counted_.size()) && !counted_[static_cast<size_t>(measured)].empty()) ++measured;
  return measured;
}

std::vector<double> IterationTimes::per_iteration() const {
  const int measured = measured_scales();
  if (measured == 0) return {};
  std::vector<double> seconds;
  for (size_t s = 0; s < static_cast<size_t>(measured); ++s) {
    std::vector<double> times = counted_[s];
    std::sort(times.begin(), times.end());
    seconds.push_back(times[times.size() / 2]);
  }
  const size_t last = static_cast<size_t>(measured - 1);
  for (size_t s = seconds.size(); s < sizes_.size(); ++s) {
    const double ratio = static_cast<double>(sizes_[s]) / sizes_[last];
    seconds.push_back(seconds[last] * ratio * ratio);
  }
  return seconds;
}

}  // namespace stylize::cli
