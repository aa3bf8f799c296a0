#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace stylize::cli {

namespace {

std::string format_duration(double seconds) {
  const long total = static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

}  // namespace

ProgressPrinter::ProgressPrinter(int print_every, bool quiet)
    : print_every_(print_every), quiet_(quiet), bar_(!quiet && ::isatty(STDERR_FILENO) == 1) {}

ProgressPrinter::~ProgressPrinter() { clear_bar(); }

void ProgressPrinter::clear_bar() {
  if (!bar_visible_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  bar_visible_ = false;
}

void ProgressPrinter::update(const Progress& p, const std::string& label) {
  update(p, std::vector<std::string>{label});
}

void ProgressPrinter::update(const Progress& p, const std::vector<std::string>& labels) {
  if (quiet_) return;
  interval_seconds_ += p.seconds;
  ++interval_iterations_;
  smoothed_seconds_ = smoothed_seconds_ == 0 ? p.seconds : 0.9 * smoothed_seconds_ + 0.1 * p.seconds;
  const bool last = p.iteration == p.iterations;
  if (print_every_ > 0 && (p.iteration % print_every_ == 0 || last)) {
    clear_bar();
    for (size_t m = 0; m < labels.size(); ++m) {
      const LossValues v = p.values(static_cast<int>(m));
      // The documented, parseable shape: losses before this iteration's update
      // (a batch member's line ends with its output's name).
      std::printf("iter %d/%d  total %.2e  style %.2e  content %.2e  tv %.2e  %.2f s/it%s%s\n", p.iteration,
                  p.iterations, v.total, v.style, v.content, v.tv, interval_seconds_ / interval_iterations_,
                  labels.size() > 1 ? "  " : "", labels.size() > 1 ? labels[m].c_str() : "");
    }
    std::fflush(stdout);
    interval_seconds_ = 0;
    interval_iterations_ = 0;
  }
  if (bar_) draw_bar(p, labels.size() > 1 ? std::to_string(labels.size()) + " styles" : labels.front());
}

void ProgressPrinter::draw_bar(const Progress& p, const std::string& label) {
  const auto now = std::chrono::steady_clock::now();
  const bool last = p.iteration == p.iterations;
  if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  const double fraction = static_cast<double>(p.iteration) / p.iterations;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::string scale;
  if (p.scales > 1) scale = " scale " + std::to_string(p.scale) + "/" + std::to_string(p.scales);
  const double eta = smoothed_seconds_ * (p.iterations - p.iteration);
  std::fprintf(stderr, "\r\033[K%s%s [%s] %d/%d %3.0f%%  %.2f s/it  ETA %s", label.c_str(), scale.c_str(), bar.c_str(),
               p.iteration, p.iterations, 100 * fraction, smoothed_seconds_, format_duration(eta).c_str());
  std::fflush(stderr);
  bar_visible_ = true;
}

}  // namespace stylize::cli
