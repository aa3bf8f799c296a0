#include "clip.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/functional/vision.h>
#include <torch/torch.h>

#include "stylize/io/image.hpp"
#include "stylize/io/image_io.hpp"

namespace stylize::clip {
namespace F = torch::nn::functional;

torch::Tensor texture(int64_t height, int64_t width, uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  torch::Tensor sum = torch::zeros({1, 3, height, width});
  const std::vector<int64_t> cells = {3, 6, 12, 24};
  for (const int64_t cell : cells) {
    const torch::Tensor coarse = torch::rand({1, 3, height / cell + 3, width / cell + 3}, generator);
    // Sample the coarse grid at cell spacing, offset so no border effect shows.
    const torch::Tensor fine = F::interpolate(coarse, F::InterpolateFuncOptions()
                                                          .scale_factor(std::vector<double>{double(cell), double(cell)})
                                                          .mode(torch::kBicubic)
                                                          .align_corners(false));
    sum += fine.narrow(2, cell, height).narrow(3, cell, width);
  }
  return (sum / static_cast<double>(cells.size())).sub(0.5).mul(2.0).add(0.5).clamp(0.0, 1.0);
}

std::vector<torch::Tensor> render(const torch::Tensor& image, const Motion& motion, int frames, int64_t width,
                                  int64_t height) {
  const int steps = std::max(frames - 1, 0);
  // The largest view in first-frame pixels (zooming out widens it), plus the path.
  const double widest = motion.zoom < 1 ? std::pow(motion.zoom, -steps) : 1.0;
  const double need_w = width * widest + std::abs(motion.pan_x) * steps + 4;
  const double need_h = height * widest + std::abs(motion.pan_y) * steps + 4;
  const double factor = std::max(need_w / image.size(3), need_h / image.size(2));
  const int64_t sh = std::max<int64_t>(std::llround(image.size(2) * factor), static_cast<int64_t>(std::ceil(need_h)));
  const int64_t sw = std::max<int64_t>(std::llround(image.size(3) * factor), static_cast<int64_t>(std::ceil(need_w)));
  const torch::Tensor source = resize_to(image.to(torch::kFloat32), sh, sw);

  const torch::Tensor xs = torch::arange(width, torch::kFloat64) - (width - 1) / 2.0;
  const torch::Tensor ys = torch::arange(height, torch::kFloat64) - (height - 1) / 2.0;
  std::vector<torch::Tensor> result;
  for (int t = 0; t < frames; ++t) {
    const double scale = std::pow(motion.zoom, -t);  // source pixels per output pixel
    const double cx = (sw - 1) / 2.0 + motion.pan_x * (t - steps / 2.0);
    const double cy = (sh - 1) / 2.0 + motion.pan_y * (t - steps / 2.0);
    // grid_sample's normalized coordinates (align_corners: -1 and 1 are the outer pixel centres).
    const torch::Tensor gx = ((cx + xs * scale) / (sw - 1) * 2 - 1).view({1, width}).expand({height, width});
    const torch::Tensor gy = ((cy + ys * scale) / (sh - 1) * 2 - 1).view({height, 1}).expand({height, width});
    const torch::Tensor grid = torch::stack({gx, gy}, 2).unsqueeze(0).to(torch::kFloat32);
    result.push_back(
        F::grid_sample(
            source, grid,
            F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true))
            .clamp(0.0, 1.0));
  }
  return result;
}

}  // namespace stylize::clip
