#include "inputs.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "sizes.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image.hpp"
#include "stylize/io/image_io.hpp"

namespace stylize::cli {
namespace {

// How messages name the inputs, as they are read and as they are checked.
constexpr char kContent[] = "content image", kStyle[] = "style image", kInit[] = "init image",
               kDefaultStyle[] = "default style";
std::string content_mask(size_t i) { return "content mask " + std::to_string(i + 1); }
std::string style_mask(size_t i) { return "style mask " + std::to_string(i + 1); }

}  // namespace

DecodedImage read_input(const std::string& path, const std::string& role, int longest_side) {
  DecodedImage image = read_image(path, role, longest_side);
  for (const auto& warning : image.warnings) spdlog::warn("{}", warning);
  if (!image.profile.empty()) {
    spdlog::debug("{} '{}': {}-bit, colour profile '{}', converted to sRGB", role, path, image.bit_depth,
                  image.profile.name);
  }
  return image;
}

std::vector<torch::Tensor> load_styles(const CliParams& params) {
  const int style_size = style_side(params);
  std::vector<torch::Tensor> styles;
  for (const auto& path : params.style_paths) styles.push_back(read_input(path, kStyle, style_size).pixels);
  return styles;
}

RunInputs load_run_inputs(const CliParams& params) {
  RunInputs in;
  in.content = read_input(params.content_path, kContent, params.size);
  const torch::Tensor& content = in.content.pixels;
  in.styles = load_styles(params);
  in.regions = load_regions(params, content.size(2), content.size(3), in.styles);
  if (params.options.init == InitMode::Image) {
    in.init = read_input(params.init, kInit, 0).pixels;
    // (A coarse-to-fine run resumes from an image of the size of its scale.)
    const bool at_its_scale = !params.resume.empty() && params.options.scales > 1;
    if (!at_its_scale && (in.init.size(2) != content.size(2) || in.init.size(3) != content.size(3))) {
      spdlog::warn("the {} image {} is {}x{}, the content {}x{}; it is stretched to the content's size",
                   params.resume.empty() ? "--init" : "--resume", params.init, in.init.size(3), in.init.size(2),
                   content.size(3), content.size(2));
    }
  }
  return in;
}

void check_run_inputs(const CliParams& params) {
  check_image_file(params.content_path, kContent);
  for (const auto& path : params.style_paths) check_image_file(path, kStyle);
  check_init_image(params);
  for (size_t i = 0; i < params.content_mask_paths.size(); ++i) {
    check_image_file(params.content_mask_paths[i], content_mask(i));
  }
  for (size_t i = 0; i < params.style_mask_paths.size(); ++i) {
    if (params.style_mask_paths[i] != "all") {
      check_image_file(params.style_mask_paths[i], style_mask(i));
    }
  }
  if (!params.default_style_path.empty()) check_image_file(params.default_style_path, kDefaultStyle);
}

void check_init_image(const CliParams& params) {
  if (params.options.init != InitMode::Image) return;
  std::error_code error;
  if (!std::filesystem::path(params.init).has_extension() && !std::filesystem::exists(params.init, error)) {
    // A misspelt mode ("nois") rather than a missing image.
    throw OptionError("--init '" + params.init +
                      "' is neither a start the run knows (content, noise or style) nor an image file; give one of "
                      "those, or the path of an image");
  }
  check_image_file(params.init, kInit);
}

torch::Tensor read_mask(const std::string& path, const std::string& role, int64_t height, int64_t width) {
  const DecodedImage image = read_input(path, role, 0);
  const torch::Tensor& pixels = image.pixels;
  const int64_t h = pixels.size(2), w = pixels.size(3);
  if (height > 0 && width > 0) {
    // 2%, and the image's rounding to whole pixels at this run's size: up to
    // half a pixel a side, 3% on a side of 17 px (a 1000x23 mask was refused
    // for its own 1000x23 image at 720x17).
    const double aspect = static_cast<double>(w) / h, wanted = static_cast<double>(width) / height;
    if (std::abs(aspect / wanted - 1.0) > 0.02 + 1.0 / static_cast<double>(std::min(height, width))) {
      // The image is at the run's size here, not its file's: its shape is what to name.
      throw ImageError(fmt::format(
          "{} '{}' is {}x{} px, {:.2f} times as wide as high, but the image it masks is {:.2f} times as wide as high "
          "({}x{} px at this run's size): a mask must have that image's shape (draw it over the image; any size "
          "of that shape will do)",
          role, path, w, h, aspect, wanted, width, height));
    }
  }
  torch::Tensor mask = luminance_image(pixels).narrow(1, 0, 1);  // (1, 1, h, w)
  if (pixels.size(1) == 3 && (pixels.amax(1) - pixels.amin(1)).max().item<double>() > 8.0 / 255) {
    // A mask drawn in colours (one per region) would be read as shades of gray.
    spdlog::warn(
        "{} '{}' is in colour: it is read by brightness alone (white: the style applies; gray: partly; "
        "black: not), so colours of the same brightness are the same to it; draw each region in white on "
        "black, one mask per style",
        role, path);
  }
  if (image.alpha.defined()) {
    // A selection saved as transparency: what is transparent is not selected.
    mask = mask * image.alpha;
    spdlog::info("{} '{}' has transparency: its transparent parts count as black (no style there)", role, path);
  }
  if (height > 0 && width > 0) mask = resize_to(mask, height, width);
  mask = mask.clamp(0.0, 1.0).squeeze(0).squeeze(0).contiguous();
  if (mask.max().item<double>() < 0.5 / 255) {
    // A content mask says where on the content a style applies; a style
    // mask, where on the style image its statistics are taken from.
    const bool on_style = role.rfind("style", 0) == 0;
    throw ImageError(role + " '" + path + "' is black everywhere: " +
                     (on_style ? "no part of its style image would be used. White marks the part to take the style from"
                               : "no pixel would get its style. White marks where it applies"));
  }
  return mask;
}

Regions load_regions(const CliParams& params, int64_t h, int64_t w, const std::vector<torch::Tensor>& styles) {
  Regions regions;
  if (params.content_mask_paths.empty()) return regions;
  torch::Tensor covered = torch::zeros({h, w});
  for (size_t i = 0; i < params.content_mask_paths.size(); ++i) {
    regions.masks.content.push_back(read_mask(params.content_mask_paths[i], content_mask(i), h, w));
    covered += regions.masks.content.back();
  }
  for (size_t i = 0; i < params.style_mask_paths.size(); ++i) {
    const std::string& path = params.style_mask_paths[i];
    regions.masks.style.push_back(path == "all" ? torch::Tensor()
                                                : read_mask(path, style_mask(i), styles[i].size(2), styles[i].size(3)));
  }
  const torch::Tensor rest = (1.0 - covered).clamp(0.0, 1.0);
  const double uncovered = rest.mean().item<double>();
  if (!params.default_style_path.empty()) {
    if (rest.max().item<double>() < 0.5 / 255) {
      spdlog::warn("the content masks cover the whole image; --default-style {} is not used",
                   params.default_style_path);
      return regions;
    }
    const int longest = static_cast<int>(std::max(styles.front().size(2), styles.front().size(3)));
    regions.default_style = read_input(params.default_style_path, kDefaultStyle, longest).pixels;
    regions.masks.content.push_back(rest);
    if (!regions.masks.style.empty()) regions.masks.style.push_back(torch::Tensor());
    spdlog::info("--default-style {} covers {:.0f}% of the content", params.default_style_path, 100 * uncovered);
  } else if (uncovered > 0.005) {
    spdlog::info(
        "{:.0f}% of the content is covered by no --content-mask and keeps the content (--default-style "
        "gives it a style)",
        100 * uncovered);
  }
  return regions;
}

void add_default_style(const Regions& regions, const CliParams& params, std::vector<torch::Tensor>& styles,
                       std::vector<double>& blend) {
  if (blend.size() > styles.size()) blend.resize(styles.size());
  if (!regions.default_style.defined()) return;
  styles.push_back(regions.default_style);
  if (!blend.empty()) blend.push_back(params.style_blend.back());
}

}  // namespace stylize::cli
