// What the CLI records about a run, for --report (JSON), --plot and --sheet.
#pragma once

#include <string>
#include <vector>

#include "stylize/engine.hpp"
#include "stylize/options.hpp"
#include "stylize/weights.hpp"

namespace stylize::cli {

struct IterationRecord {
  int scale = 1;
  int iteration = 0;
  LossValues losses;
  double seconds = 0;
};

// One output image.
struct RunRecord {
  std::string output;
  std::vector<std::string> styles;
  std::vector<IterationRecord> iterations;
  int iterations_done = 0;
  std::string stop_reason;
  double seconds = 0;
};

struct SessionInfo {
  std::string weights_path;
  std::string weights_format;
  std::string convention;
  std::string device;
  std::string precision;
  int threads = 0;
  std::vector<int64_t> network_widths;
  std::string deepest_layer;
};

// Peak resident memory of this process so far, in MiB.
double peak_memory_mib();

// Writes the JSON report atomically. Throws OutputError.
void write_report(const std::string& path, const Options& options, const SessionInfo& session,
                  const std::vector<RunRecord>& runs);

// Loss curves of one run (total, style, content, tv against iteration).
void write_plot(const std::string& path, const RunRecord& run);

std::string to_string(StopReason reason);

// Writes `text` to `path` through a temporary file and a rename. Throws OutputError.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace stylize::cli
