// Image files in and out (OpenCV behind this header; no OpenCV type in it).
// In memory an image is a float32 tensor of shape (1, 3, H, W), RGB, in [0, 1].
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace stylize {

// Largest image stylize decodes, in pixels (width x height): 2^27, about 134
// megapixels (16384 x 8192). A file whose header claims more is refused with an
// ImageError before memory is allocated for its pixels, so a small hostile
// file (a decompression bomb) cannot exhaust memory.
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

// Largest image file stylize reads, in bytes (1 GiB: an uncompressed 16-bit
// RGB TIFF of kMaxImagePixels is 768 MiB). Reading stops there, so an endless
// input (/dev/zero, a pipe) is refused instead of filling memory.
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

// Reads any format OpenCV decodes (8- or 16-bit, float, grayscale, with or
// without alpha), applies EXIF orientation, flattens alpha over white, and
// resizes so the longest side is `longest_side` pixels (0: keep the size).
// `role` names the image in errors ("content image"). Throws ImageError, also
// for a file of more than `max_bytes`.
torch::Tensor load_image(const std::string& path, const std::string& role, int longest_side = 0,
                         uint64_t max_bytes = kMaxImageFileBytes);

// Decodes an encoded image held in memory (for tests and fuzzing), refusing
// images of more than `max_pixels` pixels. Throws ImageError.
torch::Tensor decode_image(const std::string& bytes, const std::string& display_name,
                           int64_t max_pixels = kMaxImagePixels);

// Checks, before any work is done, that `path` can be written later: a known
// image extension, not a directory, an existing directory in which a file can
// be created (check_writable, file.hpp). `what` names it in errors ("plot").
// Throws OutputError.
void check_output_path(const std::string& path, const std::string& what = "output");

// Writes a (1, 3, H, W) or (3, H, W) tensor in [0, 1] by the path's extension
// (png, jpg, jpeg, webp, tif, tiff, bmp) with write_file_atomically (file.hpp),
// so a failure never leaves a half-written file. Throws OutputError.
void save_image(const torch::Tensor& image, const std::string& path);

// True for the file extensions stylize reads as images (used to list a folder of styles).
bool has_image_extension(const std::string& path);

}  // namespace stylize
