// Bit depth and colour profile of images read and written, and what each
// output format can hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stylize/io/color_profile.hpp"

namespace stylize {

// An image as read from a file, with what an output made from it needs.
struct DecodedImage {
  torch::Tensor pixels;               // (1, 3, H, W) float32, sRGB, in [0, 1]; alpha flattened over white
  torch::Tensor alpha;                // (1, 1, H, W) float32 in [0, 1] when the file has an alpha channel
  int bit_depth = 8;                  // bits per channel in the file: 8, 16, or 32 (floating point)
  ColorProfile profile;               // the embedded profile the pixels were converted from; empty: sRGB
  std::vector<std::string> warnings;  // for the user, e.g. an unusable profile that was ignored
};

// How save_image writes an sRGB image.
struct ImageEncoding {
  int bit_depth = 8;     // 8, or 16 (PNG and TIFF only)
  ColorProfile profile;  // empty: written as sRGB, tagged with srgb_icc_profile() where the format holds a
                         // profile; else converted from sRGB into this RGB profile and tagged with it
};

// The lower-case extension of a path, with its dot (".png").
std::string image_extension(const std::string& path);

// Checks that an image of width x height pixels at `bit_depth` bits per channel
// fits `path`'s format: 16 bits only in PNG and TIFF, at most 16383 pixels a
// side in WebP and 65500 in JPEG, at most 4 GB in BMP and TIFF. Depends on the
// path and the size only, so a front end calls it before a long run. Throws
// OutputError (and OptionError for a bit depth other than 8 or 16) naming the
// file as `what` ("output", "--plot").
void check_output_format(const std::string& path, int64_t width, int64_t height, int bit_depth,
                         const std::string& what = "output");

// The encoding of an output made from `content`, checked with
// check_output_format. `bit_depth` 0 means automatic: 16 bits when the content
// file had more than 8 and the format holds 16 (PNG, TIFF), else 8.
// `keep_profile` converts the output back into the content's profile and tags
// it with it (a content image without one gives sRGB); it throws OutputError
// when the profile cannot be written into (a grayscale or input-only profile)
// or the format holds no profile (BMP).
ImageEncoding choose_output_encoding(const std::string& path, const DecodedImage& content, int bit_depth,
                                     bool keep_profile);

// Honours the ICC profile embedded in the encoded file `encoded`, whose pixels
// `image` holds as decoded: converts them to sRGB and records the profile. A
// profile that cannot be used (corrupt, CMYK, a grayscale profile on colour
// pixels, ...) is ignored with a warning in `image.warnings` naming `what`: the
// pixels are taken as sRGB, as browsers do.
void apply_embedded_profile(const std::string& encoded, const std::string& what, DecodedImage& image);

}  // namespace stylize
