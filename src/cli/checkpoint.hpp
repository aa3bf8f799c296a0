// The resume record: beside an image a run saved when it was interrupted, or
// with --save-every, a small JSON file (out.png -> out.png.json) recording the
// iteration reached, which --resume reads; and Adam's state then
// (out.png.adam: its moments and the last iterate, and with --average the
// average), with which a resumed run goes on as if never stopped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "params.hpp"
#include "stylize/core/engine.hpp"

namespace stylize::cli {

// out.png -> out.png.json
std::string checkpoint_path(const std::string& image);

// out.png -> out.png.adam
std::string moments_path(const std::string& image);

// Writes Adam's `state` reached at `iteration` beside `image`, atomically
// (36 bytes a pixel: 9 MB at 512 px; with an average 48). Throws OutputError.
void write_moments(const std::string& image, int iteration, const AdamState& state);

// write_moments, for an image that is saved whether they are or not (resuming
// needs only the image and its record): when they cannot be written (a full
// disk), warns, removes an earlier file of them and returns false.
bool write_moments_or_warn(const std::string& image, int iteration, const AdamState& state);

// The state saved beside `image` at `iteration`; no moments when there are
// none, they cannot be read or they are another iteration's (the last two
// warned about). A file of an older stylize has no average.
AdamState read_moments(const std::string& image, int iteration);

// stylize video's record beside the frames it writes (out/frame_%05d.png ->
// out/.frame_%05d.png.json): what they were made with, and the proof that
// frames named alike there are a stylize run's, which a new run may replace,
// and not the user's own.
std::string frames_record_path(const std::string& pattern);

// Writes it, atomically. Throws OutputError.
void write_frames_record(const std::string& pattern, const VideoParams& video);

// Warns where this run's content, styles, size, objective or video settings
// (--temporal-weight, --temporal-frames, --frame-iterations) differ from the
// record of `pattern`'s frames, if there is one (for --resume).
void warn_where_frames_differ(const std::string& pattern, const VideoParams& video);

// stylize batch's record beside an output it made (out/cat_monet.png ->
// out/.cat_monet.png.json): the settings that made it (size, objective,
// start, iterations, scales, optimizer, output encoding, the weights file's
// name), so that a rerun with others does not take it for done. It is
// written as a job starts on an output not yet done, so that one begun by a
// run killed outright is not resumed with others either.
std::string made_record_path(const std::string& output);

// The weights a record names: the file's name (a cluster's nodes hold it at
// other paths) and its input convention, which --loss-units auto depends on
// ("" when not known).
struct RecordedWeights {
  std::string file_name;
  std::string convention;
};

// The weights a run of `params` reads, before they are read: the file found,
// or the default download's, and its convention from its header (or the
// catalog's). Never throws.
RecordedWeights recorded_weights(const CliParams& params);

// Writes it, atomically. Throws OutputError.
void write_made_record(const std::string& output, const CliParams& params, const RecordedWeights& weights);

// What a run would do with an output that has a record: skip it as done, or
// resume it (an unfinished output, or the --save-every image of a killed run),
// which another -n does not prevent.
enum class MadeState { Done, Begun };

// Where this run's settings differ from those `output`'s record holds
// ("--size 32 (this run: 48), --iterations ..."); "" when they agree or there is no
// record (an output of an older stylize, or made by hand).
std::string made_differences(const std::string& output, const CliParams& params, const RecordedWeights& weights,
                             MadeState state = MadeState::Done);

// A frame of stylize video interrupted within its run, from which --resume
// goes on with that frame: the image it had reached (out/frame_%05d.png ->
// out/.frame_%05d.png.partial.png, 16 bits a channel), its record beside it
// (.json: the frame, the frame's scales, where its run stopped) and Adam's
// state (.adam). One per frame pattern: the frame after the finished ones.
struct PartialFrame {
  int64_t frame = 0;  // 1-based
  int scales = 1;     // of the frame's run
  int scales_done = 0, iteration = 0;
  torch::Tensor image;
  AdamState state;
};

std::string partial_frame_path(const std::string& pattern);

// Writes it (the image, the state, then the record), replacing the one there
// was. Throws OutputError.
void write_partial_frame(const std::string& pattern, const PartialFrame& partial);

// The one saved beside `pattern`'s frames; none when there is none, or when
// it cannot be read (warned about).
std::optional<PartialFrame> read_partial_frame(const std::string& pattern);

// Removes it, if any (its frame is finished, or made again).
void remove_partial_frame(const std::string& pattern);

// Writes the record of `image` (the run's `output`, or one of its --save-every
// images), reached at `iteration` of the scale after `scales_done` by the run
// of `params` with these style images (one output's: with several outputs,
// each has its own), atomically. Throws OutputError.
void write_checkpoint(const std::string& image, int scales_done, int iteration, const CliParams& params,
                      const std::string& output, const std::vector<std::string>& style_paths);

// Warns when `output` has a record beside it: an interrupted run's, which a
// run without --resume starts again.
void warn_if_unfinished(const std::string& output);

// Removes the record of `image` and its moments, if any (a finished image needs none).
void remove_checkpoint(const std::string& image);

// --resume IMAGE: the run continues from IMAGE (the start image) at the scale
// and iteration recorded beside it, writing to the run's output that the
// record names (older records: IMAGE itself) unless -o was given. Throws
// OptionError when the record is missing or malformed, or made by a run with
// another --scales.
void apply_resume(CliParams& params);

// Whether the point a resumed run starts at (StylizeOptions::scales_done,
// start_iteration) lies within its iterations.
bool within_run(const StylizeOptions& options);

// Whether that point is at or past the last iteration of the run's last
// scale: an output saved there is finished as far as this run goes.
bool at_or_past_the_end(const StylizeOptions& options);

// Says that `output`, saved at `options`' resume point, is finished as it is
// (at or past -n), and removes its checkpoint record and moments.
void finish_as_it_is(const std::string& output, const StylizeOptions& options);

// "iteration 300", or coarse to fine "iteration 40 of scale 2/2": where a
// resumed run starts.
std::string resume_point(const StylizeOptions& options);
std::string resume_point(int scales_done, int iteration, int scales);

// "iteration 40/160", coarse to fine "iteration 40/60 of scale 1/2": where a
// run of `options` stopped, with its scale's count. A resumed run can stand
// past an earlier scale's count (a lowered --initial-iterations) until the
// next scale starts: "iteration 74 of scale 1/2, past its 30".
std::string stop_point(const StylizeOptions& options, int scales_done, int iteration);

// `params` (one output, params.output_path, with a checkpoint record beside
// it) going on where an interrupted run stopped: resumed from the record;
// nullopt when the image was saved at or past this run's -n at its last
// scale (its record removed: finished as it is, not thrown away); or, when it
// cannot be resumed (no image, a corrupt record, one of another --scales or
// beyond an earlier scale's count: each warned about), started again with the
// unfinished image and its record removed (killed before its first save, the
// run leaves no unfinished image that looks done). How stylize batch and
// stylize --each-style --resume treat an unfinished output.
std::optional<CliParams> resume_or_restart(CliParams params);

// `params` (one output with no image yet, whose run was killed: SIGKILL, an
// out-of-memory kill, a node lost) going on from the newest of its --save-every
// images (out_0300.png, coarse to fine out_s2_0300.png, with its record)
// where there is one within -n; else `params` unchanged. How stylize batch
// treats a missing output.
CliParams resume_from_snapshot(CliParams params);

// params.output_path's --save-every images that have a record, oldest first
// (by scale, then iteration).
std::vector<std::string> snapshot_images(const CliParams& params);

// The newest --save-every image, or "" when there is none.
std::string newest_snapshot(const CliParams& params);

// Makes params.output_path's job start again from the start, whatever a run
// killed before its first save leaves: removes its unfinished image (one with
// a checkpoint record) with that record and moments, and the records and
// moments of its --save-every images (the images stay), so that nothing is
// left to resume, nor an unfinished image that looks done.
void give_up_unfinished(const CliParams& params);

// The name of an intermediate image: out.png -> out_0100.png (out_s2_0100.png
// in a coarse-to-fine run).
std::string intermediate_path(const std::string& output, int iteration, int scale, int scales);

}  // namespace stylize::cli
