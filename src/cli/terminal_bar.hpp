// The progress bar of the stylize executable, for runs and for downloads:
// redrawn in place on standard error when that is a terminal, never drawn
// otherwise (logs and pipes get plain lines from the callers instead).
#pragma once

#include <chrono>
#include <string>

namespace stylize::cli {

class TerminalBar {
 public:
  // Draws only when `enabled` and standard error is a terminal.
  explicit TerminalBar(bool enabled = true);
  ~TerminalBar();
  TerminalBar(const TerminalBar&) = delete;
  TerminalBar& operator=(const TerminalBar&) = delete;

  // Whether the bar is drawn at all.
  bool active() const { return active_; }
  // Draws "LABEL [########......] 42%  DETAIL" (without the bar and percentage
  // when `fraction` is negative: unknown). Redraws at most every 100 ms unless `force`.
  void draw(const std::string& label, double fraction, const std::string& detail, bool force = false);
  // Erases the bar (before other messages, and at the end).
  void clear();

 private:
  bool active_;
  bool visible_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "1:05" or "1:02:05".
std::string format_duration(double seconds);

// "3 min" or "14.4 h": a long time, as one says it.
std::string rough_duration(double seconds);

// "1 iteration", "2 iterations": the noun in the singular, an s added for any other count.
std::string count_of(int64_t count, const std::string& noun);

}  // namespace stylize::cli
