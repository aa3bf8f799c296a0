// ICC colour profiles (through Little CMS 2). stylize works in sRGB: pixels of
// an image with an embedded profile are converted to sRGB when it is read, and
// an output is either tagged sRGB or converted back into the content image's
// profile (--keep-profile).
//
// Intent: relative colorimetric with black-point compensation, both ways. For
// the matrix/TRC profiles photos and displays use (Display P3, Adobe RGB,
// ProPhoto, camera profiles) lcms2 has only colorimetric tables, so every
// intent gives the same result; relative colorimetric keeps each colour that
// sRGB can show exactly where it is, so input -> sRGB -> input returns the
// input's colours (up to rounding), and colours outside sRGB are clipped to its
// gamut. Perceptual tables, where a LUT profile has them, compress the whole
// gamut instead and would shift in-gamut colours on the way back.
// Black-point compensation maps the profile's black to sRGB's black (a no-op
// for profiles whose black is zero).
#pragma once

#include <string>

#include <torch/types.h>

namespace stylize {

// A colour profile read from an image file. Empty: no profile, the pixels are sRGB.
struct ColorProfile {
  std::string icc;             // the profile's bytes, as embedded in the file
  std::string name;            // its description, e.g. "Display P3" ("sRGB" when empty)
  bool gray = false;           // a grayscale profile (it applies to grey pixels only)
  std::string output_problem;  // why images cannot be converted into it; "" when they can

  bool empty() const { return icc.empty(); }
};

// Parses and checks an ICC profile: lcms2 must read it, it must describe RGB or
// grey colours, and a transform from it to sRGB must exist. Throws ImageError
// saying what is wrong (without naming the file: the caller does).
ColorProfile parse_color_profile(const std::string& icc);

// lcms2's sRGB profile (cmsCreate_sRGBProfile, ICC v4, 588 bytes), the profile
// outputs are tagged with.
const std::string& srgb_icc_profile();

// Converts a float (1, 3, H, W) or (3, H, W) CPU image in [0, 1] from `profile`
// to sRGB, clipped to [0, 1]. An empty profile, or srgb_icc_profile() itself,
// returns the image unchanged. A gray profile reads the first channel (the
// caller checks that the pixels are grey). Throws ImageError when lcms2 cannot
// build the transform.
torch::Tensor convert_to_srgb(const torch::Tensor& image, const ColorProfile& profile);

// Converts a float sRGB image in [0, 1] into `profile` (an RGB profile with an
// empty output_problem), clipped to [0, 1]; unchanged for an empty profile or
// srgb_icc_profile(). Throws OutputError otherwise.
torch::Tensor convert_from_srgb(const torch::Tensor& image, const ColorProfile& profile);

}  // namespace stylize
