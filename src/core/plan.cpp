// Planning a run before it starts: the coarse-to-fine sizes, the memory a run
// needs against what the device has, and which styles run as one batch.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "stylize/core/device.hpp"
#include "stylize/core/lbfgs.hpp"
#include "stylize/core/tiling.hpp"
#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"
#include "stylizer_impl.hpp"

namespace stylize {

namespace {

// What any run holds: the runtime's own memory (libraries, allocator caches).
constexpr double kRuntimeBytes = 300.0 * (1 << 20);

// Of a tiled run, the float32 RGB buffers that stay whole (memory_needed):
// the image's and those of the largest style image.
constexpr double kBufferBytes = 4.0 * 3;  // per pixel
constexpr double kWholeBuffers = 9, kStyleBuffers = 8;
// The activations of tiles of several shapes (corners, edges) peak about a
// third above one tile's estimate (memory_needed).
constexpr double kTileShapes = 1.4;

// The network's layers up to the deepest: each one's output in elements per
// input pixel (each pool halves both sides), and the weights' element count.
struct LayerOutputs {
  std::vector<std::pair<std::string, double>> elements;  // by layer name, in order
  double weights = 0;
};

LayerOutputs layer_outputs(const Vgg19Features& net) {
  const std::vector<int64_t> widths = net.widths();
  LayerOutputs outputs;
  double scale = 1.0;
  int64_t channels = 3;
  size_t conv = 0;
  for (const auto& layer : vgg19_layers()) {
    if (layer.kind == LayerKind::Conv) {
      outputs.weights += 9.0 * channels * widths[conv];
      channels = widths[conv++];
    } else if (layer.kind == LayerKind::Pool) {
      scale /= 4;
    }
    outputs.elements.emplace_back(layer.name, channels * scale);
    if (layer.name == net.deepest_layer()) break;
  }
  return outputs;
}

}  // namespace

std::vector<int> scale_sizes(int final_size, int scales, int min_size, int smallest_allowed) {
  if (scales <= 1) return {final_size};
  int smallest = min_size > 0 ? min_size : std::max(1, final_size >> (scales - 1));
  smallest = std::min(final_size, std::max(smallest, smallest_allowed));
  // As many sizes as asked for, or every size from the smallest to the final
  // one where there is no room for that many: always distinct, so that a
  // schedule of as many scales as this one has gives it again (a resumed run
  // makes its schedule from the count its record holds).
  const int count = std::min(scales, final_size - smallest + 1);
  if (count == 1) return {final_size};
  std::vector<int> sizes;
  for (int k = 0; k < count; ++k) {
    const double t = static_cast<double>(k) / (count - 1);
    sizes.push_back(static_cast<int>(std::lround(smallest * std::pow(static_cast<double>(final_size) / smallest, t))));
  }
  // Rounding makes neighbours equal where the steps are below a pixel: each
  // at least one above the last, then, the last being the final size, each
  // at least one below the next (the range has room for every step).
  for (int k = 1; k < count; ++k) sizes[k] = std::max(sizes[k], sizes[k - 1] + 1);
  sizes.back() = final_size;
  for (int k = count - 2; k >= 0; --k) sizes[k] = std::min(sizes[k], sizes[k + 1] - 1);
  return sizes;
}

double estimate_memory_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype,
                             int64_t batch) {
  // Every layer's output up to the deepest is saved for the backward pass.
  const LayerOutputs outputs = layer_outputs(net);
  double elements = 0;
  for (const auto& [name, per_pixel] : outputs.elements) elements += per_pixel;
  const double bytes_per_element = 1.1 * torch::elementSize(dtype) + 0.8;  // fitted, see README
  return kRuntimeBytes + outputs.weights * (4 + torch::elementSize(dtype)) +
         1.25 * elements * static_cast<double>(batch * height * width) * bytes_per_element;
}

double estimate_style_pass_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype) {
  // Without gradients each layer's output is freed once the next is made,
  // except the requested ones (the style and content layers), kept to the
  // end; the largest output (conv1_1's) counts once more as float32: the
  // first convolution runs in float32 (on a GPU), and the Gram matrices read
  // lower-precision features in float32. Measured peak RSS grew by 742 bytes
  // per style pixel in fp32 and 572 in bf16 (this gives 744 and 500; README,
  // "Memory"); 25% on top, as for a run.
  const LayerOutputs outputs = layer_outputs(net);
  const std::vector<std::string>& kept = net.outputs();
  double held = 0, largest = 0;
  for (const auto& [name, per_pixel] : outputs.elements) {
    largest = std::max(largest, per_pixel);
    if (std::find(kept.begin(), kept.end(), name) != kept.end()) held += per_pixel;
  }
  const double element_size = static_cast<double>(torch::elementSize(dtype));
  return kRuntimeBytes + outputs.weights * (4 + element_size) +
         1.25 * (held * element_size + largest * 4.0) * static_cast<double>(height * width);
}

StyleExtent largest_style(const std::vector<std::vector<torch::Tensor>>& members) {
  StyleExtent largest;
  for (const auto& styles : members) {
    for (const auto& style : styles) {
      if (style.dim() >= 2 && style.size(-2) * style.size(-1) > largest.height * largest.width) {
        largest = {style.size(-2), style.size(-1)};
      }
    }
  }
  return largest;
}

std::vector<int> Stylizer::Impl::schedule(const torch::Tensor& content,
                                          const std::vector<torch::Tensor>& styles) const {
  // A content too small at its own size has no schedule: said here, before a
  // run announces itself. (Styles are checked by name in the run.)
  check_size(content, "the content image", "--size (or --min-size)");
  const auto needed_factor = [&](const torch::Tensor& t) {
    return static_cast<double>(net->min_input_side()) / std::min(t.size(-2), t.size(-1));
  };
  double min_factor = needed_factor(content);
  for (const auto& style : styles) min_factor = std::max(min_factor, needed_factor(style));
  const int final_size = static_cast<int>(std::max(content.size(-2), content.size(-1)));
  const int smallest_allowed = static_cast<int>(std::ceil(min_factor * final_size));
  return scale_sizes(final_size, options.scales, options.min_size, smallest_allowed);
}

std::vector<int> Stylizer::schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const {
  return impl_->schedule(content, styles);
}

void Stylizer::check_style_size(const torch::Tensor& style, const std::string& what) const {
  impl_->check_size(style, what, "--style-size or --style-scale");
}

double Stylizer::Impl::memory_needed(int64_t height, int64_t width, int64_t batch, int64_t tile_size,
                                     const StyleExtent& style) const {
  // L-BFGS's history of curvature pairs (2 x 100 image-sized float32 vectors:
  // 1.8 GB at 1024x768) comes on top; Adam's two moments are in the fit.
  const double history =
      options.optimizer == OptimizerKind::Lbfgs ? Lbfgs::state_bytes(batch * 3 * height * width, kLbfgsHistory) : 0.0;
  const torch::Dtype dtype = dtype_of(precision);
  if (tile_size <= 0) return estimate_memory_bytes(*net, height, width, dtype, batch) + history;
  // The network sees one tile at a time (its cut: owned plus halo on both
  // sides). What stays whole, float32 (measured: README, "Memory"):
  // - the image, its gradient, Adam's moments, the start and content images
  //   and their resized copies: 9 image-sized buffers (108 bytes per pixel
  //   at 8192x6144 in 1024 px tiles, where the network's share is small);
  // - the style images (decoded, prepared, resized) and their own tiles'
  //   shapes: 8 buffers of the largest one's size (a 4096 px style added 97
  //   bytes per style pixel to the peak; with the tiny test network, whose
  //   tiles cost little, an 8192 px style added 12).
  // The activations of the tiles' network get 40% on top of one cut's
  // estimate: tiles of several shapes (corners, edges, the style's own)
  // peaked 32% above it at 4096x3072 in 1104 px tiles (6.41 GiB, bf16), where
  // whole images stay 25% below theirs.
  const TileGeometry geometry = tile_geometry(objective.layers());
  const int64_t step = geometry.step(tile_size);
  const int64_t cut_height = std::min(height, step + 2 * geometry.halo);
  const int64_t cut_width = std::min(width, step + 2 * geometry.halo);
  const double fixed = estimate_memory_bytes(*net, 0, 0, dtype, batch);  // the runtime and the weights
  return fixed + kTileShapes * (estimate_memory_bytes(*net, cut_height, cut_width, dtype, batch) - fixed) +
         kBufferBytes * (kWholeBuffers * static_cast<double>(batch * height * width) +
                         kStyleBuffers * static_cast<double>(style.height * style.width)) +
         history;
}

TilePlan Stylizer::Impl::tile_plan(int64_t height, int64_t width, int64_t batch, int64_t tile_size,
                                   const StyleExtent& style) const {
  TilePlan plan;
  // A tile as large as the image is the image: no second pass.
  if (tile_size > 0 && tile_size < std::max(height, width)) {
    const TileGeometry geometry = tile_geometry(objective.layers());
    const std::vector<Tile> tiles = plan_tiles(height, width, tile_size, geometry);
    if (tiles.size() > 1) {
      plan.tile = geometry.step(tile_size);
      plan.halo = geometry.halo;
      plan.tiles = static_cast<int64_t>(tiles.size());
    }
  }
  plan.bytes = memory_needed(height, width, batch, plan.tile, style);
  // The style targets are computed first, one style image at a time; tiled,
  // in the same tiles as the image, which the tiles' estimate covers.
  if (plan.tile == 0 && style.height * style.width > 0) {
    plan.style_bytes = estimate_style_pass_bytes(*net, style.height, style.width, dtype_of(precision));
    plan.bytes = std::max(plan.bytes, plan.style_bytes);
  }
  return plan;
}

double Stylizer::Impl::style_pass_bytes(const StyleExtent& style, int64_t tile_size) const {
  const torch::Dtype dtype = dtype_of(precision);
  if (tile_size <= 0) return estimate_style_pass_bytes(*net, style.height, style.width, dtype);
  // One tile's pass (its cut: owned plus halo), and the style image's whole
  // float32 buffers (decoded, prepared, resized: 3 before the pass starts).
  // Tiles of several shapes, each freed before the next, leave the heap
  // fragmented: measured, bf16, a 4096x2560 style at --size 256 under memory
  // limits, the peak above those buffers was 0.8x one tile's estimate for 512
  // px tiles, 2.1x for 896, 2.0x for 1184 and 1.5x for 1568 (README, "Memory").
  constexpr double kPassBuffers = 4, kPassTileShapes = 2.5;
  const TileGeometry geometry = tile_geometry(objective.layers());
  const int64_t step = geometry.step(tile_size);
  const int64_t cut_height = std::min(style.height, step + 2 * geometry.halo);
  const int64_t cut_width = std::min(style.width, step + 2 * geometry.halo);
  const double fixed = estimate_style_pass_bytes(*net, 0, 0, dtype);  // the runtime and the weights
  return fixed + kPassTileShapes * (estimate_style_pass_bytes(*net, cut_height, cut_width, dtype) - fixed) +
         kBufferBytes * kPassBuffers * static_cast<double>(style.height * style.width);
}

int64_t Stylizer::Impl::smallest_style_tile() const {
  // Owning at least twice the halo, a tile's cut is at most 4 times what it
  // owns. Smaller tiles would make the pass dozens of times slower (32 px
  // tiles in a 96 px halo: 49 times), when a smaller --style-size costs nothing.
  const int64_t halo = tile_geometry(objective.layers()).halo;
  return std::max<int64_t>(kMinTile, (2 * halo + 31) / 32 * 32);
}

namespace {

// The largest tile, in steps of 32 px down to `smallest`, for which
// `bytes_of(tile)` fits in `available` bytes; 0 if none does.
int64_t largest_fitting_tile(int64_t height, int64_t width, double available,
                             const std::function<double(int64_t)>& bytes_of, int64_t smallest = kMinTile) {
  for (int64_t tile = (std::max(height, width) - 1) / 32 * 32; tile >= smallest; tile -= 32) {
    if (bytes_of(tile) <= available) return tile;
  }
  return 0;
}

// `plan` with the style pass in tiles owning `tile` px (one tile: the whole
// style), whose pass takes `bytes`, and the run's peak at least `run_bytes`.
void use_style_tiles(TilePlan& plan, const TileGeometry& geometry, const StyleExtent& style, int64_t tile, double bytes,
                     double run_bytes) {
  plan.style_tile = geometry.step(tile);
  plan.style_tiles = static_cast<int64_t>(plan_tiles(style.height, style.width, plan.style_tile, geometry).size());
  plan.style_bytes = bytes;
  plan.bytes = std::max(run_bytes, bytes);
}

}  // namespace

void Stylizer::Impl::tile_style_pass(TilePlan& plan, double run_bytes, const StyleExtent& style,
                                     double available) const {
  if (plan.tile > 0 || available < 0 || plan.style_bytes <= available) return;
  const auto bytes_of = [&](int64_t tile) { return style_pass_bytes(style, tile); };
  const int64_t tile = largest_fitting_tile(style.height, style.width, available, bytes_of, smallest_style_tile());
  if (tile > 0) use_style_tiles(plan, tile_geometry(objective.layers()), style, tile, bytes_of(tile), run_bytes);
}

void Stylizer::Impl::enlarge_style_tiles(TilePlan& plan, const StyleExtent& style, double available) const {
  // The image's tiles are sized for the memory of every iteration; the style
  // pass runs once, and in them it is slow: --size 256 --tile 64 -n 2 with a
  // 2048 px style took 43 s in them, 10 s with the pass whole (README, "Memory").
  if (plan.tile == 0 || available < 0 || style.height * style.width == 0) return;
  const TileGeometry geometry = tile_geometry(objective.layers());
  const double whole = estimate_style_pass_bytes(*net, style.height, style.width, dtype_of(precision));
  if (whole <= available) {
    const int64_t side = std::max(style.height, style.width);
    use_style_tiles(plan, geometry, style, (side + geometry.stride - 1) / geometry.stride * geometry.stride, whole,
                    plan.bytes);
    return;
  }
  // Larger than the image's tiles (which the tiled run's estimate covers).
  const auto bytes_of = [&](int64_t tile) { return style_pass_bytes(style, tile); };
  const int64_t tile = largest_fitting_tile(style.height, style.width, available, bytes_of, plan.tile + 1);
  if (tile > 0) use_style_tiles(plan, geometry, style, tile, bytes_of(tile), plan.bytes);
}

TilePlan Stylizer::Impl::plan_tiling(int64_t height, int64_t width, int64_t batch, const StyleExtent& style) const {
  const double available = available_memory_bytes(device);
  // A style whose pass alone does not fit is cut into tiles of its own,
  // whatever --tile says: exact, and done once, where tiling the image would
  // slow every iteration.
  TilePlan plan = tile_plan(height, width, batch, options.tile == kAutoTile ? 0 : options.tile, style);
  tile_style_pass(plan, memory_needed(height, width, batch, plan.tile, style), style, available);
  if (options.tile == kAutoTile && available >= 0 && plan.bytes > available) {
    const auto plan_of = [&](int64_t tile_size) { return tile_plan(height, width, batch, tile_size, style); };
    const int64_t fits =
        largest_fitting_tile(height, width, available, [&](int64_t tile) { return plan_of(tile).bytes; });
    // None fits: the whole image's plan, which the refusal's advice is
    // about (the smallest tiles' said to make the image smaller, which does
    // not help where a style image's targets take the memory).
    if (fits > 0) plan = plan_of(fits);
  }
  enlarge_style_tiles(plan, style, available);
  return plan;
}

namespace {

std::string gib(double bytes, int digits = 1) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f GiB", digits, bytes / (1 << 30));
  return text;
}

// The largest longest side, in steps of 32 px, at which `fits` holds for
// height x width scaled to it; 0 if none.
int64_t largest_side(int64_t height, int64_t width, const std::function<bool(int64_t, int64_t)>& fits) {
  const int64_t longest = std::max(height, width);
  for (int64_t side = longest - 32; side >= 32; side -= 32) {
    if (fits(height * side / longest, width * side / longest)) return side;
  }
  return 0;
}

}  // namespace

std::string Stylizer::Impl::memory_advice(const TilePlan& plan, int64_t height, int64_t width, int64_t batch,
                                          const StyleExtent& style, double available) const {
  std::string advice;
  // The run itself, tiled as it would be at that size (--tile auto: whole
  // where it fits; its smallest tiles here, whose halos cost more than a
  // smaller whole image). Its style targets are said apart.
  const bool run_too_large = memory_needed(height, width, batch, plan.tile, style) > available;
  if (run_too_large) {
    const int64_t fits = largest_side(height, width, [&](int64_t h, int64_t w) {
      const TilePlan smaller =
          options.tile == kAutoTile ? plan_tiling(h, w, batch, {}) : tile_plan(h, w, batch, plan.tile, {});
      return smaller.bytes <= available;
    });
    advice += fits > 0 ? "; the largest size that fits is about --size " + std::to_string(fits)
                       : "; even the smallest --size does not fit";
  }
  // A style image much larger than the content: its own size is what to change.
  const bool style_too_large = plan.style_bytes > available;
  if (style_too_large) {
    // Whole, or in the smallest tiles it may have (the least memory its pass takes).
    const int64_t fits = largest_side(style.height, style.width, [&](int64_t h, int64_t w) {
      return std::min(style_pass_bytes({h, w}, 0), style_pass_bytes({h, w}, smallest_style_tile())) <= available;
    });
    advice += fits > 0 ? "; the largest style size that fits is about --style-size " + std::to_string(fits)
                       : "; even the smallest --style-size does not fit";
  }
  if (batch > 1 && !style_too_large) advice += ", or use a smaller --batch";
  if (precision == Precision::Fp32 && device.is_cpu() && cpu_has_fast_bf16()) advice += ", or use --precision bf16";
  // Keeping the size: tiles, which bound the network's memory by one tile's
  // (a style image's too, cut into the same tiles; but for a style alone too
  // large, tiles of an image that fits whole cost far more than its --style-size).
  const auto plan_of = [&](int64_t tile_size) { return tile_plan(height, width, batch, tile_size, style); };
  const int64_t tile_fits =
      run_too_large ? largest_fitting_tile(height, width, available, [&](int64_t tile) { return plan_of(tile).bytes; })
                    : 0;
  if (tile_fits > 0 && (plan.tile == 0 || tile_fits < plan.tile)) {
    advice += "; or keep the size and evaluate it in tiles: --tile " + std::to_string(tile_fits) +
              " (or --tile auto; exact, but each iteration takes longer)";
  }
  return advice;
}

TilePlan Stylizer::Impl::check_memory(int64_t height, int64_t width, int64_t batch, const StyleExtent& style) const {
  const double available = available_memory_bytes(device);
  const TilePlan plan = plan_tiling(height, width, batch, style);
  if (available < 0 || plan.bytes <= available) return plan;
  const std::string what = batch > 1 ? std::to_string(batch) + " images of " : "a ";
  const std::string tiled =
      plan.tile > 0 ? " in " + std::to_string(plan.tiles) + " tiles of " + std::to_string(plan.tile) + " px" : "";
  const std::string for_style = plan.style_bytes >= plan.bytes
                                    ? " (to compute the targets of its " + std::to_string(style.width) + "x" +
                                          std::to_string(style.height) + " style image)"
                                    : "";
  // Two figures that round alike ("0.5 GiB, but only 0.5 GiB") get more digits.
  const int digits = gib(plan.bytes) == gib(available) ? 3 : 1;
  // The variable's cap, where it is what limits (for tests and shared machines).
  const double cap = memory_cap_bytes();
  char capped[64] = "";
  if (cap > 0 && available >= cap)
    std::snprintf(capped, sizeof capped, " (STYLIZE_MEMORY_LIMIT_MB=%g)", cap / (1 << 20));
  throw ResourceError("stylizing " + what + std::to_string(width) + "x" + std::to_string(height) + " image" +
                      (batch > 1 ? "s" : "") + tiled + " on " + device.str() + " needs about " +
                      gib(plan.bytes, digits) + " of memory" + for_style + " but only " + gib(available, digits) +
                      " is available" + std::string(capped) +
                      memory_advice(plan, height, width, batch, style, available));
}

void Stylizer::check_memory(int64_t height, int64_t width, int64_t batch,
                            const std::vector<torch::Tensor>& styles) const {
  impl_->check_memory(height, width, batch, largest_style({styles}));
}

TilePlan Stylizer::plan_tiling(int64_t height, int64_t width, int64_t batch,
                               const std::vector<torch::Tensor>& styles) const {
  return impl_->plan_tiling(height, width, batch, largest_style({styles}));
}

int Stylizer::batch_capacity(int64_t height, int64_t width, int limit) const {
  const Impl& m = *impl_;
  const double available = available_memory_bytes(m.device);
  int fits = 1;
  while (fits < limit && (available < 0 || m.memory_needed(height, width, fits + 1) <= available)) {
    ++fits;
  }
  return fits;
}

BatchPlan Stylizer::plan_batches(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                                 int requested) const {
  BatchPlan plan;
  const int64_t h = content.size(-2), w = content.size(-1);
  // --tolerance ends a run on its own loss's plateau: a batch's members would
  // all end on their summed loss's, so each style runs alone.
  if (impl_->options.optimizer == OptimizerKind::Adam && impl_->options.tolerance <= 0 && styles.size() > 1) {
    // Measured on 2 CPU cores: 4 images of 128x96 px as one batch take 1.9x less
    // time per image than one at a time; at 256x192 px the cores are already
    // busy and batching gains 5%.
    plan.wanted = requested > 0 ? requested : (device().is_cuda() ? 16 : (h * w <= 200 * 200 ? 4 : 1));
    plan.wanted = std::min<int>(plan.wanted, static_cast<int>(styles.size()));
    plan.fits = batch_capacity(h, w, plan.wanted);
  }
  std::vector<int> batch_schedule;
  for (size_t i = 0; i < styles.size(); ++i) {
    const std::vector<int> schedule = plan.fits > 1 ? this->schedule(content, {styles[i]}) : std::vector<int>{};
    if (plan.batches.empty() || static_cast<int>(plan.batches.back().size()) >= plan.fits ||
        schedule != batch_schedule) {
      plan.batches.emplace_back();
      batch_schedule = schedule;
    }
    plan.batches.back().push_back(i);
  }
  return plan;
}

}  // namespace stylize
