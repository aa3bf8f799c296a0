#include "stylize/core/objective.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <torch/autograd.h>

#include "onednn.hpp"
#include "stylize/core/loss_units.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image.hpp"
#include "stylize/vgg19_layers.hpp"

namespace stylize {

namespace {

bool is_channels_last(const torch::Tensor& t) {
  return !t.is_contiguous() && t.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// The features as a batch of matrices without copying: (N, L, C) for
// channels-last tensors (use M^T M), (N, C, L) otherwise (use M M^T).
torch::Tensor as_matrix(const torch::Tensor& f) {
  const int64_t n = f.size(0), c = f.size(1), locations = f.size(2) * f.size(3);
  return is_channels_last(f) ? f.permute({0, 2, 3, 1}).reshape({n, locations, c}) : f.reshape({n, c, locations});
}

// Matrix product on the CPU through oneDNN when it can, else torch::bmm (on float32 copies when `out` is float32).
torch::Tensor bmm(const torch::Tensor& a, const torch::Tensor& b, torch::Dtype out) {
  torch::Tensor product = cpu_bmm(a, b, out);
  if (product.defined()) return product;
  return torch::bmm(a.to(out), b.to(out));
}

// G = M M^T / L computed in float32 whatever the features' dtype (on the CPU
// with oneDNN straight from the bf16 features, with float32 accumulation; else
// from a float32 copy). The backward pass, dM = (dG + dG^T) M / L, is one
// matrix product in the features' own dtype and layout (bf16 on AMX is several
// times faster than fp32, and the network's gradient is in that dtype anyway),
// and only the features, not a float32 copy of them, are kept for it.
class GramFunction : public torch::autograd::Function<GramFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& features) {
    ctx->save_for_backward({features});
    const torch::Tensor m = as_matrix(features);
    const torch::Tensor rows = is_channels_last(features) ? m.transpose(1, 2) : m;  // (N, C, L)
    // float32, or float64 for float64 features (gradient checks).
    const torch::Dtype out = features.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    return bmm(rows, rows.transpose(1, 2), out).div_(static_cast<double>(features.size(2) * features.size(3)));
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const torch::Tensor features = ctx->get_saved_variables()[0];
    const int64_t n = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
    const torch::Dtype dtype = features.scalar_type();
    const torch::Tensor& g = grads[0];
    const torch::Tensor s = ((g + g.transpose(1, 2)) / static_cast<double>(h * w)).to(dtype);
    const torch::Tensor m = as_matrix(features);
    if (is_channels_last(features)) {
      return {bmm(m, s, dtype).view({n, h, w, c}).permute({0, 3, 1, 2})};
    }
    return {bmm(s, m, dtype).view({n, c, h, w})};
  }
};

}  // namespace

torch::Tensor gram_matrix(const torch::Tensor& features) {
  TORCH_CHECK(features.dim() == 4, "gram_matrix expects (N, C, H, W) features");
  return GramFunction::apply(features);
}

torch::Tensor content_loss(const torch::Tensor& features, const torch::Tensor& target_features) {
  return (features.to(torch::kFloat32) - target_features.to(torch::kFloat32)).square().mean({1, 2, 3});
}

torch::Tensor style_loss(const torch::Tensor& features, const torch::Tensor& target_gram) {
  return gram_error(gram_matrix(features), target_gram.to(torch::kFloat32));
}

torch::Tensor gram_error(const torch::Tensor& gram, const torch::Tensor& target_gram) {
  return (gram - target_gram).square().mean({-2, -1});
}

namespace {

// The total variation of vertical and horizontal neighbour differences, per member.
torch::Tensor variation(const torch::Tensor& dy, const torch::Tensor& dx, TvNorm norm) {
  if (norm == TvNorm::L1) return dy.abs().sum({1, 2, 3}) + dx.abs().sum({1, 2, 3});
  return dy.square().sum({1, 2, 3}) + dx.square().sum({1, 2, 3});
}

}  // namespace

torch::Tensor total_variation(const torch::Tensor& image, TvNorm norm) {
  const torch::Tensor x = image.to(torch::kFloat32);
  const int64_t h = x.size(-2), w = x.size(-1);
  const torch::Tensor dy = x.narrow(-2, 1, h - 1) - x.narrow(-2, 0, h - 1);
  const torch::Tensor dx = x.narrow(-1, 1, w - 1) - x.narrow(-1, 0, w - 1);
  return variation(dy, dx, norm);
}

Features::Features(std::vector<std::string> layers, std::vector<torch::Tensor> maps)
    : layers_(std::move(layers)), maps_(std::move(maps)) {}

const torch::Tensor& Features::operator[](const std::string& layer) const {
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i] == layer) return maps_[i];
  }
  throw std::out_of_range("layer " + layer + " was not computed by the network");
}

Piece::Piece(torch::Tensor image, Features features)
    : image_(std::move(image)),
      features_(std::move(features)),
      whole_height_(image_.size(-2)),
      whole_width_(image_.size(-1)) {
  cut_ = owned_ = {0, 0, whole_height_, whole_width_};
}

Piece::Piece(torch::Tensor image, Features features, Window cut, Window owned, int64_t whole_height,
             int64_t whole_width)
    : image_(std::move(image)),
      features_(std::move(features)),
      whole_(false),
      cut_(cut),
      owned_(owned),
      whole_height_(whole_height),
      whole_width_(whole_width) {}

Window Piece::owned_window(int64_t stride) const {
  // Windows are aligned to the deepest stride, so only the image's own bottom
  // and right borders round (down, as pooling does).
  const int64_t top = owned_.top / stride, left = owned_.left / stride;
  return {top - cut_.top / stride, left - cut_.left / stride, (owned_.top + owned_.height) / stride - top,
          (owned_.left + owned_.width) / stride - left};
}

namespace {

// A window of a map, copied in the map's memory format, with a gradient in
// that format too. Autograd's own narrow() would hand the tile's network an
// NCHW gradient for its channels-last maps (converted back layer by layer),
// and the Gram matrix of a strided view would be taken on an NCHW copy.
class CropFunction : public torch::autograd::Function<CropFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& map, Window w) {
    const auto format = map.suggest_memory_format();
    ctx->saved_data["sizes"] = map.sizes();
    ctx->saved_data["window"] = std::vector<int64_t>{w.top, w.left, w.height, w.width};
    ctx->saved_data["channels_last"] = format == torch::MemoryFormat::ChannelsLast;
    return map.narrow(-2, w.top, w.height).narrow(-1, w.left, w.width).contiguous(format);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const auto w = ctx->saved_data["window"].toIntVector();
    const auto format =
        ctx->saved_data["channels_last"].toBool() ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    // torch::zeros would drop the memory format; torch::empty keeps it.
    torch::Tensor gradient = torch::empty(sizes, grads[0].options().memory_format(format)).zero_();
    gradient.narrow(-2, w[0], w[2]).narrow(-1, w[1], w[3]).copy_(grads[0]);
    return {gradient, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor Piece::owned(const torch::Tensor& map, int64_t stride) const {
  if (whole_) return map;
  return CropFunction::apply(map, owned_window(stride));
}

torch::Tensor Piece::owned_of_whole(const torch::Tensor& whole_map, int64_t stride) const {
  if (whole_) return whole_map;
  const Window w = owned_window(stride);
  return whole_map.narrow(-2, owned_.top / stride, w.height).narrow(-1, owned_.left / stride, w.width);
}

int64_t Piece::whole_locations(int64_t stride) const { return (whole_height_ / stride) * (whole_width_ / stride); }

namespace {

// Layer weights normalized to sum to one, times the term's global weight.
std::vector<double> normalized(const std::vector<LayerWeight>& layers, double weight) {
  double sum = 0;
  for (const auto& layer : layers) sum += layer.weight;
  std::vector<double> weights;
  for (const auto& layer : layers) weights.push_back(weight * layer.weight / sum);
  return weights;
}

std::vector<std::string> names_of(const std::vector<LayerWeight>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(layer.layer);
  return names;
}

int64_t stride_of(const std::string& layer) { return receptive_field(vgg19_layer_index(layer)).stride; }

}  // namespace

LayerTerm::LayerTerm(const std::vector<LayerWeight>& layers, double weight, LossUnits units)
    : names_(names_of(layers)), weights_(normalized(layers, weight)), units_(units) {}

torch::Tensor LayerTerm::weighted_sum(const std::vector<torch::Tensor>& values) const {
  torch::Tensor total = torch::zeros_like(values.front());
  for (size_t i = 0; i < values.size(); ++i) {
    total = total + weights_[i] * (units_ == LossUnits::Normalized ? values[i] * normalizers_[i] : values[i]);
  }
  return total;
}

std::vector<torch::Tensor> sum_over_pieces(const TargetInputs& inputs, const torch::Tensor& image,
                                           const PieceStatistics& statistics) {
  if (inputs.over_pieces) return inputs.over_pieces(image, statistics);
  torch::NoGradGuard no_grad;
  return statistics(Piece(image, inputs.features(image)));
}

std::vector<torch::Tensor> sum_over_style_pieces(const TargetInputs& inputs, const torch::Tensor& style,
                                                 const PieceStatistics& statistics) {
  if (inputs.style_pieces) return inputs.style_pieces(style, statistics);
  return sum_over_pieces(inputs, style, statistics);
}

void ContentTerm::prepare(const TargetInputs& inputs) {
  // One content stylized with many styles, one after the other: compute its targets once.
  if (cached_source_.defined() && cached_source_.is_same(inputs.content_source) && cached_size_ == inputs.size) return;
  torch::NoGradGuard no_grad;
  // The target maps, whole: a piece adds its owned part to maps of zeros.
  targets_ = sum_over_pieces(inputs, inputs.content, [this](const Piece& piece) {
    std::vector<torch::Tensor> maps;
    for (const auto& layer : names_) {
      const torch::Tensor features = piece.features(layer).to(torch::kFloat32);
      if (piece.whole()) {
        maps.push_back(features);
        continue;
      }
      const int64_t stride = stride_of(layer);
      torch::Tensor whole = torch::zeros(
          {features.size(0), features.size(1), piece.whole_height() / stride, piece.whole_width() / stride},
          features.options());
      piece.owned_of_whole(whole, stride).copy_(piece.owned(features, stride));
      maps.push_back(whole);
    }
    return maps;
  });
  normalizers_.clear();
  for (size_t i = 0; i < names_.size(); ++i) normalizers_.push_back(content_normalizer(targets_[i], names_[i], units_));
  cached_source_ = inputs.content_source;
  cached_size_ = inputs.size;
}

std::vector<torch::Tensor> ContentTerm::statistics(const Piece& piece) const {
  std::vector<torch::Tensor> result;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (piece.whole()) {
      result.push_back(content_loss(piece.features(names_[i]), targets_[i]));
      continue;
    }
    const int64_t stride = stride_of(names_[i]);
    const torch::Tensor features = piece.owned(piece.features(names_[i]), stride).to(torch::kFloat32);
    const torch::Tensor difference = features - piece.owned_of_whole(targets_[i], stride);
    result.push_back(difference.square().sum({1, 2, 3}) /
                     static_cast<double>(features.size(1) * piece.whole_locations(stride)));
  }
  return result;
}

namespace {

// The region masks as one list (content masks, then style masks), to key the cache.
std::vector<torch::Tensor> mask_list(const RegionMasks& regions) {
  std::vector<torch::Tensor> list = regions.content;
  list.insert(list.end(), regions.style.begin(), regions.style.end());
  return list;
}

bool same_list(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].defined() != b[i].defined() || (a[i].defined() && !a[i].is_same(b[i]))) return false;
  }
  return true;
}

// A mask (H, W) of an h x w image at a layer of `stride`: (1, 1, h / stride,
// w / stride) float32, each location the mask's mean over the pixels it stands
// for. Those are [i stride, (i + 1) stride): the 2x2 poolings drop the last
// h mod stride rows (and columns), which no location sees; so does the mask.
torch::Tensor mask_at(const torch::Tensor& mask, int64_t h, int64_t w, int64_t stride,
                      const torch::TensorOptions& options) {
  torch::Tensor m = mask.to(options.device(), torch::kFloat32).view({1, 1, mask.size(-2), mask.size(-1)});
  const int64_t rows = std::max<int64_t>(1, h / stride), cols = std::max<int64_t>(1, w / stride);
  // The part of the mask over the seen pixels (all of it when the image is smaller than a stride).
  const auto seen = [](int64_t mask_side, int64_t side, int64_t locations, int64_t stride) {
    if (side < stride) return mask_side;
    return std::max<int64_t>(1, std::llround(static_cast<double>(mask_side) * (locations * stride) / side));
  };
  m = m.narrow(2, 0, seen(m.size(2), h, rows, stride)).narrow(3, 0, seen(m.size(3), w, cols, stride));
  return torch::adaptive_avg_pool2d(m, {rows, cols}).clamp(0.0, 1.0);
}

// The guided Gram matrix of (N, C, h, w) features under a (1, 1, h, w) mask
// of mass sum m over the whole map: each location weighs m in it (the
// features times sqrt(m)), scaled from this map's locations to the mass
// (float32, (N, C, C)). A grey mask is a blend: a location at 0.5 counts half
// in its region (Gatys et al. 2017 multiply by m, which weighs it a quarter).
torch::Tensor guided_gram(const torch::Tensor& features, const torch::Tensor& mask, double mass) {
  const double locations = static_cast<double>(features.size(2) * features.size(3));
  return gram_matrix(features * mask.sqrt().to(features.scalar_type())) * (locations / mass);
}

bool same_tensors(const std::vector<std::vector<torch::Tensor>>& a, const std::vector<std::vector<torch::Tensor>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (size_t j = 0; j < a[i].size(); ++j) {
      if (!a[i][j].is_same(b[i][j])) return false;
    }
  }
  return true;
}

}  // namespace

void StyleTerm::prepare(const TargetInputs& inputs) {
  // The frames of a video share their styles: compute the Gram matrices once.
  if (!inputs.style_sources.empty() && same_tensors(inputs.style_sources, cached_sources_) &&
      inputs.blend == cached_blend_ && inputs.size == cached_size_ &&
      same_list(mask_list(inputs.regions), cached_masks_)) {
    return;
  }
  cached_sources_.clear();
  torch::NoGradGuard no_grad;
  region_masks_.clear();
  region_mass_.clear();
  region_weights_.clear();
  if (!inputs.regions.empty()) {
    prepare_regions(inputs);
  } else {
    prepare_blended(inputs);
  }
  cached_sources_ = inputs.style_sources;
  cached_blend_ = inputs.blend;
  cached_size_ = inputs.size;
  cached_masks_ = mask_list(inputs.regions);
}

void StyleTerm::prepare_regions(const TargetInputs& inputs) {
  const RegionMasks& regions = inputs.regions;
  if (inputs.styles.size() != 1) throw OptionError("regional styles (masks) need a single run, not a batch");
  const std::vector<torch::Tensor>& styles = inputs.styles.front();
  const size_t count = styles.size();
  if (regions.content.size() != count || (!regions.style.empty() && regions.style.size() != count)) {
    throw OptionError("regional styles need one content mask per style (and no style mask, or one per style)");
  }
  std::vector<double> blend = inputs.blend;
  if (blend.empty()) blend.assign(count, 1.0);
  double mean = 0;
  for (double w : blend) mean += w / static_cast<double>(count);
  const int64_t h = inputs.content.size(-2), w = inputs.content.size(-1);
  const auto options = inputs.content.options();
  targets_.assign(names_.size(), torch::Tensor());
  region_masks_.assign(names_.size(), {});
  region_mass_.assign(names_.size(), {});
  std::vector<std::vector<torch::Tensor>> grams(names_.size()), weights(names_.size());
  for (size_t r = 0; r < count; ++r) {
    const std::vector<torch::Tensor> style_grams =
        masked_grams(inputs, styles[r], regions.style.empty() ? torch::Tensor() : regions.style[r], r);
    for (size_t j = 0; j < names_.size(); ++j) {
      const torch::Tensor& gram = style_grams[j];
      grams[j].push_back(gram);
      // Where it applies: the content mask at this layer of this scale.
      const int64_t stride = stride_of(names_[j]);
      const torch::Tensor cm = mask_at(regions.content[r], h, w, stride, options);
      const double mass = cm.sum().item<double>();
      region_masks_[j].push_back(cm);
      region_mass_[j].push_back(mass);
      // The region's weight is its share of the image: complementary masks,
      // soft edges included, pull every location as hard as one style does.
      const double share = mass / static_cast<double>(cm.numel());
      weights[j].push_back(style_normalizer(gram, names_[j], units_) * (share * blend[r] / mean));
    }
  }
  normalizers_.clear();
  for (size_t j = 0; j < names_.size(); ++j) {
    targets_[j] = torch::cat(grams[j]);
    region_weights_.push_back(torch::cat(weights[j]));
    // The normalizers are in the region weights already.
    normalizers_.push_back(torch::ones({1}, options.dtype(torch::kFloat32)));
  }
}

void StyleTerm::prepare_blended(const TargetInputs& inputs) {
  std::vector<std::vector<torch::Tensor>> member_grams(names_.size());  // per layer, per member
  for (const auto& styles : inputs.styles) {
    std::vector<double> blend = inputs.blend;
    if (blend.empty()) blend.assign(styles.size(), 1.0);
    double sum = 0;
    for (double w : blend) sum += w;
    std::vector<torch::Tensor> grams;
    for (size_t s = 0; s < styles.size(); ++s) {
      const std::vector<torch::Tensor> style_grams = masked_grams(inputs, styles[s], torch::Tensor(), s);
      for (size_t j = 0; j < names_.size(); ++j) {
        const torch::Tensor gram = style_grams[j] * (blend[s] / sum);
        if (s == 0) {
          grams.push_back(gram);
        } else {
          grams[j] += gram;
        }
      }
    }
    for (size_t j = 0; j < names_.size(); ++j) member_grams[j].push_back(grams[j]);
  }
  targets_.clear();
  normalizers_.clear();
  for (size_t j = 0; j < names_.size(); ++j) {
    targets_.push_back(torch::cat(member_grams[j]));
    normalizers_.push_back(style_normalizer(targets_.back(), names_[j], units_));
  }
}

std::vector<torch::Tensor> StyleTerm::masked_grams(const TargetInputs& inputs, const torch::Tensor& style,
                                                   const torch::Tensor& mask, size_t index) const {
  const auto plain = [this](const Piece& piece) { return plain_grams(piece); };
  if (!mask.defined()) return sum_over_style_pieces(inputs, style, plain);
  // The mask at each layer's size, and its mass there.
  std::vector<torch::Tensor> masks;
  std::vector<double> masses;
  for (const auto& layer : names_) {
    const int64_t stride = stride_of(layer);
    masks.push_back(mask_at(mask, style.size(-2), style.size(-1), stride, inputs.content.options()));
    masses.push_back(masks.back().sum().item<double>());
    if (masses.back() <= 0) {
      throw OptionError("the style mask of style " + std::to_string(index + 1) + " is black at " + layer);
    }
  }
  return sum_over_style_pieces(inputs, style, [&](const Piece& piece) {
    std::vector<torch::Tensor> grams;
    for (size_t j = 0; j < names_.size(); ++j) {
      const int64_t stride = stride_of(names_[j]);
      grams.push_back(guided_gram(piece.owned(piece.features(names_[j]), stride),
                                  piece.owned_of_whole(masks[j], stride), masses[j]));
    }
    return grams;
  });
}

std::vector<torch::Tensor> StyleTerm::statistics(const Piece& piece) const {
  std::vector<torch::Tensor> grams;
  if (!region_masks_.empty()) {
    // Per layer, (B, R, C, C): each region's guided Gram matrix (a tile's share of it).
    for (size_t j = 0; j < names_.size(); ++j) {
      const int64_t stride = stride_of(names_[j]);
      const torch::Tensor owned = piece.owned(piece.features(names_[j]), stride);
      std::vector<torch::Tensor> regions;
      for (size_t r = 0; r < region_masks_[j].size(); ++r) {
        regions.push_back(guided_gram(owned, piece.owned_of_whole(region_masks_[j][r], stride), region_mass_[j][r]));
      }
      grams.push_back(torch::stack(regions, 1));
    }
    return grams;
  }
  return plain_grams(piece);
}

std::vector<torch::Tensor> StyleTerm::plain_grams(const Piece& piece) const {
  std::vector<torch::Tensor> grams;
  for (const auto& layer : names_) {
    if (piece.whole()) {
      grams.push_back(gram_matrix(piece.features(layer)));
      continue;
    }
    // The tile's share of the whole image's Gram matrix.
    const int64_t stride = stride_of(layer);
    const torch::Tensor owned = piece.owned(piece.features(layer), stride);
    const double share = static_cast<double>(owned.size(2) * owned.size(3)) / piece.whole_locations(stride);
    grams.push_back(gram_matrix(owned) * share);
  }
  return grams;
}

torch::Tensor StyleTerm::loss(const std::vector<torch::Tensor>& grams) const {
  std::vector<torch::Tensor> errors;
  if (!region_masks_.empty()) {
    for (size_t j = 0; j < grams.size(); ++j) {
      // (B, R): each region's mean squared error, weighted and summed over the regions.
      const torch::Tensor error = gram_error(grams[j], targets_[j].unsqueeze(0));
      errors.push_back((error * region_weights_[j].unsqueeze(0)).sum(1));
    }
    return weighted_sum(errors);
  }
  for (size_t j = 0; j < grams.size(); ++j) errors.push_back(gram_error(grams[j], targets_[j]));
  return weighted_sum(errors);
}

void TotalVariationTerm::prepare(const TargetInputs& inputs) {
  size_factor_ = size_factor(inputs.content.size(-2), inputs.content.size(-1));
}

std::vector<torch::Tensor> TotalVariationTerm::statistics(const Piece& piece) const {
  if (piece.whole()) return {total_variation(piece.image(), norm_)};
  // The differences between an owned pixel and its neighbour below or to the
  // right, where the piece has that neighbour (its halo; none at the image's border).
  const torch::Tensor x = piece.image().to(torch::kFloat32);
  const Window w = piece.owned_window(1);
  const int64_t rows = std::min(w.height, x.size(-2) - 1 - w.top), columns = std::min(w.width, x.size(-1) - 1 - w.left);
  const auto part = [&](int64_t top, int64_t left, int64_t height, int64_t width) {
    return x.narrow(-2, top, height).narrow(-1, left, width);
  };
  const torch::Tensor dy = part(w.top + 1, w.left, rows, w.width) - part(w.top, w.left, rows, w.width);
  const torch::Tensor dx = part(w.top, w.left + 1, w.height, columns) - part(w.top, w.left, w.height, columns);
  return {variation(dy, dx, norm_)};
}

torch::Tensor TotalVariationTerm::loss(const std::vector<torch::Tensor>& statistics) const {
  return weight_ * size_factor_ * statistics.front();
}

void TemporalTerm::prepare(const TargetInputs& inputs) {
  const int64_t h = inputs.content.size(-2), w = inputs.content.size(-1);
  size_factor_ = size_factor(h, w);
  if (inputs.temporal.warped.size() != inputs.temporal.masks.size()) {
    throw OptionError("the temporal term needs one mask per warped previous frame");
  }
  warped_.clear();
  masks_.clear();
  const auto options = inputs.content.options().dtype(torch::kFloat32);
  for (size_t k = 0; k < inputs.temporal.warped.size(); ++k) {
    const torch::Tensor& mask = inputs.temporal.masks[k];
    if (mask.dim() != 2) throw OptionError("a temporal mask must be (H, W)");
    warped_.push_back(resize_to(inputs.temporal.warped[k].to(torch::kFloat32), h, w).to(options));
    masks_.push_back(
        resize_to(mask.view({1, 1, mask.size(0), mask.size(1)}).to(torch::kFloat32), h, w).clamp(0.0, 1.0).to(options));
  }
}

std::vector<torch::Tensor> TemporalTerm::statistics(const Piece& piece) const {
  const torch::Tensor x = piece.image().to(torch::kFloat32);
  torch::Tensor sum = torch::zeros({x.size(0)}, x.options());
  for (size_t k = 0; k < warped_.size(); ++k) {
    // The owned pixels of a tile (all of them for the whole image): a sum over pixels adds up over tiles.
    const torch::Tensor difference = piece.owned(x, 1) - piece.owned_of_whole(warped_[k], 1);
    sum = sum + (piece.owned_of_whole(masks_[k], 1) * difference.square()).sum({1, 2, 3});
  }
  return {sum};
}

torch::Tensor TemporalTerm::loss(const std::vector<torch::Tensor>& statistics) const {
  return weight_ * size_factor_ * statistics.front();
}

std::vector<std::string> Objective::term_names() const {
  std::vector<std::string> names;
  for (const auto& term : terms_) names.push_back(term->name());
  return names;
}

std::vector<std::string> Objective::layers() const {
  std::vector<std::string> layers;
  for (const auto& term : terms_) {
    for (const auto& layer : term->layers()) {
      if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
    }
  }
  return layers;
}

void Objective::prepare(const TargetInputs& inputs) {
  for (const auto& term : terms_) term->prepare(inputs);
}

torch::Tensor Objective::evaluate(const torch::Tensor& image, const FeatureExtractor& network) const {
  const Piece piece(image, layers().empty() ? Features() : network(image));
  std::vector<std::vector<torch::Tensor>> statistics;
  for (const auto& term : terms_) statistics.push_back(term->statistics(piece));
  return losses_of(statistics, image.size(0), image.options());
}

torch::Tensor Objective::losses_of(const std::vector<std::vector<torch::Tensor>>& statistics, int64_t batch,
                                   const torch::TensorOptions& options) const {
  std::vector<torch::Tensor> columns(1);
  for (size_t i = 0; i < terms_.size(); ++i) {
    columns.push_back(terms_[i]->loss(statistics[i]));
    columns.front() = columns.size() == 2 ? columns.back() : columns.front() + columns.back();
  }
  if (terms_.empty()) columns.front() = torch::zeros({batch}, options.dtype(torch::kFloat32));
  return torch::stack(columns, 1);
}

Objective make_objective(const StylizeOptions& options, LossUnits units) {
  Objective objective;
  objective.add(std::make_unique<StyleTerm>(options.style_layers, options.style_weight, units));
  objective.add(std::make_unique<ContentTerm>(options.content_layers, options.content_weight, units));
  objective.add(std::make_unique<TotalVariationTerm>(options.tv_norm, options.tv_weight));
  if (options.temporal_weight > 0) objective.add(std::make_unique<TemporalTerm>(options.temporal_weight));
  return objective;
}

}  // namespace stylize
