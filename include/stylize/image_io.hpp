// Image files in and out. With the video I/O and optical flow (stylize/io/),
// this is the only part of stylize that uses OpenCV.
// In memory an image is a float32 tensor of shape (1, 3, H, W), RGB, in [0, 1].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace stylize {

// Largest image stylize decodes, in pixels (width x height): 2^27, about 134
// megapixels (16384 x 8192). A file whose header claims more is refused with an
// ImageError before memory is allocated for its pixels, so a small hostile
// file (a decompression bomb) cannot exhaust memory.
constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

// Reads any format OpenCV decodes (8- or 16-bit, float, grayscale, with or
// without alpha), applies EXIF orientation, flattens alpha over white, and
// resizes so the longest side is `longest_side` pixels (0: keep the size).
// `role` names the image in errors ("content image"). Throws ImageError.
torch::Tensor load_image(const std::string& path, const std::string& role, int longest_side = 0);

// Decodes an encoded image held in memory (for tests and fuzzing), refusing
// images of more than `max_pixels` pixels. Throws ImageError.
torch::Tensor decode_image(const std::string& bytes, const std::string& display_name,
                           int64_t max_pixels = kMaxImagePixels);

// Checks, before any work is done, that `path` can be written later: a known
// image extension, an existing writable directory. Throws OutputError.
void check_output_path(const std::string& path);

// Writes a (1, 3, H, W) or (3, H, W) tensor in [0, 1] by the path's extension
// (png, jpg, jpeg, webp, tif, tiff, bmp). The file is written to a temporary
// name in the same directory and renamed over `path`, so a failure never
// leaves a half-written file. Throws OutputError.
void save_image(const torch::Tensor& image, const std::string& path);

// True for the file extensions stylize reads as images (used to list a folder of styles).
bool has_image_extension(const std::string& path);

// One curve of a loss plot.
struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

// Draws loss curves (log-scale y) with axes, ticks and a legend, and saves the
// picture like save_image. Throws OutputError.
void save_loss_plot(const std::vector<PlotSeries>& series, const std::string& title, const std::string& path);

// A labelled image for a contact sheet.
struct SheetTile {
  torch::Tensor image;  // (1, 3, H, W) in [0, 1]
  std::string label;
};

// Lays rows of labelled tiles out on a white sheet (each tile scaled to
// `tile_height` pixels) and saves it like save_image. Throws OutputError.
void save_contact_sheet(const std::vector<std::vector<SheetTile>>& rows, const std::string& path,
                        int tile_height = 256);

// Resizes an image tensor so that its longest side is `longest_side`, with
// antialiasing when shrinking. Differentiable; keeps dtype and device.
torch::Tensor resize_longest_side(const torch::Tensor& image, int longest_side);

// Resizes an image tensor to exactly (height, width).
torch::Tensor resize_to(const torch::Tensor& image, int64_t height, int64_t width);

}  // namespace stylize
