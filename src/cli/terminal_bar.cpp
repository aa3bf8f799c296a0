#include "terminal_bar.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace stylize::cli {

TerminalBar::TerminalBar(bool enabled) : active_(enabled && ::isatty(STDERR_FILENO) == 1) {}

TerminalBar::~TerminalBar() { clear(); }

void TerminalBar::draw(const std::string& label, double fraction, const std::string& detail, bool force) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && visible_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string line = "\r\033[K" + label;
  if (fraction >= 0) {
    constexpr int kWidth = 30;
    const double clamped = std::min(1.0, fraction);
    std::string bar(static_cast<size_t>(clamped * kWidth), '#');
    bar.resize(kWidth, '.');
    char percent[16];
    std::snprintf(percent, sizeof percent, " %3.0f%%", 100 * clamped);
    line += (label.empty() ? "[" : " [") + bar + "]" + percent;
  }
  std::fputs((line + "  " + detail).c_str(), stderr);
  std::fflush(stderr);
  visible_ = true;
}

void TerminalBar::clear() {
  if (!visible_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  visible_ = false;
}

std::string count_of(int64_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

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

std::string rough_duration(double seconds) {
  char text[32];
  if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%.0f min", seconds / 60);
  } else {
    std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
  }
  return text;
}

}  // namespace stylize::cli
