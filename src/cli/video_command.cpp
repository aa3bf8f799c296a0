// `stylize video`: the frames of a video stylized one after the other with the
// same network and style targets (built once), each started from the previous
// output warped onto it by optical flow and held to it by the temporal loss
// term (Ruder, Dosovitskiy and Brox 2016; core/temporal_loss.hpp). Frames are
// written as images as soon as they are done; a video file is encoded from
// them at the end. README, "Video".
#include "video_command.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <optional>
#include <sstream>

#include "args.hpp"
#include "checkpoint.hpp"
#include "exit_codes.hpp"
#include "inputs.hpp"
#include "interrupt.hpp"
#include "jobs.hpp"
#include "run_progress.hpp"
#include "stylize/core/device.hpp"
#include "stylize/core/engine.hpp"
#include "stylize/core/temporal_loss.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/file.hpp"
#include "stylize/io/image_io.hpp"
#include "stylize/io/video_io.hpp"
#include "stylize_command.hpp"
#include "terminal_bar.hpp"

namespace stylize::cli {
namespace fs = std::filesystem;

namespace {

// Where the frames of a run go.
struct FrameTarget {
  std::string pattern;     // frame k's image (numbered from 1)
  std::string video;       // the video file encoded from them at the end; empty: the frames are the output
  std::string folder;      // the folder the frames are in
  ImageEncoding encoding;  // of the frames: --bit-depth and --keep-profile, from the first input frame
};

// Whether `text` is a frame pattern (one number conversion, as in f_%05d).
bool is_frame_pattern(const std::string& text) {
  try {
    FramePattern pattern(text);
    return true;
  } catch (const OptionError&) {
    return false;
  }
}

FrameTarget frame_target(const std::string& output) {
  FrameTarget target;
  // A '%' in a name the frames' pattern is built from (frame_%05d.png inside
  // it) would be read as a conversion, so such names are refused, not misread.
  const auto refuse_percent = [&output](const std::string& name, const std::string& what) {
    if (name.find('%') == std::string::npos) return;
    throw OutputError("cannot write the video to '" + output + "': stylize video takes no '%' in the name of " + what +
                      " (its frames are named by a pattern such as frame_%05d.png); rename it without the '%'");
  };
  const bool video = has_video_extension(output);
  if (!video && has_image_extension(output) && FramePattern::looks_like_pattern(output)) {
    refuse_percent(fs::path(output).parent_path().string(), "the folder of a frame pattern");
    target.pattern = FramePattern(output).pattern();  // throws for a bad pattern
  } else if (video) {
    refuse_percent(output, "a video file");
    target.video = output;
    target.pattern = (fs::path(output + ".frames") / "frame_%05d.png").string();
  } else if (is_frame_pattern(output) && !fs::is_directory(output)) {
    throw OutputError("cannot write the video to '" + output +
                      "': a frame pattern names an image type by its extension, as in out/frame_%05d.png");
  } else if (has_image_extension(output) || (fs::path(output).has_extension() && !fs::is_directory(output))) {
    throw OutputError("cannot write the video to '" + output +
                      "': give a video file (.mp4, .mkv, .m4v, .avi, .webm, .mov), a frame pattern such as "
                      "out/frame_%05d.png, or a folder (one whose name has a dot must exist already)");
  } else {
    refuse_percent(output, "an output folder");
    target.pattern = (fs::path(output) / "frame_%05d.png").string();
  }
  target.folder = fs::path(target.pattern).parent_path().string();
  return target;
}

// Creates the frames' folder and checks, before any work, that the frames and
// the video can be written and that they do not land among the input's frames.
void prepare_target(const FrameTarget& target, const VideoParams& params, OutputFolders& folders) {
  folders.create_for(target.pattern);
  remove_if_stopped_before_the_run(folders);
  std::error_code error;
  // Frames written among the input's frames would overwrite them, or be read as input.
  const std::string& input = params.run.content_path;
  const bool frames_in = FramePattern::looks_like_pattern(input) || fs::is_directory(input, error);
  if (frames_in) {
    const fs::path input_folder = fs::is_directory(input, error) ? fs::path(input) : fs::path(input).parent_path();
    const fs::path in = input_folder.empty() ? fs::path(".") : input_folder;
    const fs::path out = target.folder.empty() ? fs::path(".") : fs::path(target.folder);
    if (fs::equivalent(in, out, error)) {
      throw OutputError("the output frames would be written into the folder of the input frames ('" + in.string() +
                        "'), over them or among them; give -o another folder");
    }
  }
  // The video over the input video, a style image or a mask; or a frame over one of them.
  std::vector<NamedPath> inputs = input_files(params.run);
  inputs.front().what = "the input video";  // the content, as input_files names it
  if (!target.video.empty()) refuse_overlaps({{target.video, "-o"}}, inputs);
  const FramePattern frame_name(fs::path(target.pattern).filename().string());
  const fs::path out = target.folder.empty() ? fs::path(".") : fs::path(target.folder);
  for (const auto& file : inputs) {
    const fs::path folder = fs::path(file.path).parent_path();
    if (frame_name.matches(fs::path(file.path).filename().string()) &&
        fs::equivalent(folder.empty() ? fs::path(".") : folder, out, error)) {
      throw OutputError("the output frames ('" + target.pattern + "') would be written over " + file.what + " ('" +
                        file.path + "'); give -o another folder or pattern");
    }
  }
  // Images named like the frames in a folder without a run's record are the
  // user's (frames FFmpeg extracted, say), whatever their numbers: never
  // replaced, nor removed as an earlier run's. (A video output's own
  // out.mp4.frames/ is stylize's, recorded or not.)
  if (target.video.empty() && !fs::exists(frames_record_path(target.pattern), error)) {
    int64_t alike = 0;
    for (const auto& entry : fs::directory_iterator(out, error)) {
      if (frame_name.matches(entry.path().filename().string())) ++alike;
    }
    if (alike > 0) {
      throw OutputError(out.string() + " holds " + count_of(alike, "image") + " named like '" + frame_name.pattern() +
                        "' that no stylize video run made (a run keeps a record, " +
                        frames_record_path(target.pattern) + ", beside its frames); give -o another folder or pattern");
    }
  }
  check_output_path(FramePattern(target.pattern).path(1));
  if (target.video.empty()) return;
  const std::string& codec = params.codec;
  const std::string stored = check_video_output(target.video, codec, params.fps > 0 ? params.fps : 25.0);
  if (!codec.empty() && !stored.empty() && stored != codec) {
    // Said before the run, not after its frames: the user may want another container.
    spdlog::warn("--codec {}: {} will hold {} instead (FFmpeg does not put {} into {} files)", codec, target.video,
                 stored, codec, image_extension(target.video));
  }
}

// How the frames are written: --bit-depth and --keep-profile as for a still,
// from the first input frame. A video file holds 8-bit sRGB whatever its
// frames hold. Throws OutputError for a frame format that cannot hold it.
ImageEncoding frame_encoding(const FrameTarget& target, const VideoInfo& info, const CliParams& params) {
  if (params.keep_profile && info.profile.empty()) {
    spdlog::info("--keep-profile: the first frame of '{}' has no colour profile; the frames are sRGB",
                 params.content_path);
  }
  DecodedImage first;
  first.bit_depth = info.bit_depth;
  first.profile = info.profile;
  const ImageEncoding encoding =
      choose_output_encoding(FramePattern(target.pattern).path(1), first, params.bit_depth, params.keep_profile);
  if (encoding.bit_depth != 8 || !encoding.profile.empty()) {
    spdlog::info("frames {}: {} bits per channel, colour profile '{}'{}", target.pattern, encoding.bit_depth,
                 encoding.profile.empty() ? "sRGB" : encoding.profile.name,
                 target.video.empty() ? "" : "; the video file " + target.video + " holds 8 bits, sRGB");
  }
  return encoding;
}

// How many frames, from frame 1 on, an earlier run left.
int64_t frames_on_disk(const FramePattern& pattern) {
  int64_t count = 0;
  std::error_code error;
  while (fs::exists(pattern.path(count + 1), error)) ++count;
  return count;
}

// "frames 1-4 are in out/", "frame 1 is in out/" or "no frame was finished".
std::string kept_frames(int64_t count, const FrameTarget& target) {
  const std::string folder = target.folder.empty() ? "." : target.folder;
  if (count <= 0) return "no frame was finished";
  if (count == 1) return "frame 1 is in " + folder;
  return "frames 1-" + std::to_string(count) + " are in " + folder;
}

std::string frame_label(int64_t index, const VideoInfo& info) {
  return "frame " + std::to_string(index) + "/" +
         (info.frame_count > 0 ? (info.frame_count_exact ? "" : "~") + std::to_string(info.frame_count) : "?");
}

// Encodes the frames 1..count of `target` into its video file.
void encode_video(const FrameTarget& target, int64_t count, double fps, const VideoParams& params) {
  const FramePattern pattern(target.pattern);
  std::optional<VideoFileWriter> writer;
  for (int64_t k = 1; k <= count; ++k) {
    const torch::Tensor frame = load_image(pattern.path(k), "output frame " + std::to_string(k));
    if (!writer) {
      writer.emplace(target.video, fps, static_cast<int>(frame.size(3)), static_cast<int>(frame.size(2)), params.codec);
      std::istringstream said(writer->backend_messages());  // OpenCV's and FFmpeg's own warnings
      for (std::string line; std::getline(said, line);) {
        if (!line.empty()) spdlog::debug("{}", line);
      }
    }
    writer->write(frame);
  }
  writer->finish();
  spdlog::info("wrote {} ({}, {:.5g} frames/s, codec {})", target.video, count_of(count, "frame"), fps,
               writer->codec());
  if (params.keep_frames) return;
  // What stylize wrote there (the frames, their record, a partial frame's
  // files), then the folder if that emptied it: a file of the user's stays.
  std::error_code error;
  for (int64_t k = 1; k <= count; ++k) {  // an earlier run's later frames went with this run's first
    if (!fs::remove(pattern.path(k), error) && error) {
      spdlog::warn("could not remove the frame image {}: {}", pattern.path(k), error.message());
    }
  }
  fs::remove(frames_record_path(target.pattern), error);
  remove_partial_frame(target.pattern);
  if (!fs::remove(target.folder, error) && error) {
    spdlog::warn("kept {}: {}", target.folder,
                 error == std::errc::directory_not_empty ? "it holds files stylize did not write" : error.message());
  }
}

// The frames of an earlier run in the target folder: with --resume, frames
// 1..kept, which this run goes on after, and the next one if it was
// interrupted within its run (`unfinished`: this run goes on with it); without,
// `stale` frames that it makes again. Those are removed once this run has made
// its first frame, so that a stop before then loses none of them, and a stop
// after it leaves no earlier frame after this run's own for --resume to go on from.
struct EarlierFrames {
  int64_t kept = 0;
  std::optional<PartialFrame> unfinished;
  int64_t stale = 0;
};

EarlierFrames earlier_frames(const VideoParams& video, const FrameTarget& target, const FramePattern& pattern) {
  EarlierFrames earlier;
  const int64_t on_disk = frames_on_disk(pattern);
  const std::string folder = target.folder.empty() ? "." : target.folder;
  if (!video.resume) {
    if (on_disk > 0) {
      spdlog::warn(
          "{} frame(s) of an earlier run in {} are made again, and removed once the first frame is (--resume "
          "keeps them and goes on)",
          on_disk, folder);
    }
    std::error_code error;
    if (fs::exists(checkpoint_path(partial_frame_path(target.pattern)), error)) {
      spdlog::warn("{} holds a frame an earlier run was stopped in; this run makes it again (--resume goes on with it)",
                   partial_frame_path(target.pattern));
    }
    earlier.stale = on_disk;
    return earlier;
  }
  warn_where_frames_differ(target.pattern, video);
  earlier.kept = on_disk;
  earlier.unfinished = read_partial_frame(target.pattern);
  if (earlier.unfinished && earlier.unfinished->frame != on_disk + 1) {
    spdlog::warn(
        "--resume: {} holds frame {} unfinished, but the frames on disk go on with frame {}: that one "
        "starts from the beginning",
        partial_frame_path(target.pattern), earlier.unfinished->frame, on_disk + 1);
    earlier.unfinished.reset();
  }
  if (on_disk == 0 && !earlier.unfinished) {
    // The frames of a finished video are removed once it is encoded: nothing to go on from.
    std::error_code error;
    if (!target.video.empty() && fs::exists(target.video, error)) {
      throw OptionError("--resume: " + target.video + " is finished (no frames of an unfinished run are in " +
                        target.folder + "); drop --resume to make it again, or give another -o");
    }
    spdlog::warn("--resume: no frames of an earlier run in {}; starting from frame 1", folder);
  }
  return earlier;
}

// The frames the next one is held to (--temporal-frames of them, nearest
// first) and the outputs made of them as written, so that a resumed run (which
// reads them back) makes the same frames. Keeps none for independent frames.
class FrameHistory {
 public:
  explicit FrameHistory(size_t keep) : keep_(keep) {}
  bool kept() const { return keep_ > 0; }
  void add(const torch::Tensor& frame, const torch::Tensor& output) {
    if (keep_ == 0) return;
    frames_.push_front(frame);
    outputs_.push_front(output);
    if (frames_.size() > keep_) {
      frames_.pop_back();
      outputs_.pop_back();
    }
  }
  // The earlier outputs warped onto `frame` (none for the first, or independent frames).
  TemporalGuide guide(const torch::Tensor& frame) const {
    if (keep_ == 0) return {};
    const std::vector<torch::Tensor> frames(frames_.begin(), frames_.end());
    const std::vector<torch::Tensor> outputs(outputs_.begin(), outputs_.end());
    return temporal_guide(frame, frames, outputs);
  }

 private:
  size_t keep_;
  std::deque<torch::Tensor> frames_, outputs_;
};

// What every frame is stylized with.
struct Styling {
  std::vector<torch::Tensor> styles;
  std::vector<double> blend;
  Regions regions;  // one fixed set of region masks for every frame, read at the first frame's size
};

// A frame stylized, and its schedule and speed (its seconds and whether it is
// the first are the caller's to fill in).
struct MadeFrame {
  Result result;
  FrameTiming timing;
};

// Sets the schedule of a frame's run, going on where `unfinished` stopped
// when given and within it (else said why not); returns whether it does.
bool schedule_frame(Stylizer& stylizer, int scales, int iterations, const PartialFrame* unfinished,
                    const std::string& label) {
  if (unfinished) {
    const std::string point = resume_point(unfinished->scales_done, unfinished->iteration, unfinished->scales);
    if (unfinished->scales == scales) {
      try {
        stylizer.set_schedule(scales, iterations, unfinished->scales_done, unfinished->iteration);
        stylizer.resume_adam(unfinished->state);
        spdlog::info("resuming {} from {}", label, point);
        return true;
      } catch (const OptionError&) {
        spdlog::warn("{} was interrupted at {}, not within this run's {} iterations: it starts again", label, point,
                     iterations);
      }
    } else {
      spdlog::warn("{} was interrupted at {}, and this run makes it at {} scale(s): it starts again", label, point,
                   scales);
    }
  }
  stylizer.set_schedule(scales, iterations);
  return false;
}

// Stylizes `frame`: from the earlier outputs warped onto it (`guide`), or,
// given `unfinished`, on from where an interrupted run of it stopped.
MadeFrame stylize_frame(Stylizer& stylizer, const torch::Tensor& frame, const TemporalGuide& guide,
                        const VideoParams& video, const Styling& styling, const std::string& label,
                        ProgressPrinter& printer, const PartialFrame* unfinished) {
  const StylizeOptions& options = video.run.options;
  torch::Tensor start = guide.warped.empty() ? torch::Tensor() : temporal_start(frame, guide);
  // A frame that does not start from the warped previous output (the first;
  // every one of independent frames) runs --iterations, coarse to fine if
  // asked, from itself (from noise under --preset gatys); one that does runs
  // --frame-iterations at one scale (Stylizer::set_schedule says why).
  const int iterations = start.defined() ? video.frame_iterations : options.iterations;
  int scales = 1;
  if (!start.defined()) {
    // As many as the frame's sizes (fewer than --scales where they fell
    // together), the count its unfinished record holds.
    stylizer.set_schedule(options.scales, iterations);
    scales = static_cast<int>(stylizer.schedule(frame, styling.styles).size());
  }
  const int initial = options.initial_iterations;
  MadeFrame made;
  made.timing.scales = scales;
  made.timing.iterations = iterations;
  made.timing.resumed = schedule_frame(stylizer, scales, iterations, unfinished, label);
  if (made.timing.resumed) start = unfinished->image;
  spdlog::debug("{}: {} scale{}, {} iterations{}", label, scales, scales == 1 ? "" : "s", iterations,
                scales > 1 && initial > 0 ? fmt::format(" ({} at the first)", initial) : "");
  StylizeOptions scheduled = options;  // as set_schedule made the Stylizer's
  scheduled.scales = scales;
  scheduled.iterations = iterations;
  printer.set_schedule(stylizer.schedule(frame, styling.styles), scheduled);
  double last_scale_seconds = 0;
  int last_scale_iterations = 0;
  made.result = stylizer.run(
      frame, styling.styles,
      [&](const Progress& p) {
        printer.update(p, {label});
        if (p.scale == p.scales) {
          last_scale_seconds += p.seconds;
          ++last_scale_iterations;
        }
        return interrupt_signal() == 0;
      },
      styling.blend, start, Guides{styling.regions.masks, guide});
  printer.clear_bar();
  made.timing.last_scale_seconds_per_iteration = last_scale_seconds / std::max(1, last_scale_iterations);
  return made;
}

// A frame an earlier run made (frame `index` on disk at `path`), read back
// for the next frame to be held to; it must have this run's size.
torch::Tensor read_made_frame(const std::string& path, int64_t index, const torch::Tensor& frame) {
  torch::Tensor output = load_image(path, "output frame " + std::to_string(index));
  if (output.sizes() != frame.sizes()) {
    throw OptionError("frame " + std::to_string(index) + " on disk (" + path + ") is " +
                      std::to_string(output.size(3)) + "x" + std::to_string(output.size(2)) + " px, this run makes " +
                      std::to_string(frame.size(3)) + "x" + std::to_string(frame.size(2)) +
                      "; resume with the flags of the first run (--size), or drop --resume");
  }
  return output;
}

// Ends a frame's run that stopped (interrupted, or a NaN loss): saves an
// interrupted frame as unfinished where it got anywhere, unless an earlier
// run's frames are still on disk (`earlier_on_disk` of them, which --resume
// would go on after), says so, and returns the exit code; none for a frame
// finished.
std::optional<int> end_stopped_frame(const MadeFrame& made, int64_t index, const FrameTarget& target,
                                     const VideoParams& video, int64_t earlier_on_disk) {
  const bool keep_earlier = earlier_on_disk > 0;
  const Result& result = made.result;
  const int scales = made.timing.scales;
  if (result.stop_reason == StopReason::Interrupted) {
    std::string saved;
    if (!keep_earlier && (result.iterations_done > 0 || result.scales_done > 0)) {
      const std::string point = resume_point(result.scales_done, result.iterations_done, scales);
      try {
        write_frames_record(target.pattern, video);
        write_partial_frame(target.pattern, {index, scales, result.scales_done, result.iterations_done, result.image,
                                             result.adam_state});
        saved = " at " + point + ", saved to go on from there";
      } catch (const OutputError& e) {
        remove_partial_frame(target.pattern);
        spdlog::warn("could not save frame {} at {} ({}); --resume makes it again", index, point, e.what());
      }
    }
    if (keep_earlier) {
      // This run's first frame is not saved over them: --resume goes on with the earlier run's frames.
      spdlog::warn(
          "interrupted in frame {}; no frame of this run was kept, and the earlier run's {}, as they were (run the "
          "same command to start over; with --resume it would go on after them)",
          index, kept_frames(earlier_on_disk, target));
    } else {
      spdlog::warn("interrupted in frame {}{}; {} (go on with the same command and --resume)", index, saved,
                   kept_frames(index - 1, target));
    }
    return interrupted_exit_code(interrupt_signal());
  }
  if (result.stop_reason == StopReason::NumericFailure) {
    spdlog::error(
        "the loss became NaN or infinite in frame {} at iteration {}; {}. Try a lower --lr, --style-weight or "
        "--temporal-weight, or --precision fp32, then --resume",
        index, result.iterations_done + 1, kept_frames(index - 1, target));
    return kNumericError;
  }
  return std::nullopt;
}

// ", about 3 min left" after frame `index` of a video of known length.
std::string time_left(double seconds_per_frame, int64_t index, const VideoInfo& info) {
  if (info.frame_count <= index || seconds_per_frame <= 0) return "";
  return ", about " + format_duration(seconds_per_frame * static_cast<double>(info.frame_count - index)) + " left";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Refuses what stylize video cannot run before anything is read.
void check_video_inputs(VideoParams& video) {
  CliParams& params = video.run;
  if (params.content_path.empty()) {
    throw OptionError(
        "no input video: give --content VIDEO (a video file, a folder of frames or a pattern such as "
        "in/frame_%05d.png)");
  }
  if (params.style_paths.empty()) throw OptionError("no style image: give a painting with --style FILE");
  expand_style_folders(params);
  if (params.each_style) {
    throw OptionError("stylize video blends its styles into one video; give style images, not a folder of them");
  }
  validate_video_params(video);
}

// "temporal consistency from in.mp4: 640x360 px, 120 frames at 25 frames/s"
std::string describe_input(const std::string& name, const VideoInfo& info, bool temporal) {
  return fmt::format("{} from {}: {}x{} px, {}{}", temporal ? "temporal consistency" : "independent frames", name,
                     info.width, info.height,
                     info.frame_count > 0 ? count_of(info.frame_count, "frame") : std::string("unknown frames"),
                     info.fps > 0 ? fmt::format(" at {:.5g} frames/s", info.fps) : "");
}

// Writes frame `index` and drops what it replaces: the unfinished frame's
// save, and (for the first frame) an earlier run's frames 2..`stale`.
void save_frame(const torch::Tensor& image, int64_t index, const FrameTarget& target, int64_t stale) {
  const FramePattern pattern(target.pattern);
  save_image(image, pattern.path(index), target.encoding);
  remove_partial_frame(target.pattern);
  std::error_code ignored;
  for (int64_t k = 2; k <= stale; ++k) fs::remove(pattern.path(k), ignored);
}

// What a run says of its input: its name, what it holds, and the threads.
struct InputSummary {
  std::string name;
  VideoInfo info;
  int threads = 1;
};

// One run of stylize video over its frames, as they are read: each is made
// (or, where an earlier run made it, read back from disk) and written, held
// to the outputs before it.
class VideoRun {
 public:
  VideoRun(const VideoParams& video, const FrameTarget& target, InputSummary input, EarlierFrames earlier,
           Styling styling, const LoadedWeights& weights)
      : video_(video),
        params_(video.run),
        target_(target),
        pattern_(target.pattern),
        input_(std::move(input)),
        earlier_(std::move(earlier)),
        styling_(std::move(styling)),
        weights_(weights),
        printer_(params_.print_every, params_.quiet),
        history_(params_.options.temporal_weight > 0 ? static_cast<size_t>(video.temporal_frames) : 0) {}

  // Takes frame `index` (from 1 on); returns the exit code where the run ends there.
  std::optional<int> take(int64_t index, const torch::Tensor& frame) {
    if (index == 1) start(frame);
    torch::Tensor output;  // as written, for the next frame to be held to
    if (index <= earlier_.kept) {
      output = made_before(index, frame);
    } else if (const std::optional<int> code = make(index, frame, output)) {
      return code;
    }
    finished_ = index;
    history_.add(frame, output);
    if (interrupt_signal() != 0) {
      spdlog::warn("interrupted after frame {}; {} (go on with the same command and --resume)", index,
                   kept_frames(index, target_));
      return interrupted_exit_code(interrupt_signal());
    }
    return std::nullopt;
  }

  // Frames 1..finished() are on disk.
  int64_t finished() const { return finished_; }

 private:
  // At the first frame, whose size --preset gatys's weight and the region masks depend on.
  void start(const torch::Tensor& frame) {
    stylizer_.emplace(balance_content_weight(params_, weights_.weights, frame.size(2), frame.size(3)).options,
                      weights_.weights);
    stylizer_->set_stop_check([] { return interrupt_signal() != 0; });  // between tiles (--tile)
    spdlog::info("device {}, precision {}, {} threads; {}", stylizer_->device().str(),
                 to_string(stylizer_->precision()), input_.threads,
                 describe_input(input_.name, input_.info, params_.options.temporal_weight > 0));
    styling_.regions = load_regions(params_, frame.size(2), frame.size(3), styling_.styles);
    add_default_style(styling_.regions, params_, styling_.styles, styling_.blend);
  }

  // Frame `index`, made by the interrupted run: its output (as written) holds
  // the next frame, if it is one of the last --temporal-frames on disk (the
  // history lets the others go unread: resuming after frame 5000 reads one).
  torch::Tensor made_before(int64_t index, const torch::Tensor& frame) const {
    torch::Tensor output;
    if (history_.kept() && index + video_.temporal_frames > earlier_.kept) {
      output = read_made_frame(pattern_.path(index), index, frame);
    }
    if (index == earlier_.kept) {
      spdlog::info("resuming after frame {} ({} on disk)", index,
                   index == 1 ? std::string("it is") : "frames 1-" + std::to_string(index) + " are");
    }
    return output;
  }

  // Makes frame `index` and writes it (`output`: as written); returns the
  // exit code where its run stopped.
  std::optional<int> make(int64_t index, const torch::Tensor& frame, torch::Tensor& output) {
    const auto frame_started = std::chrono::steady_clock::now();
    const bool next_after_earlier = index == earlier_.kept + 1;
    const PartialFrame* unfinished = next_after_earlier && earlier_.unfinished ? &*earlier_.unfinished : nullptr;
    const std::string label = frame_label(index, input_.info);
    MadeFrame made =
        stylize_frame(*stylizer_, frame, history_.guide(frame), video_, styling_, label, printer_, unfinished);
    const int64_t earlier_on_disk = index == 1 ? earlier_.stale : 0;
    if (const std::optional<int> code = end_stopped_frame(made, index, target_, video_, earlier_on_disk)) return code;
    if (next_after_earlier) write_frames_record(target_.pattern, video_);
    const std::string path = pattern_.path(index);
    try {
      save_frame(made.result.image, index, target_, index == 1 ? earlier_.stale : 0);
    } catch (const OutputError& e) {
      throw OutputError(e.what() + rescue_image(made.result.image, path, target_.encoding));
    }
    if (history_.kept()) output = load_image(path, "output frame " + std::to_string(index));
    // The first frame runs --iterations (coarse to fine), the later ones
    // --frame-iterations from the previous output, or as the first.
    made.timing.seconds = seconds_since(frame_started);
    made.timing.first = index == 1;
    later_seconds_ = later_frame_seconds(made.timing, video_.frame_iterations, history_.kept());
    if (!params_.quiet) say_made(index, label, path, made.timing.seconds);
    return std::nullopt;
  }

  // "frame 3/120 done in 4.2 s -> out/frame_00003.png, about 8 min left", and
  // after the first frame of a new run the --preset fast hint.
  void say_made(int64_t index, const std::string& label, const std::string& path, double seconds) const {
    const VideoInfo& info = input_.info;
    spdlog::info("{} done in {:.1f} s -> {}{}", label, seconds, path, time_left(later_seconds_, index, info));
    const int64_t later_frames = info.frame_count - index;
    if (index == 1 && !video_.resume && later_frames > 0) {
      const std::string hint =
          fast_video_hint(video_, later_frames, later_seconds_ * static_cast<double>(later_frames));
      if (!hint.empty()) spdlog::info("{}", hint);
    }
  }

  const VideoParams& video_;
  const CliParams& params_;
  const FrameTarget& target_;
  const FramePattern pattern_;
  const InputSummary input_;
  const EarlierFrames earlier_;
  Styling styling_;
  const LoadedWeights& weights_;
  std::optional<Stylizer> stylizer_;  // made at the first frame
  ProgressPrinter printer_;
  FrameHistory history_;
  double later_seconds_ = 0;  // a later frame's, for the ETA: measured, or estimated from the first
  int64_t finished_ = 0;
};

}  // namespace

double later_frame_seconds(const FrameTiming& frame, int later_iterations, bool from_previous) {
  const double per_iteration = frame.last_scale_seconds_per_iteration;
  if (!frame.resumed) return from_previous && frame.first ? per_iteration * later_iterations : frame.seconds;
  if (from_previous) return per_iteration * later_iterations;
  return frame.scales == 1 ? per_iteration * frame.iterations : 0;
}

int video_command(VideoParams video) {
  CliParams& params = video.run;
  check_video_inputs(video);
  const int threads = configure_threads(params.threads);
  keep_freed_cpu_memory();

  FrameTarget target = frame_target(params.output_path);
  OutputFolders folders;  // removed again if still empty at the end: a failed start leaves none
  prepare_target(target, video, folders);
  std::unique_ptr<FrameSource> source = open_frame_source(params.content_path, params.size);
  const VideoInfo info = source->info();
  if (info.left_after_gap > 0) {
    spdlog::warn(
        "{}: its numbers stop after frame {}; {} matching it after the gap {} left out (number the frames "
        "without gaps to stylize them all)",
        source->name(), info.frame_count, count_of(info.left_after_gap, "file"),
        info.left_after_gap == 1 ? "is" : "are");
  }
  target.encoding = frame_encoding(target, info, params);
  EarlierFrames earlier = earlier_frames(video, target, FramePattern(target.pattern));
  Styling styling{load_styles(params), params.style_blend, {}};
  const LoadedWeights weights = load_weights_for(params);  // from here on a signal stops the run
  VideoRun run(video, target, {source->name(), info, threads}, std::move(earlier), std::move(styling), weights);
  int64_t index = 0;
  const auto started = std::chrono::steady_clock::now();
  try {
    while (std::optional<torch::Tensor> frame = source->next()) {
      index = source->frames_read();
      if (const std::optional<int> code = run.take(index, *frame)) return *code;
    }
  } catch (const Error&) {
    // The frame being read or made when the error came (said next).
    if (run.finished() > 0) {
      spdlog::error("stopped at frame {} by the error below; {} (--resume goes on from there)", run.finished() + 1,
                    kept_frames(run.finished(), target));
    }
    throw;
  }
  spdlog::info("{} in {:.1f} s", count_of(index, "frame"), seconds_since(started));
  if (!info.frame_count_exact && info.frame_count > index) {
    // A file cut short decodes like one that ends: only its header tells.
    spdlog::warn(
        "{} ended after frame {} of the {} its header gives: the file may be truncated or damaged; the {} made are "
        "kept{}",
        source->name(), index, info.frame_count, count_of(index, "frame"), target.video.empty() ? "" : " and encoded");
  }
  if (!target.video.empty()) {
    const double fps = video.fps > 0 ? video.fps : info.fps > 0 ? info.fps : 25.0;
    encode_video(target, index, fps, video);
  }
  return kOk;
}

int video_main(int argc, char** argv) {
  VideoParams params;
  CLI::App app;
  build_video_parser(app, params);
  if (const auto code = parse_command_line(app, params.run, argc, argv)) return *code;
  finish_video_parse(app, params);
  return video_command(std::move(params));
}

}  // namespace stylize::cli
