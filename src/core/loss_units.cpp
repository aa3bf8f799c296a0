#include "stylize/core/loss_units.hpp"

#include <algorithm>
#include <cmath>

#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"

namespace stylize {
namespace {

// Reference magnitudes of the Keras VGG19 (the Oxford Caffe weights, which
// Keras ported), per block. They are not measured here (ImageNet weights cannot
// be downloaded on the machines stylize is built on); they are derived from
// the one published run of those weights that prints per-layer losses:
// jcjohnson/neural-style's INSTALL.md, the default run (tubingen.jpg content,
// seated-nude.jpg style, 512 px, Caffe VGG19, pixels x 256), first iteration,
// whose image is the flat mean colour (randn * 0.001 in Caffe space):
//   Style l loss = 100 * mean((G - A)^2 / C^2) (Grams divided by C*H*W there)
//     relu1_1 30021.29  relu2_1 700349.6  relu3_1 153033.2  relu4_1 12404635  relu5_1 656.86
//   Content loss = 5 * mean((F - P)^2) at relu4_2: 2091178.6
// so mean(A^2) (Gram over H*W) = loss * C^2 / 100, and mean(P^2) = 418236 at
// relu4_2 (taking the flat image's features as small against the targets').
// Content magnitudes of the other blocks are extrapolated with the ratio seen
// in block 4, mean(F^2) = 2.32 * sqrt(mean(G^2)) (relu4_2 against relu4_1).
// `stylize weights stats` prints content_ratio/style_ratio of any file: on the
// Keras file and typical photos they should be near 1; replace these numbers
// when someone measures them.
constexpr double kBlockGramMeanSquare[5] = {1.2297e6, 1.1475e8, 1.0029e8, 3.2518e10, 1.7219e6};
constexpr double kContentPerSqrtGram = 418236.0 / 180327.0;  // relu4_2 mean(P^2) / sqrt(relu4_1 mean(A^2))

// Every VGG19 layer name (conv1_1, relu3_4, pool5) has its block's digit at [4].
int block_of(const std::string& layer) {
  convs_needed({layer});  // throws OptionError for an unknown name
  return layer[4] - '0';
}

torch::Tensor normalizer(const torch::Tensor& target, double reference, const std::string& what) {
  std::vector<int64_t> dims(static_cast<size_t>(target.dim() - 1));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i) + 1;
  const torch::Tensor mean_square = target.detach().to(torch::kFloat64).square().mean(dims);
  if (!(mean_square > 0).all().item<bool>() || !torch::isfinite(mean_square).all().item<bool>()) {
    throw ImageError(what +
                     " is all zero (or not finite), so normalized loss units have no magnitude to measure "
                     "against; use --loss-units tutorial or another layer");
  }
  return (reference / mean_square).to(torch::kFloat32);
}

}  // namespace

LossUnits default_loss_units(const std::string& input_convention) {
  return input_convention == "caffe" ? LossUnits::Tutorial : LossUnits::Normalized;
}

LossUnits resolve_loss_units(LossUnits requested, const std::string& input_convention) {
  return requested == LossUnits::Auto ? default_loss_units(input_convention) : requested;
}

ReferenceMagnitudes reference_magnitudes(const std::string& layer) {
  const double gram = kBlockGramMeanSquare[block_of(layer) - 1];
  return {kContentPerSqrtGram * std::sqrt(gram), gram};
}

torch::Tensor content_normalizer(const torch::Tensor& target, const std::string& layer, LossUnits units) {
  const double reference = reference_magnitudes(layer).feature_mean_square;
  if (units != LossUnits::Normalized) return torch::ones({target.size(0)}, target.options().dtype(torch::kFloat32));
  return normalizer(target, reference, "the content image's feature map at " + layer);
}

torch::Tensor style_normalizer(const torch::Tensor& target_gram, const std::string& layer, LossUnits units) {
  const double reference = reference_magnitudes(layer).gram_mean_square;
  if (units != LossUnits::Normalized) {
    return torch::ones({target_gram.size(0)}, target_gram.options().dtype(torch::kFloat32));
  }
  return normalizer(target_gram, reference, "the style image's Gram matrix at " + layer);
}

double size_factor(int64_t height, int64_t width) {
  const double ratio = static_cast<double>(kReferenceSide) / static_cast<double>(std::max(height, width));
  return ratio * ratio;
}

double LayerStatistics::content_ratio() const { return mean_square / reference_magnitudes(layer).feature_mean_square; }
double LayerStatistics::style_ratio() const { return gram_mean_square / reference_magnitudes(layer).gram_mean_square; }

void LayerStatisticsAccumulator::add(const std::string& layer, const torch::Tensor& features) {
  reference_magnitudes(layer);  // validates the name
  auto it = std::find_if(sums_.begin(), sums_.end(), [&](const LayerStatistics& s) { return s.layer == layer; });
  if (it == sums_.end()) {
    sums_.push_back(LayerStatistics{layer});
    it = sums_.end() - 1;
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor f = features.detach().to(torch::kFloat64);
  const int64_t n = f.size(0), c = f.size(1), locations = f.size(2) * f.size(3);
  const torch::Tensor m = f.reshape({n, c, locations});
  const torch::Tensor gram = torch::bmm(m, m.transpose(1, 2)) / static_cast<double>(locations);
  it->images += n;
  it->mean += f.mean({1, 2, 3}).sum().item<double>();
  it->mean_square += f.square().mean({1, 2, 3}).sum().item<double>();
  it->zero_fraction += (f == 0).to(torch::kFloat64).mean({1, 2, 3}).sum().item<double>();
  it->gram_mean_square += gram.square().mean({1, 2}).sum().item<double>();
}

std::vector<LayerStatistics> LayerStatisticsAccumulator::results() const {
  std::vector<LayerStatistics> averages = sums_;
  for (auto& s : averages) {
    const double n = static_cast<double>(std::max<int64_t>(s.images, 1));
    s.mean /= n;
    s.mean_square /= n;
    s.zero_fraction /= n;
    s.gram_mean_square /= n;
  }
  return averages;
}

}  // namespace stylize
