// Image files in and out (OpenCV, lcms2 and the ICC container parser behind
// this header; no type of theirs in it). In memory an image is a float32
// tensor of shape (1, 3, H, W), sRGB, in [0, 1].
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "stylize/io/image_format.hpp"

namespace stylize {

// Largest image stylize decodes, in pixels (width x height): 2^27, about 134
// megapixels (16384 x 8192). A file whose header claims more is refused with an
// ImageError before memory is allocated for its pixels, so a small hostile
// file (a decompression bomb) cannot exhaust memory.
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

// Reads any format OpenCV decodes (8- or 16-bit, float, grayscale, with or
// without alpha), applies EXIF orientation, flattens alpha over white (and
// keeps it in DecodedImage::alpha), resizes
// so the longest side is `longest_side` pixels (0: keep the size), and converts
// the pixels to sRGB from the file's ICC profile, if it has one
// (apply_embedded_profile). Returns the pixels with the file's bit depth and
// profile. `role` names the image in errors ("content image"). Throws ImageError.
DecodedImage read_image(const std::string& path, const std::string& role, int longest_side = 0);

// read_image's pixels only.
torch::Tensor load_image(const std::string& path, const std::string& role, int longest_side = 0);

// Checks, before any work, what read_image would find without decoding: that
// `path` is a readable file, not empty, whose first bytes are those of a format
// OpenCV decodes. Throws the ImageError read_image would. (A truncated or
// corrupt image still fails only when read_image decodes it.)
void check_image_file(const std::string& path, const std::string& role);

// Decodes an encoded image held in memory (for tests and fuzzing) like
// read_image, refusing images of more than `max_pixels` pixels. Throws ImageError.
DecodedImage read_image_bytes(const std::string& bytes, const std::string& display_name,
                              int64_t max_pixels = kMaxImagePixels);

// read_image_bytes's pixels only.
torch::Tensor decode_image(const std::string& bytes, const std::string& display_name,
                           int64_t max_pixels = kMaxImagePixels);

// Checks, before any work is done, that `path` can be written later: a known
// image extension, an existing directory in which a file can be created (it
// creates and removes a probe file once), a name with room for the files
// stylize writes beside it (check_writable). Throws OutputError naming the
// file as `what` ("output", "--plot").
void check_output_path(const std::string& path, const std::string& what = "output");

// Writes a (1, 3, H, W) or (3, H, W) sRGB tensor in [0, 1] by the path's
// extension (png, jpg, jpeg, webp, tif, tiff, bmp), at the encoding's bit depth
// (16: PNG and TIFF, straight from float) and in its colour profile, which is
// embedded (sRGB by default; BMP holds none), with write_file_atomically
// (file.hpp), so a failure never leaves a half-written file. Throws OutputError.
void save_image(const torch::Tensor& image, const std::string& path, const ImageEncoding& encoding = {});

// True for the file extensions stylize reads as images (used to list a folder of styles).
bool has_image_extension(const std::string& path);

}  // namespace stylize
