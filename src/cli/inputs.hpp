// The images a run reads besides its weights, and the names its messages
// give them ("content image", "style image", "content mask 2"): the content,
// the styles, the --init image, and the regional styles' --content-mask,
// --style-mask and --default-style, read into the engine's RegionMasks
// (core/objective.hpp).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "params.hpp"
#include "stylize/core/objective.hpp"
#include "stylize/io/image_format.hpp"

namespace stylize::cli {

// Checks, before the weights are found (perhaps downloaded) and read, that
// every input image of `params` is there and starts as an image format does
// (check_image_file), so that a mistyped path is said at once. Throws
// ImageError as reading it would.
void check_run_inputs(const CliParams& params);

// The --init image alone, when the run starts from one, checked as
// check_run_inputs checks it: `stylize batch` checks it once, before the
// weights and the first job, since every job starts from it.
void check_init_image(const CliParams& params);

// A mask image as (H, W) float32 in [0, 1]: its luminance (white 1, black 0),
// from any image stylize reads. Resized to height x width (area averaging)
// when they are given, after checking that it has that aspect ratio (within
// 2%). `role` names it in errors ("content mask 2"). Throws ImageError for an
// unreadable, misshapen or all-black mask.
torch::Tensor read_mask(const std::string& path, const std::string& role, int64_t height = 0, int64_t width = 0);

// The regions of a run: the content masks at the content's size, the style
// masks at their styles' sizes, and with --default-style that style and the
// mask of what no content mask covers. Empty without --content-mask.
struct Regions {
  RegionMasks masks;
  torch::Tensor default_style;  // undefined without --default-style (or when the masks cover everything)
};

// Reads the masks of `params` for a content of height x width pixels and
// `styles` (as loaded, one per --style). Logs how much of the content no mask
// covers. Throws ImageError.
Regions load_regions(const CliParams& params, int64_t height, int64_t width, const std::vector<torch::Tensor>& styles);

// `styles` and `blend` (one weight per style, or empty; a weight past the
// styles' is --default-style's, and dropped) with the default style of
// `regions` appended, if it has one, with the last --style-weights weight.
void add_default_style(const Regions& regions, const CliParams& params, std::vector<torch::Tensor>& styles,
                       std::vector<double>& blend);

// Reads an input image (converted to sRGB from its colour profile, if it has
// one) and prints what the reader warns about, such as an unusable profile.
DecodedImage read_input(const std::string& path, const std::string& role, int longest_side);

// The style images of `params` at the size the run uses.
std::vector<torch::Tensor> load_styles(const CliParams& params);

// Everything a run of `params` reads besides the weights, read once for the
// run and for --estimate alike. Throws ImageError.
struct RunInputs {
  DecodedImage content;               // at --size
  std::vector<torch::Tensor> styles;  // one per --style, at the style size
  Regions regions;                    // the masks and default style, if any
  torch::Tensor init;                 // the --init (or --resume) image; undefined for the other starts
};
RunInputs load_run_inputs(const CliParams& params);

}  // namespace stylize::cli
