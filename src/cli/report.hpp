// What the CLI records about a run, for --report (JSON) and --plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "params.hpp"
#include "stylize/core/engine.hpp"

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
  int bit_depth = 8;                   // bits per channel of the output
  std::string color_profile = "sRGB";  // the output's colour profile (--keep-profile)
  std::vector<std::string> styles;
  std::vector<IterationRecord> iterations;
  int iterations_done = 0;
  StopReason stop_reason = StopReason::Finished;
  double seconds = 0;
  LossValues losses;  // of the image written (Result::losses); no terms when no iteration ran
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
  std::string loss_units;  // what the losses are measured in: "tutorial" or "normalized"
  TilePlan tiling;         // at the content's size, one image at a time (Stylizer::plan_tiling)
};

// Peak resident memory of this process so far, in MiB.
double peak_memory_mib();

// Writes the JSON report atomically: the options, the session, and every
// iteration's losses (the total and each term, by name). Throws OutputError.
void write_report(const std::string& path, const CliParams& params, const SessionInfo& session,
                  const std::vector<RunRecord>& runs);

}  // namespace stylize::cli
