// Regional styles from the command line: --content-mask, --style-mask and
// --default-style read into the engine's RegionMasks (core/objective.hpp).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "params.hpp"
#include "stylize/core/objective.hpp"

namespace stylize::cli {

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

// `styles` and `blend` (one weight per style, or empty) with the default style
// of `regions` appended, if it has one, with the last --style-weights weight.
void add_default_style(const Regions& regions, const CliParams& params, std::vector<torch::Tensor>& styles,
                       std::vector<double>& blend);

}  // namespace stylize::cli
