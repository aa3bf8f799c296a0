#include "stylize_command.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "args.hpp"
#include "checkpoint.hpp"
#include "estimate.hpp"
#include "exit_codes.hpp"
#include "figures.hpp"
#include "inputs.hpp"
#include "interrupt.hpp"
#include "jobs.hpp"
#include "report.hpp"
#include "run_progress.hpp"
#include "sizes.hpp"
#include "stylize/core/device.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/core/loss_units.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image_format.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"
#include "stylize/vgg19_layers.hpp"
#include "stylize/weights/weights.hpp"
#include "terminal_bar.hpp"
#include "weights_source.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

namespace {

// Consecutive jobs that run as one batch: with --each-style (and not resuming),
// as Stylizer::plan_batches groups their styles; otherwise one job at a time.
std::vector<std::vector<size_t>> group_jobs(const std::vector<Job>& jobs, const CliParams& params,
                                            const Stylizer& stylizer, const torch::Tensor& content,
                                            const std::vector<torch::Tensor>& styles) {
  if (params.each_style && params.resume.empty()) {
    std::vector<torch::Tensor> job_styles;
    for (const auto& job : jobs) job_styles.push_back(styles[job.styles.front()]);
    const BatchPlan plan = stylizer.plan_batches(content, job_styles, params.batch);
    if (params.batch > 1 && params.options.tolerance > 0) {
      spdlog::warn("--batch {}: with --tolerance each style runs alone (each run ends on its own loss's plateau)",
                   params.batch);
    } else if (params.batch > 1 && plan.fits < plan.wanted) {
      spdlog::warn("--batch {}: only {} images of {}x{} fit in memory at once; running {} at a time", params.batch,
                   plan.fits, content.size(3), content.size(2), plan.fits);
    }
    return plan.batches;
  }
  std::vector<std::vector<size_t>> groups;
  for (size_t j = 0; j < jobs.size(); ++j) groups.push_back({j});
  return groups;
}

// The encoding of every image a job writes (the result, intermediate images,
// the image saved when interrupted), chosen once from the content image.
// Throws OutputError for a format that cannot hold it.
std::vector<ImageEncoding> choose_encodings(const std::vector<Job>& jobs, const CliParams& params,
                                            const DecodedImage& content) {
  if (params.keep_profile && content.profile.empty()) {
    spdlog::info("--keep-profile: the content image '{}' has no colour profile; the output is sRGB",
                 params.content_path);
  }
  std::vector<ImageEncoding> encodings;
  for (const auto& job : jobs) {
    encodings.push_back(choose_output_encoding(job.output, content, params.bit_depth, params.keep_profile));
    const ImageEncoding& encoding = encodings.back();
    if (encoding.bit_depth != 8 || !encoding.profile.empty()) {
      spdlog::info("{}: {} bits per channel, colour profile '{}'", job.output, encoding.bit_depth,
                   encoding.profile.empty() ? "sRGB" : encoding.profile.name);
    }
  }
  return encodings;
}

// "1000 iterations", or with coarse to fine "220 iterations over 2 scales
// (60 + 160 at 256, 512 px)". `sizes`: the schedule's longest sides.
std::string describe_iterations(const StylizeOptions& options, const std::vector<int>& sizes) {
  const std::vector<int> per_scale = iterations_per_scale(options, sizes.size());
  const int total = std::accumulate(per_scale.begin(), per_scale.end(), 0);
  if (sizes.size() < 2) return count_of(total, "iteration");
  return fmt::format("{} iterations over {} scales ({} at {} px)", total, sizes.size(), fmt::join(per_scale, " + "),
                     fmt::join(sizes, ", "));
}

// Coarse to fine: the schedule differs from the flags when the first scale
// had to be larger (every image must reach the deepest layer) or sizes fell
// together; said, not silently changed.
void note_schedule(const StylizeOptions& options, const std::vector<int>& sizes) {
  if (options.scales < 2) return;
  const char* reason = "the smallest size at which the content and every style still reach the deepest layer";
  if (options.min_size > 0 && sizes.front() > options.min_size) {
    spdlog::info("--min-size {} is raised to {} px: {}", options.min_size, sizes.front(), reason);
  } else if (options.min_size == 0 && sizes.size() > 1) {
    const int halved = std::max(1, sizes.back() >> (options.scales - 1));
    if (sizes.front() > halved) {
      spdlog::info("the first scale is {} px, not {} (--size / 2^{}): {}", sizes.front(), halved, options.scales - 1,
                   reason);
    }
  }
  if (static_cast<int>(sizes.size()) < options.scales) {
    if (sizes.size() == 1) {
      spdlog::info("--scales {} gives one size, {} px", options.scales, sizes.front());
    } else {
      spdlog::info("--scales {} gives {} different sizes from {} to {} px", options.scales, sizes.size(), sizes.front(),
                   sizes.back());
    }
  }
}

// The tiling, and for a --tile N whose tiles with their halo are about as
// large as the image, that it only costs time (measured: --tile 64 at 256x192
// px, 82 s against 9 s, for 1% less memory).
void log_tiling(const TilePlan& plan, int64_t height, int64_t width, int requested_tile) {
  if (plan.style_tile > 0 && plan.tile == 0) {
    spdlog::info(
        "the largest style image's targets are computed in {} tiles owning {} px each: whole, that pass would not "
        "fit in the memory there is (exact, and done once; estimated peak memory {:.2f} GiB)",
        plan.style_tiles, plan.style_tile, plan.bytes / (1 << 30));
  } else if (plan.style_tile > 0) {
    spdlog::info(
        "the style images' targets are computed {}, not in the image's tiles: that fits in the memory "
        "there is, and is faster (exact, and done once)",
        plan.style_tiles == 1 ? std::string("whole")
                              : fmt::format("in {} tiles owning {} px each", plan.style_tiles, plan.style_tile));
  }
  if (plan.tile == 0) return;
  spdlog::info("{}x{} px in {} tiles owning {} px each, plus a {} px halo (exact; estimated peak memory {:.2f} GiB)",
               width, height, plan.tiles, plan.tile, plan.halo, plan.bytes / (1 << 30));
  const int64_t cut = plan.tile + 2 * plan.halo;
  if (requested_tile != kAutoTile && 2 * std::min(height, cut) * std::min(width, cut) >= height * width) {
    spdlog::warn(
        "--tile {}: a tile with its {} px halo covers half the image or more, so tiles save little memory "
        "and every iteration takes several times longer; --tile 0 runs it whole (tiles pay off on images "
        "several times larger than {} px a side)",
        requested_tile, plan.halo, cut);
  }
}

// A folder or a video given as the content: what the commands for those are.
void refuse_content_for_another_command(const std::string& content) {
  std::error_code error;
  if (fs::is_directory(content, error)) {
    throw ImageError("--content '" + content +
                     "' is a folder: stylize repaints one image. For every image in it use stylize batch -c " +
                     content + " ...; for its frames as one video, stylize video -c " + content + " ...");
  }
  if (has_video_extension(content)) {
    throw ImageError("--content '" + content + "' is a video (" + image_extension(content) +
                     "): stylize repaints one image; stylize video -c " + content + " -s ... makes a styled video");
  }
}

// --estimate's first line, on standard output: the run's peak memory, with
// what to ask a cluster for it.
void print_peak_memory(double bytes, int64_t height, int64_t width, const Stylizer& stylizer) {
  const double mib = bytes / (1024.0 * 1024.0);
  const long long gib = static_cast<long long>(std::ceil(mib / 1024.0));
  std::printf("peak memory: %.1f MiB for %lldx%lld px in %s on %s (sbatch --mem=%lldG, a pod's memory: %lldGi)\n", mib,
              static_cast<long long>(width), static_cast<long long>(height), to_string(stylizer.precision()).c_str(),
              stylizer.device().str().c_str(), gib, gib);
  std::fflush(stdout);
}

// --estimate's second line: the run's time from the seconds per iteration of
// its scales `times` measured (the larger ones extrapolated, said why).
void print_time(const IterationTimes& times, const std::vector<int>& sizes, const StylizeOptions& options,
                int threads) {
  const std::vector<double> per_scale = times.per_iteration();
  const std::vector<int> iterations = iterations_per_scale(options, sizes.size());
  double total = 0;
  for (size_t s = 0; s < sizes.size(); ++s) {
    total += per_scale[s] * iterations[s];
    spdlog::debug("scale {}/{} ({} px): {:.4f} s per iteration", s + 1, sizes.size(), sizes[s], per_scale[s]);
  }
  const int measured = times.measured_scales();
  std::string how = "measured here";
  if (measured < static_cast<int>(sizes.size())) {
    const size_t last = static_cast<size_t>(measured - 1);
    how = fmt::format("extrapolated by pixel count from scale {} ({} px) measured here", measured, sizes[last]);
    spdlog::info(
        "an iteration at {} px took {:.0f} s, so the larger scales are not run: their time is that one's times "
        "their pixel count (tiled scales take somewhat more)",
        sizes[last], per_scale[last]);
  }
  // The seconds for scripts, and a long time as one says it.
  const std::string roughly = total >= 120 ? " (" + rough_duration(total) + ")" : "";
  std::printf("time: %.4f s per iteration at this size, %s with %d thread(s): about %.0f s%s for %s\n",
              per_scale.back(), how.c_str(), threads, total, roughly.c_str(),
              describe_iterations(options, sizes).c_str());
}

// --estimate: the peak memory the run checks before it starts (README,
// "Memory"), and the seconds per iteration measured over a few iterations of
// each scale here, or of the scales up to the first whose iterations take
// long (IterationTimes). Writes no file.
int print_estimate(const CliParams& given, const LoadedWeights& loaded, int threads) {
  const RunInputs in = load_run_inputs(given);
  const torch::Tensor& content = in.content.pixels;
  const int64_t height = content.size(2), width = content.size(3);
  const CliParams params = balance_content_weight(given, loaded.weights, height, width);
  StylizeOptions probe = params.options;
  probe.iterations = IterationTimes::kProbeIterations;
  probe.initial_iterations = 0;
  probe.scales_done = 0;
  probe.start_iteration = 0;
  Stylizer stylizer(probe, loaded.weights);
  // What the first job runs (every job of --each-style has one style).
  std::vector<torch::Tensor> styles = in.styles;
  std::vector<double> blend = params.each_style ? std::vector<double>{} : params.style_blend;
  if (params.each_style) styles.resize(1);
  add_default_style(in.regions, params, styles, blend);
  // The memory is the largest of any job's: each computes its style targets first.
  std::vector<torch::Tensor> every_style = styles;
  every_style.insert(every_style.end(), in.styles.begin(), in.styles.end());
  const TilePlan plan = stylizer.plan_tiling(height, width, 1, every_style);
  log_tiling(plan, height, width, params.options.tile);
  print_peak_memory(plan.bytes, height, width, stylizer);
  if (plan.style_bytes > 0 && plan.style_bytes >= plan.bytes) {
    spdlog::info(
        "the peak is in computing the largest style image's targets, which needs more than the iterations do: a "
        "smaller --style-size lowers it");
  }
  // The memory is what a job elsewhere needs (a login node sizing a cluster
  // job may have less): a run that does not fit here is not timed, and that
  // is no failure.
  try {
    stylizer.check_memory(height, width, 1, every_style);
  } catch (const ResourceError& e) {
    spdlog::warn("the time is not measured: {}", e.what());
    return kOk;
  }
  // Coarse to fine: every scale is timed, for its own share of the
  // iterations, until an iteration takes long (estimate.hpp).
  const std::vector<int> sizes = stylizer.schedule(content, styles);
  note_schedule(params.options, sizes);
  IterationTimes times(sizes);
  stylizer.run(
      content, styles,
      [&times](const Progress& p) { return interrupt_signal() == 0 && times.record(p.scale, p.iteration, p.seconds); },
      blend, in.init, Guides{in.regions.masks, {}});
  if (interrupt_signal() != 0) {
    spdlog::warn("interrupted before the time was measured");
    return interrupted_exit_code(interrupt_signal());
  }
  if (times.measured_scales() == 0) {
    spdlog::warn("the time is not measured: the run stopped before an iteration was timed");
    return kOk;
  }
  print_time(times, sizes, params.options, threads);
  return kOk;
}

// Says how the run of `job` ended; returns its exit code: 0, 7 (NaN, the last
// good image saved) or 128 + the signal (interrupted, the current image
// saved, with its checkpoint record). `in_batch`: a stylize batch worker,
// which goes on with the job by itself.
int report_outcome(const Result& result, const Job& job, const CliParams& params, const torch::Tensor& content,
                   bool in_batch, double seconds) {
  const int iterations = params.options.iterations;
  // An earlier scale's image (a coarse-to-fine run stopped there) is smaller than the content: said.
  const std::string at_scale =
      result.image.size(3) != content.size(3) || result.image.size(2) != content.size(2)
          ? fmt::format(" at {}x{}, the size of the scale it was on", result.image.size(3), result.image.size(2))
          : "";
  const auto at_iteration = [&](int iteration) { return stop_point(params.options, result.scales_done, iteration); };
  const std::string where = at_iteration(result.iterations_done);
  switch (result.stop_reason) {
    case StopReason::Interrupted:
      if (in_batch) {
        // stylize batch resumes its unfinished jobs by itself.
        spdlog::warn(
            "interrupted at {}; saved the current image to {}{} (run the same stylize batch command to go on: it "
            "resumes this job and skips the finished ones)",
            where, job.output, at_scale);
      } else {
        spdlog::warn("interrupted at {}; saved the current image to {}{} (continue with --resume {})", where,
                     job.output, at_scale, job.output);
      }
      return interrupted_exit_code(interrupt_signal());
    case StopReason::NumericFailure:
      spdlog::error(
          "the loss became NaN or infinite at {}; saved the last good image to {}{} with its checkpoint record. "
          "Try a lower --lr or lower weights (--style-weight, --content-weight, --tv-weight){}",
          at_iteration(result.iterations_done + 1), job.output, at_scale,
          params.options.precision == Precision::Fp32 ? "" : ", or --precision fp32");
      return kNumericError;
    case StopReason::Converged:
      if (params.options.optimizer == OptimizerKind::Lbfgs) {
        spdlog::info("L-BFGS converged after {} of {} iterations; wrote {}", result.iterations_done, iterations,
                     job.output);
      } else {
        spdlog::info("the loss levelled off (--tolerance {}) after {} of {} iterations; wrote {}",
                     params.options.tolerance, result.iterations_done, iterations, job.output);
      }
      return kOk;
    case StopReason::Finished:
      break;
  }
  const std::string loss = result.losses.terms.empty() ? "" : fmt::format(", loss {:.2e}", result.losses.total);
  spdlog::info("wrote {} ({:.1f} s{})", job.output, seconds, loss);
  return kOk;
}

// A resumed run goes on with Adam's moments saved beside the image it resumes
// from (one output, Adam); returns whether there were any.
bool resume_adam_moments(const CliParams& params, size_t jobs, Stylizer& stylizer) {
  const StylizeOptions& o = params.options;
  const bool resumed_later = o.start_iteration > 0 || o.scales_done > 0;
  if (params.resume.empty() || !resumed_later || jobs != 1 || o.optimizer != OptimizerKind::Adam) return false;
  AdamState state = read_moments(params.resume, o.start_iteration);
  if (state.moments.empty()) {
    std::error_code error;
    if (!fs::exists(moments_path(params.resume), error)) {
      spdlog::info(
          "no Adam moments were saved with {} (of --save-every's images only the newest keeps them; else an older "
          "stylize, or a disk too full for them): Adam's moments start again",
          params.resume);
    }
    return false;
  }
  stylizer.resume_adam(std::move(state));
  return true;
}

// After a run given the moments of resume_adam_moments: whether they were used.
void say_whether_moments_fitted(const Result& result, const CliParams& params) {
  const bool went_on =
      result.scales_done > params.options.scales_done || result.iterations_done > params.options.start_iteration;
  if (!went_on) return;
  if (result.moments_restored) {
    spdlog::debug("went on with the Adam moments saved with {}", params.resume);
  } else {
    spdlog::warn("the Adam moments saved with {} do not fit this run (another --size or --pyramid): they started again",
                 params.resume);
  }
}

// A --save-every image of batch member `member`, with its record and Adam's
// state; only the newest image keeps the state (36 bytes a pixel, 48 with
// --average): `newest` names it, and the state of the image `--save-every`
// iterations before goes too (a resumed run's first image replaces the one it
// resumed from). One that cannot be written (a full disk) is warned about,
// and the run goes on: it is not the result, whose save can still go to the
// temporary folder. Nothing of it is left without its record.
void save_snapshot(const Progress& p, int member, const Job& job, const CliParams& params,
                   const ImageEncoding& encoding, const std::vector<std::string>& style_paths, std::string& newest) {
  const std::string path = intermediate_path(job.output, p.iteration, p.scale, p.scales);
  try {
    save_image(p.image.narrow(0, member, 1), path, encoding);
    if (p.adam_state && write_moments_or_warn(path, p.iteration, p.adam_state(member))) {
      std::error_code ignored;
      if (!newest.empty()) fs::remove(moments_path(newest), ignored);
      if (p.iteration > params.save_every) {
        fs::remove(moments_path(intermediate_path(job.output, p.iteration - params.save_every, p.scale, p.scales)),
                   ignored);
      }
      newest = path;
    }
    write_checkpoint(path, p.scale - 1, p.iteration, params, job.output, style_paths);
    spdlog::debug("saved {}", path);
  } catch (const OutputError& e) {
    std::error_code ignored;
    fs::remove(path, ignored);
    fs::remove(moments_path(path), ignored);
    if (newest == path) newest.clear();
    spdlog::warn("{}; the run goes on without this intermediate image", e.what());
  }
}

// Writes the image a job ended with. An unfinished one (interrupted, or
// stopped by a NaN loss) gets its record first, so that no unfinished image
// looks finished (README, "On a cluster"), and an interrupted one Adam's
// moments last: the largest file, and one resuming can do without, it comes
// after the image on a disk that has room for one of them only; a finished
// one needs no record.
void save_result(const Result& result, const Job& job, const CliParams& params, const ImageEncoding& encoding,
                 const std::vector<std::string>& style_paths) {
  const bool unfinished =
      result.stop_reason == StopReason::Interrupted || result.stop_reason == StopReason::NumericFailure;
  const bool moments = result.stop_reason == StopReason::Interrupted && !result.adam_state.moments.empty();
  if (unfinished) {
    std::error_code ignored;
    if (!moments) fs::remove(moments_path(job.output), ignored);
    write_checkpoint(job.output, result.scales_done, result.iterations_done, params, job.output, style_paths);
  }
  try {
    save_image(result.image, job.output, encoding);
  } catch (const OutputError& e) {
    throw OutputError(e.what() + rescue_image(result.image, job.output, encoding));
  }
  if (moments) write_moments_or_warn(job.output, result.iterations_done, result.adam_state);
  if (!unfinished) remove_checkpoint(job.output);
}

// The set-up a run's log and report give, said: device, precision, threads, units, tiles.
SessionInfo describe_session(const LoadedWeights& loaded, const Stylizer& stylizer, int threads,
                             const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                             int requested_tile) {
  const VggWeights& weights = loaded.weights;
  const SessionInfo session{loaded.path,
                            weights.format,
                            weights.convention.name,
                            stylizer.device().str(),
                            to_string(stylizer.precision()),
                            threads,
                            stylizer.network().widths(),
                            stylizer.network().deepest_layer(),
                            to_string(stylizer.loss_units()),
                            stylizer.plan_tiling(content.size(2), content.size(3), 1, styles)};
  spdlog::debug("weights {} ({}, {} convention), network up to {}", loaded.path, weights.format,
                weights.convention.name, session.deepest_layer);
  spdlog::info("device {}, precision {}, {} threads; losses in {} units", session.device, session.precision, threads,
               session.loss_units);
  log_tiling(session.tiling, content.size(2), content.size(3), requested_tile);
  return session;
}

// The styles of a group of jobs as Stylizer::run and run_batch take them:
// every job's in order (one per member with --each-style), the blend of one
// job's several, --default-style's last; and each member's progress label.
struct GroupStyles {
  std::vector<torch::Tensor> styles;
  std::vector<double> blend;
  std::vector<std::string> labels;
  std::vector<int> sizes;  // of the scales, which the members share (group_jobs)
};

// Says what each job of `group` runs, starts its record, and gathers the group's styles.
GroupStyles start_group(const std::vector<size_t>& group, const std::vector<Job>& jobs, const CliParams& params,
                        const RunInputs& in, const Stylizer& stylizer, const std::vector<ImageEncoding>& encodings,
                        std::vector<RunRecord>& records) {
  const torch::Tensor& content = in.content.pixels;
  GroupStyles group_styles;
  for (size_t j : group) {
    const Job& job = jobs[j];
    std::vector<std::string> job_style_paths;
    std::vector<torch::Tensor> job_styles;
    for (size_t i : job.styles) {
      group_styles.styles.push_back(in.styles[i]);
      job_styles.push_back(in.styles[i]);
      job_style_paths.push_back(params.style_paths[i]);
      if (!params.style_blend.empty() && !params.each_style) group_styles.blend.push_back(params.style_blend[i]);
    }
    const std::vector<int> sizes = stylizer.schedule(content, job_styles);
    spdlog::info("stylizing {} ({}x{}) with {}: {} -> {}", params.content_path, content.size(3), content.size(2),
                 fmt::join(job_style_paths, ", "), describe_iterations(params.options, sizes), job.output);
    note_schedule(params.options, sizes);
    group_styles.sizes = sizes;
    records[j].output = job.output;
    records[j].bit_depth = encodings[j].bit_depth;
    if (!encodings[j].profile.empty()) records[j].color_profile = encodings[j].profile.name;
    records[j].styles = job_style_paths;
    group_styles.labels.push_back(jobs.size() > 1 ? job.label : "");
  }
  add_default_style(in.regions, params, group_styles.styles, group_styles.blend);
  if (group.size() > 1) spdlog::info("running these {} styles as one batch", group.size());
  return group_styles;
}

// The side outputs of the jobs done (--sheet, --plot, --report), after the
// images. Their failure (checked writable before the run, so only e.g. a full
// disk) keeps the images: it says so, and returns 6.
int write_side_outputs(const CliParams& params, const SessionInfo& session, const std::vector<Job>& jobs,
                       const RunInputs& in, const std::vector<torch::Tensor>& results,
                       const std::vector<RunRecord>& records) {
  int exit_code = kOk;
  const size_t done = records.size();
  const auto write_side_output = [&](const std::string& what, const std::string& path, const auto& write) {
    try {
      write();
      spdlog::info("wrote {} {}", what, path);
    } catch (const OutputError& error) {
      spdlog::error("{} not written: {}; the image{} written before it {} kept", what, error.what(),
                    done == 1 ? "" : "s", done == 1 ? "is" : "are");
      exit_code = kOutputError;
    }
  };
  if (!params.sheet_path.empty()) {
    write_side_output("contact sheet", params.sheet_path, [&] {
      std::vector<std::vector<SheetTile>> rows;
      for (size_t j = 0; j < results.size(); ++j) {
        std::vector<SheetTile> row = {
            {in.content.pixels, "content: " + fs::path(params.content_path).filename().string()}};
        for (size_t i : jobs[j].styles) {
          row.push_back({in.styles[i], "style: " + fs::path(params.style_paths[i]).filename().string()});
        }
        row.push_back({results[j], "result: " + jobs[j].label});
        rows.push_back(row);
      }
      save_contact_sheet(rows, params.sheet_path);
    });
  }
  if (!params.plot_path.empty() && !records.empty()) {
    write_side_output("loss plot", params.plot_path, [&] { write_plot(params.plot_path, records); });
  }
  if (!params.report_path.empty()) {
    write_side_output("report", params.report_path,
                      [&] { write_report(params.report_path, params, session, records); });
  }
  return exit_code;
}

}  // namespace

std::string rescue_image(const torch::Tensor& image, const std::string& path, const ImageEncoding& encoding) {
  static int rescues = 0;
  std::vector<fs::path> folders;
  std::error_code error;
  const fs::path temporary = fs::temp_directory_path(error);
  if (!error) folders.push_back(temporary);
  if (temporary != "/tmp") folders.emplace_back("/tmp");
  std::string failure;
  for (const fs::path& folder : folders) {
    fs::path rescued;
    do {
      // At most 200 bytes of the name's stem: the folder must take the whole (255 bytes on Linux).
      const fs::path name = fs::path(path).filename();
      rescued = folder / ("stylize-rescued-" + std::to_string(::getpid()) + "-" + std::to_string(++rescues) + "-" +
                          name.stem().string().substr(0, 200) + name.extension().string());
    } while (fs::exists(rescued, error));
    try {
      save_image(image, rescued.string(), encoding);
      return "; the image was saved to " + rescued.string() +
             " instead (move it where it belongs; $TMPDIR chooses that folder)";
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  return failure.empty() ? "" : "; saving it to the temporary folder failed too (" + failure + ")";
}

CliParams balance_content_weight(const CliParams& params, const VggWeights& weights, int64_t height, int64_t width) {
  const LossUnits units = resolve_loss_units(params.options.loss_units, weights.convention.name);
  const int relu4_2 = vgg19_layers()[static_cast<size_t>(vgg19_layer_index("relu4_2"))].conv;
  const int64_t channels = relu4_2 < static_cast<int>(weights.convs.size()) ? weights.convs[relu4_2].out_channels : 0;
  CliParams balanced = balance_gatys_preset(params, height, width, channels, units);
  if (balanced.options.content_weight != params.options.content_weight) {
    spdlog::info("--preset gatys: content weight {:.6g} (the paper's alpha/beta = 1e-3 at {}x{} px)",
                 balanced.options.content_weight, width, height);
  }
  return balanced;
}

int stylize_command(CliParams params) {
  if (params.content_path.empty() && params.style_paths.empty()) {
    throw OptionError(
        "no content image and no style image; usage: stylize --content PHOTO --style PAINTING [-o out.png] "
        "(stylize --help lists every flag; stylize batch, video and weights have their own --help)");
  }
  if (params.content_path.empty()) {
    throw OptionError("no content image: give the photo to stylize with --content FILE");
  }
  if (params.style_paths.empty()) {
    throw OptionError("no style image: give a painting with --style FILE (or a folder of them)");
  }
  refuse_content_for_another_command(params.content_path);
  expand_style_folders(params);
  // With several outputs each continues from its own record (resume_each_output).
  const bool resume_each = !params.resume.empty() && params.each_style;
  if (!params.resume.empty() && !resume_each) {
    apply_resume(params);
    const StylizeOptions& o = params.options;
    if (!within_run(o)) {
      // Saved at or past this run's last iteration: the output itself is
      // finished as it is (as stylize batch finishes it); a snapshot into
      // another output is refused (validate says how to go on).
      if (!params.estimate && same_file(params.resume, params.output_path) && at_or_past_the_end(o)) {
        finish_as_it_is(params.output_path, o);
        return kOk;
      }
      validate(o);
    }
    spdlog::info("resuming from {} at {}", params.resume,
                 o.scales > 1 ? resume_point(o) : fmt::format("iteration {} of {}", o.start_iteration, o.iterations));
  }
  validate_params(params);
  check_run_inputs(params);
  const int threads = configure_threads(params.threads);
  keep_freed_cpu_memory();
  if (params.estimate) return print_estimate(params, load_weights_for(params), threads);
  const std::vector<Job> jobs = make_jobs(params);
  OutputFolders folders;  // removed again if still empty at the end: a failed start leaves none
  check_outputs(jobs, params, folders);
  if (resume_each) return resume_each_output(params, jobs, threads);
  if (params.resume.empty()) {
    for (const Job& job : jobs) warn_if_unfinished(job.output);
  }
  // Read before the weights: an image that cannot be decoded is said before
  // they load, and a pipe that never delivers is stopped by Ctrl-C (from the
  // weights on, a signal only asks the run to stop between iterations).
  const RunInputs in = [&params] {
    const StopWhileReading stop;
    return load_run_inputs(params);
  }();
  return run_jobs(params, jobs, in, load_weights_for(params), threads);
}

int resume_each_output(const CliParams& params, const std::vector<Job>& jobs, int threads) {
  if (std::none_of(jobs.begin(), jobs.end(), [&](const Job& job) { return same_file(job.output, params.resume); })) {
    throw OptionError("--resume '" + params.resume +
                      "' is not one of this run's outputs (named by --output-template '" + params.output_template +
                      "'); give one of them: every output then continues from its own record");
  }
  if (!params.report_path.empty() || !params.plot_path.empty() || !params.sheet_path.empty()) {
    throw OptionError(
        "--report, --plot and --sheet describe one run, and --resume with several styles continues each output on its "
        "own; leave them out");
  }
  const LoadedWeights loaded = load_weights_for(params);
  for (const Job& job : jobs) {
    CliParams one = params;
    one.style_paths = {params.style_paths[job.styles.front()]};
    one.each_style = false;
    one.output_path = job.output;
    one.output_given = true;
    one.resume.clear();
    std::error_code error;
    const bool has_image = fs::exists(job.output, error), has_record = fs::exists(checkpoint_path(job.output), error);
    if (has_image && !has_record) {
      spdlog::info("{} is finished (it has no checkpoint record); kept", job.output);
      continue;
    }
    if (has_record) {  // as stylize batch goes on with a job
      std::optional<CliParams> resumed = resume_or_restart(std::move(one));
      if (!resumed) continue;
      one = std::move(*resumed);
    }
    const int code = run_jobs(one, make_jobs(one), loaded, threads);
    if (code != kOk) return code;
  }
  return kOk;
}

LoadedWeights load_weights_for(const CliParams& params) {
  LoadedWeights loaded;
  loaded.path = find_or_download_weights(params.weights_path, params.offline, params.quiet);
  // From here on a signal stops the run and saves what it reached (a download
  // before this point stops at once).
  install_interrupt_handlers();
  const int convs = convs_needed(make_objective(params.options, LossUnits::Tutorial).layers());
  loaded.weights = load_vgg19_weights(loaded.path, convs);
  return loaded;
}

namespace {

// What a run reports to for one group of jobs, at every iteration: the scale
// line, the progress, the --preset fast hint, each member's history and
// --save-every images; it says to go on while no signal came and the jobs are
// still this worker's. Passed by reference (std::ref): run_jobs reads lost().
class GroupProgress {
 public:
  // `hint_seconds`: the time of the first group's iterations 2-10, for
  // fast_preset_hint; -1 for none (a batch worker's log, or given already).
  GroupProgress(const CliParams& params, const std::vector<Job>& jobs, const std::vector<size_t>& group,
                const std::vector<ImageEncoding>& encodings, const std::vector<std::string>& labels,
                const std::function<bool()>& still_ours, ProgressPrinter& printer, std::vector<RunRecord>& records,
                double& hint_seconds)
      : params_(params),
        jobs_(jobs),
        group_(group),
        encodings_(encodings),
        labels_(labels),
        still_ours_(still_ours),
        printer_(printer),
        records_(records),
        hint_seconds_(hint_seconds),
        keep_history_(!params.report_path.empty() || !params.plot_path.empty()),
        newest_snapshots_(group.size()) {}

  bool operator()(const Progress& p) {
    if (p.scale != scale_shown_ && p.scales > 1) {
      printer_.clear_bar();
      spdlog::info("scale {}/{}: {}x{}", p.scale, p.scales, p.image.size(3), p.image.size(2));
      scale_shown_ = p.scale;
    }
    printer_.update(p, labels_);
    time_for_hint(p);
    if (still_ours_ && !still_ours_()) lost_ = true;
    if (lost_) return false;  // not even an intermediate image
    const bool last = p.iteration == p.iterations;
    for (size_t m = 0; m < group_.size(); ++m) {
      RunRecord& record = records_[group_[m]];
      if (keep_history_) record.iterations.push_back({p.scale, p.iteration, p.values(static_cast<int>(m)), p.seconds});
      if (params_.save_every > 0 && p.iteration % params_.save_every == 0 && !last) {
        save_snapshot(p, static_cast<int>(m), jobs_[group_[m]], params_, encodings_[group_[m]], record.styles,
                      newest_snapshots_[m]);
      }
    }
    return interrupt_signal() == 0;
  }

  // still_ours() said no, after an iteration or now: another worker took the
  // jobs over, and nothing is written.
  bool lost() {
    if (still_ours_ && !still_ours_()) lost_ = true;
    return lost_;
  }

 private:
  void time_for_hint(const Progress& p) {
    if (hint_seconds_ < 0 || p.iteration <= 1) return;  // the first iteration warms up
    hint_seconds_ += p.seconds;
    if (p.iteration != 10) return;
    const std::string hint = fast_preset_hint(params_, hint_seconds_ / 9);
    if (!hint.empty() && !params_.quiet) {
      printer_.clear_bar();
      spdlog::info("{}", hint);
    }
    hint_seconds_ = -1;
  }

  const CliParams& params_;
  const std::vector<Job>& jobs_;
  const std::vector<size_t>& group_;
  const std::vector<ImageEncoding>& encodings_;
  const std::vector<std::string>& labels_;
  const std::function<bool()>& still_ours_;
  ProgressPrinter& printer_;
  std::vector<RunRecord>& records_;
  double& hint_seconds_;
  bool keep_history_;
  int scale_shown_ = 0;
  std::vector<std::string> newest_snapshots_;  // each member's, with Adam's moments
  bool lost_ = false;
};

// What run_jobs has made so far: each job's record and image, in job order.
struct JobsMade {
  std::vector<RunRecord> records;
  std::vector<torch::Tensor> images;
  size_t count = 0;
};

// Records and writes each result of `group`; returns kOk, or the exit code of
// the last result that is not a success.
int save_group(const std::vector<Result>& group_results, const std::vector<size_t>& group, double seconds,
               const std::vector<Job>& jobs, const CliParams& params, const std::vector<ImageEncoding>& encodings,
               const torch::Tensor& content, bool moments_given, bool batch_worker, JobsMade& made) {
  const Result& first = group_results.front();
  if (first.stop_reason == StopReason::Interrupted && first.iterations_done == 0 && first.scales_done == 0 &&
      params.options.start_iteration == 0 && params.options.scales_done == 0) {
    // Stopped while its targets were computed (in tiles), before any iteration: nothing to keep.
    spdlog::warn("interrupted before the first iteration; nothing was written for {}", jobs[group.front()].output);
    return interrupted_exit_code(interrupt_signal());
  }
  int exit_code = kOk;
  for (size_t m = 0; m < group.size(); ++m) {
    const Job& job = jobs[group[m]];
    const Result& result = group_results[m];
    RunRecord& record = made.records[group[m]];
    record.iterations_done = result.iterations_done;
    record.stop_reason = result.stop_reason;
    record.seconds = seconds;
    record.losses = result.losses;
    made.images[group[m]] = result.image;
    ++made.count;
    if (moments_given) say_whether_moments_fitted(result, params);
    save_result(result, job, params, encodings[group[m]], record.styles);
    const int code = report_outcome(result, job, params, content, batch_worker, record.seconds);
    if (code != kOk) exit_code = code;
  }
  return exit_code;
}

}  // namespace

int run_jobs(const CliParams& given, const std::vector<Job>& jobs, const LoadedWeights& loaded, int threads,
             const std::function<bool()>& still_ours) {
  return run_jobs(given, jobs, load_run_inputs(given), loaded, threads, still_ours);
}

int run_jobs(const CliParams& given, const std::vector<Job>& jobs, const RunInputs& in, const LoadedWeights& loaded,
             int threads, const std::function<bool()>& still_ours) {
  const VggWeights& weights = loaded.weights;
  const DecodedImage& content_image = in.content;
  const torch::Tensor& content = content_image.pixels;
  const CliParams params = balance_content_weight(given, weights, content.size(2), content.size(3));
  Stylizer stylizer(params.options, weights);
  stylizer.set_stop_check([] { return interrupt_signal() != 0; });  // between tiles (--tile)
  const SessionInfo session = describe_session(loaded, stylizer, threads, content, in.styles, params.options.tile);
  // Every style large enough, named by its file, before any job runs (the
  // run says it by its place in a batch: "style image 2 of 2" for a folder's
  // fourth, and the batch's other styles were lost).
  for (size_t i = 0; i < in.styles.size(); ++i) {
    stylizer.check_style_size(in.styles[i], "style image '" + params.style_paths[i] + "'");
  }
  if (in.regions.default_style.defined()) {
    stylizer.check_style_size(in.regions.default_style, "--default-style '" + params.default_style_path + "'");
  }

  const std::vector<ImageEncoding> encodings = choose_encodings(jobs, params, content_image);

  if (interrupt_signal() != 0) {
    spdlog::warn("interrupted before the first iteration; nothing was written");
    return interrupted_exit_code(interrupt_signal());
  }
  const bool moments_given = resume_adam_moments(params, jobs.size(), stylizer);
  ProgressPrinter printer(params.print_every, params.quiet);
  int exit_code = kOk;
  JobsMade made{std::vector<RunRecord>(jobs.size()), std::vector<torch::Tensor>(jobs.size())};
  double hint_seconds = still_ours ? -1 : 0;  // a batch worker's log gets no hint
  for (const auto& group : group_jobs(jobs, params, stylizer, content, in.styles)) {
    const GroupStyles group_styles = start_group(group, jobs, params, in, stylizer, encodings, made.records);
    const CliParams run = with_scales_run(params, group_styles.sizes.size());
    printer.set_schedule(group_styles.sizes, run.options);
    const auto started = std::chrono::steady_clock::now();
    GroupProgress progress(run, jobs, group, encodings, group_styles.labels, still_ours, printer, made.records,
                           hint_seconds);
    const ProgressCallback callback = std::ref(progress);
    const std::vector<Result> group_results =
        group.size() > 1 ? stylizer.run_batch(content, group_styles.styles, callback, in.init)
                         : std::vector<Result>{stylizer.run(content, group_styles.styles, callback, group_styles.blend,
                                                            in.init, Guides{in.regions.masks, {}})};
    printer.clear_bar();
    hint_seconds = -1;  // timed on the first group only
    if (progress.lost()) {
      spdlog::warn("stopped without saving: another process took over {}", jobs[group.front()].output);
      break;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    exit_code = save_group(group_results, group, seconds, jobs, run, encodings, content, moments_given,
                           static_cast<bool>(still_ours), made);
    if (exit_code != kOk) break;
  }
  made.records.resize(made.count);
  made.images.resize(made.count);

  const int side_outputs = write_side_outputs(params, session, jobs, in, made.images, made.records);
  return exit_code != kOk ? exit_code : side_outputs;
}

}  // namespace stylize::cli
