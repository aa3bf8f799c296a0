// The stylize command itself: from parsed flags to written images, reports and
// an exit code. `stylize batch` (batch_command.cpp) runs each of its jobs
// through the same run_jobs().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "jobs.hpp"
#include "params.hpp"
#include "stylize/io/image_format.hpp"
#include "stylize/weights/weights.hpp"

namespace stylize::cli {

// Runs the command. Returns 0, 7 (numeric failure, the last good image saved)
// or 128 + a signal (interrupted, the current image saved); throws the
// library's errors for everything else (main maps them to exit codes).
int stylize_command(CliParams params);

// --resume with several outputs (--each-style, a style folder): each output
// that has a checkpoint record continues from it (resume_or_restart), one
// without a record is finished and kept, a missing one runs from the start;
// one style at a time.
// params.resume must name one of `jobs`' outputs. Throws OptionError.
int resume_each_output(const CliParams& params, const std::vector<Job>& jobs, int threads);

// The weights a run reads, loaded once (a batch shares them between its jobs).
struct LoadedWeights {
  std::string path;
  VggWeights weights;
};
// Finds (or downloads) and loads the weights `params` need, up to the deepest
// convolution their layers read. Throws WeightsError or FetchError.
LoadedWeights load_weights_for(const CliParams& params);

// Writes `image`, which `path` could not take (a full disk, a removed
// mount), to the temporary folder ($TMPDIR, else /tmp) instead, under a name
// no other rescue has, so that the run's work is not lost; returns what to add
// to the error.
std::string rescue_image(const torch::Tensor& image, const std::string& path, const ImageEncoding& encoding = {});

// `params` with --preset gatys's content weight for a content of height x
// width px (balance_gatys_preset), said when it changes.
CliParams balance_content_weight(const CliParams& params, const VggWeights& weights, int64_t height, int64_t width);

// Runs `jobs` (make_jobs(params), outputs already checked) and writes their
// images, checkpoint records, report, plot and sheet. An image that is not
// finished (interrupted, or stopped by a NaN) gets its checkpoint record
// *before* the image, so that no reader ever takes it for a finished one.
// `still_ours` (when given) is asked after every iteration and before the
// images are written: once it says false the run stops and writes nothing (a
// batch worker lost its claim).
// Returns 0, 7 or 128 + a signal, as stylize_command().
int run_jobs(const CliParams& params, const std::vector<Job>& jobs, const LoadedWeights& weights, int threads,
             const std::function<bool()>& still_ours = {});

// The same with the inputs already read (load_run_inputs(params)).
int run_jobs(const CliParams& params, const std::vector<Job>& jobs, const RunInputs& in, const LoadedWeights& weights,
             int threads, const std::function<bool()>& still_ours = {});

}  // namespace stylize::cli
