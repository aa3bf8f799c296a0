#include "stylize/io/image_format.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "stylize/errors.hpp"
#include "stylize/io/icc_container.hpp"

namespace stylize {
namespace {

// What an output format holds, as OpenCV's encoders here write it.
struct OutputFormat {
  const char* name;
  const char* extensions[2];
  int max_bit_depth;
  int64_t max_side;    // pixels, width and height
  uint64_t max_bytes;  // of the uncompressed pixels; 0: no limit below the pixel limit
};

constexpr uint64_t kFourGigabytes = uint64_t{1} << 32;

// JPEG: libjpeg's JPEG_MAX_DIMENSION. WebP: 14-bit sizes. BMP and classic TIFF:
// 32-bit offsets (TIFF's LZW can expand noise, hence half of it).
constexpr OutputFormat kOutputFormats[] = {
    {"PNG", {".png", ""}, 16, INT32_MAX, 0},
    {"TIFF", {".tif", ".tiff"}, 16, INT32_MAX, kFourGigabytes / 2},
    {"JPEG", {".jpg", ".jpeg"}, 8, 65500, 0},
    {"WebP", {".webp", ""}, 8, 16383, 0},
    {"BMP", {".bmp", ""}, 8, INT32_MAX, kFourGigabytes - 1024},
};

const OutputFormat& output_format(const std::string& path, const std::string& what) {
  const std::string ext = image_extension(path);
  for (const OutputFormat& format : kOutputFormats) {
    for (const char* known : format.extensions) {
      if (!ext.empty() && ext == known) return format;
    }
  }
  throw OutputError("cannot write " + what + " '" + path + "': unknown image extension '" + ext +
                    "' (use .png, .jpg, .webp, .tif or .bmp)");
}

bool is_grey(const torch::Tensor& image) {
  const torch::Tensor chw = image.dim() == 4 ? image[0] : image;
  return torch::equal(chw[0], chw[1]) && torch::equal(chw[1], chw[2]);
}

}  // namespace

std::string image_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

void check_output_format(const std::string& path, int64_t width, int64_t height, int bit_depth,
                         const std::string& what) {
  if (bit_depth != 8 && bit_depth != 16) {
    throw OptionError("--bit-depth must be 8 or 16, got " + std::to_string(bit_depth));
  }
  const OutputFormat& format = output_format(path, what);
  const std::string cannot = "cannot write " + what + " '" + path + "': ";
  if (bit_depth > format.max_bit_depth) {
    throw OutputError(cannot + format.name + " holds 8 bits per channel, not " + std::to_string(bit_depth) +
                      "; write .png or .tif for 16 bits, or use --bit-depth 8");
  }
  // An image's size follows --size; a figure's (--plot, --sheet) the number of outputs.
  const std::string smaller = what == "output" ? "use a smaller --size, or " : "";
  if (width > format.max_side || height > format.max_side) {
    throw OutputError(cannot + format.name + " images are at most " + std::to_string(format.max_side) +
                      " pixels on a side, and this one would be " + std::to_string(std::max(width, height)) + "; " +
                      smaller + "write .png or .tif");
  }
  const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(width, 0)) *
                         static_cast<uint64_t>(std::max<int64_t>(height, 0)) * 3 * (bit_depth / 8);
  if (format.max_bytes != 0 && bytes > format.max_bytes) {
    throw OutputError(cannot + "the image would be " + std::to_string(bytes >> 20) + " MB, more than " + format.name +
                      " holds (" + std::to_string(format.max_bytes >> 20) + " MB); " + smaller + "write .png");
  }
}

ImageEncoding choose_output_encoding(const std::string& path, const DecodedImage& content, int bit_depth,
                                     bool keep_profile) {
  if (bit_depth != 0 && bit_depth != 8 && bit_depth != 16) {
    throw OptionError("--bit-depth must be 8 or 16, got " + std::to_string(bit_depth));
  }
  const OutputFormat& format = output_format(path, "output");
  ImageEncoding encoding;
  encoding.bit_depth = bit_depth != 0 ? bit_depth : content.bit_depth > 8 && format.max_bit_depth >= 16 ? 16 : 8;
  if (keep_profile && !content.profile.empty()) {
    const std::string what = "cannot write output '" + path + "' with --keep-profile: ";
    if (!extension_holds_icc_profile(image_extension(path))) {
      throw OutputError(what + format.name + " holds no colour profile; write .png, .jpg, .webp or .tif");
    }
    if (!content.profile.output_problem.empty()) {
      throw OutputError(what + "the content image's profile '" + content.profile.name + "' cannot be used for it (" +
                        content.profile.output_problem + "); drop --keep-profile to write sRGB");
    }
    encoding.profile = content.profile;
  }
  const torch::Tensor& pixels = content.pixels;
  check_output_format(path, pixels.defined() ? pixels.size(-1) : 0, pixels.defined() ? pixels.size(-2) : 0,
                      encoding.bit_depth);
  return encoding;
}

void apply_embedded_profile(const std::string& encoded, const std::string& what, DecodedImage& image) {
  try {
    const std::string icc = read_icc_profile(encoded);
    if (icc.empty()) return;
    ColorProfile profile = parse_color_profile(icc);
    if (profile.gray && !is_grey(image.pixels)) {
      throw ImageError("its ICC profile '" + profile.name + "' is a grayscale profile, but the pixels are in colour");
    }
    image.pixels = convert_to_srgb(image.pixels, profile);
    image.profile = std::move(profile);
  } catch (const ImageError& e) {
    image.warnings.push_back(what + ": " + e.what() + "; ignoring the profile and reading the pixels as sRGB");
  }
}

}  // namespace stylize
