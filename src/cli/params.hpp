// Everything the stylize command line sets: the engine's options, and what only
// the front end reads (paths, the sizes images are loaded at, batches,
// cadence, reports, presets). whisper.cpp's split: the library gets options,
// the CLI keeps the rest.
#pragma once

#include <string>
#include <vector>

#include "stylize/core/options.hpp"

namespace stylize::cli {

struct CliParams {
  StylizeOptions options;  // what the engine reads
  // --scales as given where options.scales is the count of sizes the schedule
  // has (fewer: they fell together, scale_sizes); 0: options.scales is both.
  int scales_given = 0;

  // Inputs and outputs.
  std::string content_path;
  std::vector<std::string> style_paths;    // a folder stands for the images in it
  std::vector<std::string> style_folders;  // the folders expand_style_folders replaced by their images
  std::string output_path = "out.png";
  bool output_given = false;  // -o was given (a resumed run otherwise writes over the image it resumes)
  std::string weights_path;   // empty: $STYLIZE_WEIGHTS, models/, the cache, else a download
  bool offline = false;       // --offline: never download weights
  // Output encoding (choose_output_encoding): bits per channel, 0 for automatic
  // (16 when the content has more than 8 and the format holds 16), and whether
  // the output is converted back into the content image's colour profile.
  int bit_depth = 0;
  bool keep_profile = false;

  // Image sizes, in pixels along the longest side.
  int size = 512;            // content and output
  int style_size = 0;        // 0: style_scale * size
  double style_scale = 1.0;  // style size relative to the output: bigger means bigger brush strokes

  std::vector<double> style_blend;  // one weight per style image (normalized); empty: equal
  // Regional styles (inputs.hpp): a content mask per style, in order, saying
  // where it applies; optionally a style mask per style ("all": the whole
  // image); the style of what no mask covers (empty: it keeps the content).
  std::vector<std::string> content_mask_paths;
  std::vector<std::string> style_mask_paths;
  std::string default_style_path;
  // --init as given: content, noise, style (options.init says which) or the
  // path of an image (options.init == InitMode::Image).
  std::string init = "content";
  std::string resume;  // --resume IMAGE: continue from IMAGE and the iteration recorded beside it

  // Batches: one output per style, named by a template, `batch` styles at a
  // time (0: automatic, Stylizer::plan_batches).
  bool each_style = false;
  std::string output_template = "{content}_{style}.png";  // also {n}
  int batch = 0;

  int threads = 0;             // 0: one per available core
  int print_every = 100;       // 0: never
  int save_every = 0;          // 0: never
  std::string report_path;     // JSON report of the run
  std::string plot_path;       // loss curves as an image
  std::string sheet_path;      // contact sheet of inputs and results
  std::string preset;          // tutorial, gatys or fast; explicit flags override it
  bool gatys_balance = false;  // --preset gatys sets the content weight from the content's size (presets.cpp)
  bool quiet = false;
  bool verbose = false;
  bool estimate = false;  // --estimate: print the memory and time a run needs, run nothing
};

// --scales as given (a setting of the image; options.scales may be the
// schedule's own count).
inline int scales_flag(const CliParams& params) {
  return params.scales_given > 0 ? params.scales_given : params.options.scales;
}

// `params` for a run whose schedule has `sizes` scales: where --scales' sizes
// fell together its scales are counted as that run has them (the engine's
// scales, each position recorded and resumed in them), --scales kept as given.
inline CliParams with_scales_run(CliParams params, size_t sizes) {
  if (static_cast<int>(sizes) < params.options.scales) {
    params.scales_given = scales_flag(params);
    params.options.scales = static_cast<int>(sizes);
  }
  return params;
}

// `stylize batch`: every (content, style) pair of the inputs, one output each,
// the jobs of one shard, claimed so that several workers share the list.
struct BatchParams {
  CliParams run;                      // every stylize flag; the styles are run.style_paths
  std::vector<std::string> contents;  // files and folders
  std::string shard;                  // --shard I/N; empty: from the scheduler's environment (or all jobs)
  bool redo = false;                  // --redo: make again the outputs made with other settings
};

// `stylize video`'s default --temporal-weight (README, "Video", for the
// measurement behind it) and the most previous frames a frame is held to.
constexpr double kDefaultTemporalWeight = 1000.0;
constexpr int kMaxTemporalFrames = 10;

// `stylize video`: every frame of a video stylized with the same styles, each
// frame started from and held to the previous output(s) warped by optical
// flow (README, "Video").
struct VideoParams {
  CliParams run;  // every stylize flag; run.content_path is the video, run.output_path the output
  // Iterations of every frame after the first, which starts from the previous
  // output warped onto it (the first frame gets --iterations).
  int frame_iterations = 200;
  int temporal_frames = 1;   // previous outputs each frame is held to (--temporal-frames; 1: short-term only)
  bool resume = false;       // continue from the first frame not yet on disk
  bool keep_frames = false;  // a video file output: keep the frame images it is encoded from
  std::string codec;         // a FourCC forcing the video codec ("avc1"); empty: by the container
  double fps = 0;            // frame rate of a video file made from frame images (0: the source's, else 25)
};

}  // namespace stylize::cli
