#include "run_progress.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace stylize::cli {

std::string progress_line(int iteration, int iterations, const LossValues& values, double seconds_per_iteration,
                          double drop) {
  char text[64];
  std::snprintf(text, sizeof text, "iter %d/%d  total %.2e", iteration, iterations, values.total);
  std::string line = text;
  for (const auto& [name, value] : values.terms) {
    std::snprintf(text, sizeof text, "%.2e", value);
    line += "  " + name + " " + text;
  }
  std::snprintf(text, sizeof text, "  %.2f s/it", seconds_per_iteration);
  line += text;
  if (drop >= 0) {
    std::snprintf(text, sizeof text, "  drop %.2f%%", 100 * drop);
    line += text;
  }
  return line;
}

double seconds_left(double seconds_per_iteration, int scale, int iteration, const std::vector<int>& sizes,
                    const std::vector<int>& iterations) {
  const size_t s = static_cast<size_t>(scale - 1);
  double left = seconds_per_iteration * std::max(0, iterations.at(s) - iteration);
  for (size_t later = s + 1; later < sizes.size(); ++later) {
    const double ratio = static_cast<double>(sizes[later]) / sizes[s];
    left += seconds_per_iteration * ratio * ratio * iterations.at(later);
  }
  return left;
}

std::vector<int> iterations_per_scale(const StylizeOptions& options, size_t scales) {
  std::vector<int> iterations;
  for (size_t s = 0; s < scales; ++s) iterations.push_back(scale_iterations(options, s, scales));
  return iterations;
}

void ProgressPrinter::set_schedule(std::vector<int> sizes, const StylizeOptions& options) {
  iterations_ = iterations_per_scale(options, sizes.size());
  sizes_ = std::move(sizes);
}

ProgressPrinter::ProgressPrinter(int print_every, bool quiet)
    : print_every_(print_every), quiet_(quiet), bar_(!quiet) {}

void ProgressPrinter::update(const Progress& p, const std::vector<std::string>& labels) {
  if (quiet_) return;
  interval_seconds_ += p.seconds;
  ++interval_iterations_;
  smoothed_seconds_ = smoothed_seconds_ == 0 ? p.seconds : 0.9 * smoothed_seconds_ + 0.1 * p.seconds;
  const bool last = p.last;
  if (print_every_ > 0 && (p.iteration % print_every_ == 0 || last)) {
    bar_.clear();
    for (size_t m = 0; m < labels.size(); ++m) {
      // The documented, parseable shape: losses before this iteration's update
      // (a batch member's line ends with its output's name).
      const std::string line = progress_line(p.iteration, p.iterations, p.values(static_cast<int>(m)),
                                             interval_seconds_ / interval_iterations_, p.drop);
      // A line of one of several outputs, or of a video's frame, ends with their name.
      const std::string& label = labels[m];
      std::printf("%s%s%s\n", line.c_str(), label.empty() ? "" : "  ", label.c_str());
    }
    std::fflush(stdout);
    interval_seconds_ = 0;
    interval_iterations_ = 0;
  }
  if (!bar_.active()) return;
  std::string label = labels.size() > 1 ? std::to_string(labels.size()) + " styles" : labels.front();
  if (p.scales > 1) label += " scale " + std::to_string(p.scale) + "/" + std::to_string(p.scales);
  // To the run's end where its schedule is known (and is this run's), else the scale's.
  const bool whole_run = sizes_.size() == static_cast<size_t>(p.scales) && iterations_.size() == sizes_.size() &&
                         p.scale >= 1 && iterations_[static_cast<size_t>(p.scale - 1)] == p.iterations;
  const double left = whole_run ? seconds_left(smoothed_seconds_, p.scale, p.iteration, sizes_, iterations_)
                                : smoothed_seconds_ * (p.iterations - p.iteration);
  char detail[96];
  std::snprintf(detail, sizeof detail, "%d/%d  %.2f s/it  ETA %s", p.iteration, p.iterations, smoothed_seconds_,
                format_duration(left).c_str());
  bar_.draw(label, static_cast<double>(p.iteration) / p.iterations, detail, last);
}

}  // namespace stylize::cli
