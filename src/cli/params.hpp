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

  // Inputs and outputs.
  std::string content_path;
  std::vector<std::string> style_paths;  // a folder stands for the images in it
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

// `stylize batch`: every (content, style) pair of the inputs, one output each,
// the jobs of one shard, claimed so that several workers share the list.
struct BatchParams {
  CliParams run;                      // every stylize flag; the styles are run.style_paths
  std::vector<std::string> contents;  // files and folders
  std::string shard;                  // --shard I/N; empty: from the scheduler's environment (or all jobs)
};

}  // namespace stylize::cli
