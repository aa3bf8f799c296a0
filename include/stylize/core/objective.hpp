// The loss of style transfer as a set of small terms (content, style Gram,
// total variation, masked style, temporal) that an Objective owns, asks
// the network for, prepares once per scale and sums. The optimizer loop only
// calls Objective::evaluate, so a new term changes nothing there.
//
// Every term is written as "statistics of a piece, then loss of statistics":
//   statistics(piece): tensors computed from one piece of the image (the whole
//     image, or a tile) whose SUM over the pieces of a partition is the
//     statistic of the whole image: a Gram matrix divided by the whole map's
//     locations, a sum of squared differences divided by the whole map's size.
//   loss(statistics): each batch member's weighted loss from the statistics of
//     the whole image.
// Evaluating the whole image is loss(statistics(Piece(image, features))).
//
// A tiled evaluation (an image too large for the device: core/tiling.hpp) uses
// the same terms without changing them:
//   1. without gradient, for every tile (cut with a halo of
//      the deepest layer's reach, tile_geometry(), so that the features of
//      the region it owns are exact): run the network,
//      make a Piece with the owned and cut windows, add up statistics(piece);
//   2. with gradient on the summed statistics S only: L = loss(S); backward
//      gives dL/dS, held fixed from here on;
//   3. for every tile again, with gradient: s = statistics(piece), backward of
//      sum(s * dL/dS); the image gradients of the tiles add up to dL/dimage.
// For local terms (content, total variation, temporal) loss is linear in the
// statistics (dL/dS = 1), so step 1 is needed only for their values; global
// terms (a Gram) need it to fix dL/dG before any tile's backward.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "stylize/core/options.hpp"

namespace stylize {

// Gram matrix of (N, C, H, W) features: (N, C, C) in float32, divided by H*W
// (the number of spatial locations), as the TensorFlow tutorial does. On the
// CPU with oneDNN it is computed straight from bf16 features; its backward
// pass is hand-written (one matrix product in the features' dtype).
torch::Tensor gram_matrix(const torch::Tensor& features);

// The plain loss functions, per batch member: (N,) for (N, C, H, W) inputs, in
// float32 whatever the inputs' dtype, so the members of a batch are optimized
// exactly as they would be one at a time.
// Content: mean squared error of each member's features against the target (1 or N, C, H, W).
torch::Tensor content_loss(const torch::Tensor& features, const torch::Tensor& target_features);
// Style: mean squared error between each member's Gram matrix and its target Gram (1 or N, C, C).
torch::Tensor style_loss(const torch::Tensor& features, const torch::Tensor& target_gram);
// The mean squared error of Gram matrices over their last two dimensions:
// (..., C, C) -> (...). style_loss() and StyleTerm (per region, too) use it.
torch::Tensor gram_error(const torch::Tensor& gram, const torch::Tensor& target_gram);
// Total variation: L1 is the sum of absolute differences of neighbouring pixels
// (tf.image.total_variation), L2 the sum of their squares.
torch::Tensor total_variation(const torch::Tensor& image, TvNorm norm = TvNorm::L1);

// The layers the network computed for one image batch, by name.
class Features {
 public:
  Features() = default;
  Features(std::vector<std::string> layers, std::vector<torch::Tensor> maps);
  // The map of `layer`; throws std::out_of_range when it was not computed.
  const torch::Tensor& operator[](const std::string& layer) const;

 private:
  std::vector<std::string> layers_;
  std::vector<torch::Tensor> maps_;
};

// The network as the objective sees it: the layers of Objective::layers() of an
// (N, 3, H, W) float32 image in [0, 1].
using FeatureExtractor = std::function<Features(const torch::Tensor& image)>;

// Rows [top, top + height) and columns [left, left + width) of an image, in pixels.
struct Window {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// The part of the image a loss is evaluated on: the whole image, or a tile that
// owns `owned` of the whole image and was cut from it as `cut` (owned plus a
// halo), both in whole-image pixels and aligned to the deepest layer's stride.
class Piece {
 public:
  // The whole image and its features.
  Piece(torch::Tensor image, Features features);
  // A tile of an image of whole_height x whole_width pixels.
  Piece(torch::Tensor image, Features features, Window cut, Window owned, int64_t whole_height, int64_t whole_width);

  const torch::Tensor& image() const { return image_; }
  const torch::Tensor& features(const std::string& layer) const { return features_[layer]; }
  bool whole() const { return whole_; }

  // The owned region in the coordinates of this piece's maps at `stride` (the
  // image: 1; a layer's features: its receptive_field().stride).
  Window owned_window(int64_t stride) const;
  // The owned part of such a map (the map itself for the whole image).
  torch::Tensor owned(const torch::Tensor& map, int64_t stride) const;
  // The owned part of a map of the WHOLE image at `stride` (a target, a mask).
  torch::Tensor owned_of_whole(const torch::Tensor& whole_map, int64_t stride) const;
  // Locations of the whole image's map at `stride`: what a mean over it divides by.
  int64_t whole_locations(int64_t stride) const;
  int64_t whole_height() const { return whole_height_; }
  int64_t whole_width() const { return whole_width_; }

 private:
  torch::Tensor image_;
  Features features_;
  bool whole_ = true;
  Window cut_, owned_;
  int64_t whole_height_ = 0, whole_width_ = 0;
};

// Statistics of one piece, summable over the pieces of an image (LossTerm::statistics).
using PieceStatistics = std::function<std::vector<torch::Tensor>(const Piece& piece)>;
// The sum of `statistics` over the pieces of `image`, without gradient: the
// whole image as one piece, or its tiles (core/tiling.hpp).
using PieceSum =
    std::function<std::vector<torch::Tensor>(const torch::Tensor& image, const PieceStatistics& statistics)>;

// What the temporal term of a video frame holds the image to (Ruder et al.,
// core/temporal_loss.hpp): the previous output frames warped onto this frame,
// nearest first, each (1, 3, H, W) float32 in [0, 1] at the content's size,
// and the mask of each, (H, W) in [0, 1], already made long-term
// (long_term_masks) so that no pixel counts twice. Empty: the first frame.
struct TemporalGuide {
  std::vector<torch::Tensor> warped;
  std::vector<torch::Tensor> masks;
};

// Regional styles (Gatys, Ecker, Bethge, Hertzmann and Shechtman, "Controlling
// Perceptual Factors in Neural Style Transfer", CVPR 2017): each style applies
// where its content mask is white. Masks are (H, W) float tensors in [0, 1] of
// any size (soft masks blend); the style term resizes them to the scale and
// then to each layer by area averaging.
struct RegionMasks {
  std::vector<torch::Tensor> content;  // one per style; empty: every style everywhere, blended
  std::vector<torch::Tensor> style;    // empty, or one per style: where on the style image its statistics
                                       // are taken from (an undefined tensor: the whole image)
  bool empty() const { return content.empty(); }
};

// What a run holds the image to besides its content and styles.
struct Guides {
  RegionMasks regions;
  TemporalGuide temporal;
};

// What the terms get to compute their targets for one scale of a run. The
// engine resizes and prepares the images (colour preservation); new inputs (a
// region mask, a warped previous frame) are added here, and the terms that use
// them resize them to a layer or to the scale themselves.
struct TargetInputs {
  torch::Tensor content;         // (1, 3, h, w) on the device, as the network sees it at this scale
  torch::Tensor content_source;  // the content given to run(), unchanged: a key for caching targets
  int size = 0;                  // longest side of this scale
  // Per batch member: its style images at this scale, prepared like the content.
  std::vector<std::vector<torch::Tensor>> styles;
  std::vector<double> blend;  // weights of a member's styles (normalized); empty: equal
  // The style images given to run(), unchanged, when `styles` depend on them
  // alone (not on the content, as colour preservation makes them): a key for
  // caching the style targets over the frames of a video. Empty: no caching.
  std::vector<std::vector<torch::Tensor>> style_sources;
  FeatureExtractor features;  // the network, to be called without gradient
  // Where set, targets are summed over pieces by it (a tiled run: the network
  // never sees a whole image); else over the whole image (sum_over_pieces).
  PieceSum over_pieces;
  // Where set, the style images' targets are summed over pieces by it: a
  // style too large to pass through the network whole while the image is
  // (TilePlan::style_tile). Else as over_pieces says.
  PieceSum style_pieces;
  TemporalGuide temporal;  // at the content's full size; the term resizes it to the scale
  RegionMasks regions;     // for a single member (run()); the style term resizes them
};

// inputs.over_pieces(image, statistics), or statistics of the whole image and
// its features when it is not set.
std::vector<torch::Tensor> sum_over_pieces(const TargetInputs& inputs, const torch::Tensor& image,
                                           const PieceStatistics& statistics);

// The same for a style image: by inputs.style_pieces where it is set.
std::vector<torch::Tensor> sum_over_style_pieces(const TargetInputs& inputs, const torch::Tensor& style,
                                                 const PieceStatistics& statistics);

// One term of the objective.
class LossTerm {
 public:
  virtual ~LossTerm() = default;
  // "content", "style", "tv": the key of its column in progress, reports and plots.
  virtual std::string name() const = 0;
  // The network layers it reads (none for terms on the image alone).
  virtual std::vector<std::string> layers() const = 0;
  // Computes its targets for a scale; called once per scale before any evaluation.
  virtual void prepare(const TargetInputs& inputs) = 0;
  // See the top of this file: statistics of a piece, summable over pieces...
  virtual std::vector<torch::Tensor> statistics(const Piece& piece) const = 0;
  // ...and each batch member's weighted loss (B,), float32, from the whole image's statistics.
  virtual torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const = 0;
};

// A term over network layers, each with a weight (normalized to sum to one,
// times the term's weight): the base of the content and style terms. In
// normalized units (core/loss_units.hpp) each layer's loss is also multiplied
// by a normalizer computed from its target when the targets are prepared.
class LayerTerm : public LossTerm {
 public:
  LayerTerm(const std::vector<LayerWeight>& layers, double weight, LossUnits units = LossUnits::Tutorial);
  std::vector<std::string> layers() const override { return names_; }
  LossUnits units() const { return units_; }

 protected:
  // sum over layers of weights_[i] * normalizers_[i] * values[i], each (B,).
  torch::Tensor weighted_sum(const std::vector<torch::Tensor>& values) const;

  std::vector<std::string> names_;
  std::vector<double> weights_;
  LossUnits units_;
  std::vector<torch::Tensor> normalizers_;  // per layer: (1 or B,) float32, frozen with the targets
};

// Content: mean squared error of feature maps against the content's.
class ContentTerm : public LayerTerm {
 public:
  using LayerTerm::LayerTerm;
  std::string name() const override { return "content"; }
  void prepare(const TargetInputs& inputs) override;
  std::vector<torch::Tensor> statistics(const Piece& piece) const override;
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override { return weighted_sum(statistics); }

 private:
  std::vector<torch::Tensor> targets_;  // (1, C, h, w) float32 per layer
  torch::Tensor cached_source_;         // the content and size the targets were computed for
  int cached_size_ = 0;
};

// Style: mean squared error of Gram matrices against the styles' (a member's
// several styles blended). With region masks (TargetInputs::regions) each
// style r is a region: at each layer its guided Gram matrix
//   G_r = sum_p m_r(p) F(p) F(p)^T / sum_p m_r(p)
// (each location weighted by the content mask m_r at the layer's resolution,
// normalized by the mask's mass) is compared with the style's, taken the same
// way under its style mask; region r's error is weighted by its share of the
// image, sum_p m_r(p) / locations, and by its --style-weights weight relative
// to their mean. So an all-white mask is exactly the unmasked term, a uniform
// grey c applies c times the style, and complementary masks (m, 1 - m), soft
// edges included, pull each location as hard as one style would: region r
// pulls at p in proportion to m_r(p) / locations.
class StyleTerm : public LayerTerm {
 public:
  using LayerTerm::LayerTerm;
  std::string name() const override { return "style"; }
  void prepare(const TargetInputs& inputs) override;
  std::vector<torch::Tensor> statistics(const Piece& piece) const override;
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override;

 private:
  void prepare_blended(const TargetInputs& inputs);
  void prepare_regions(const TargetInputs& inputs);
  // Per layer, (B, C, C): a piece's share of the Gram matrices, without masks.
  std::vector<torch::Tensor> plain_grams(const Piece& piece) const;
  // Per layer, the Gram matrix of style image `index`'s features under
  // `mask` (where its statistics are taken from; undefined: everywhere),
  // summed over its pieces when they are set (sum_over_style_pieces).
  std::vector<torch::Tensor> masked_grams(const TargetInputs& inputs, const torch::Tensor& style,
                                          const torch::Tensor& mask, size_t index) const;

  // (B, C, C) float32 per layer: one blended Gram per member; with regions
  // (R, C, C): one per region.
  std::vector<torch::Tensor> targets_;
  // Regions, per layer: each region's content mask at the layer's resolution
  // of this scale ((1, 1, h, w), float32), its mass sum m, and the weight of
  // its error (share x style weight x normalizer), (R,) float32.
  std::vector<std::vector<torch::Tensor>> region_masks_;
  std::vector<std::vector<double>> region_mass_;
  std::vector<torch::Tensor> region_weights_;
  // The inputs the targets were computed from (TargetInputs::style_sources), for reuse.
  std::vector<std::vector<torch::Tensor>> cached_sources_;
  std::vector<torch::Tensor> cached_masks_;
  std::vector<double> cached_blend_;
  int cached_size_ = 0;
};

// Total variation of the image, times `weight` and the scale's size factor
// (512 / longest side)^2 (core/loss_units.hpp): content and style are means,
// whose gradient per pixel falls with the pixel count, and total variation a
// sum, so without the factor its pull would grow with the size. Exactly 1 at
// longest side 512, the tutorial's size.
class TotalVariationTerm : public LossTerm {
 public:
  TotalVariationTerm(TvNorm norm, double weight) : norm_(norm), weight_(weight) {}
  std::string name() const override { return "tv"; }
  std::vector<std::string> layers() const override { return {}; }
  void prepare(const TargetInputs& inputs) override;
  std::vector<torch::Tensor> statistics(const Piece& piece) const override;
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override;

 private:
  TvNorm norm_;
  double weight_;
  double size_factor_ = 1.0;
};

// Temporal consistency (Ruder, Dosovitskiy and Brox 2016): for each previous
// output warped onto this frame, the squared difference of the image to it
// over the reliable pixels, summed over pixels and channels, times `weight`
// and the size factor as total variation (so it keeps its pull against the
// other terms at any size: at longest side 512 it is exactly
// weight * sum c (x - w)^2). Zero for the first frame (an empty guide).
class TemporalTerm : public LossTerm {
 public:
  explicit TemporalTerm(double weight) : weight_(weight) {}
  std::string name() const override { return "temporal"; }
  std::vector<std::string> layers() const override { return {}; }
  void prepare(const TargetInputs& inputs) override;
  std::vector<torch::Tensor> statistics(const Piece& piece) const override;
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override;

 private:
  double weight_;
  double size_factor_ = 1.0;
  std::vector<torch::Tensor> warped_, masks_;  // at the scale's size, on the device; masks (1, 1, h, w)
};

class Objective {
 public:
  // Adds a term; returns it, so a caller can keep setting its inputs (e.g. a temporal term's previous frame).
  template <typename Term>
  Term& add(std::unique_ptr<Term> term) {
    Term& added = *term;
    terms_.push_back(std::move(term));
    return added;
  }
  // The terms, in order (a tiled evaluation calls their statistics and loss itself).
  const std::vector<std::unique_ptr<LossTerm>>& terms() const { return terms_; }
  // The names of the terms, in order.
  std::vector<std::string> term_names() const;
  // Every layer a term reads, once each, in the order the terms ask for them:
  // what the network must compute (it is cut after the deepest).
  std::vector<std::string> layers() const;
  // Computes every term's targets for one scale.
  void prepare(const TargetInputs& inputs);
  // Losses of the whole image (B, 3, H, W): (B, 1 + terms) float32 on the
  // image's device, the total then each term's weighted loss.
  torch::Tensor evaluate(const torch::Tensor& image, const FeatureExtractor& network) const;
  // The same losses from every term's statistics of the whole image (in the
  // order of terms(); summed over tiles by core/tiling.hpp). `batch` and
  // `options` make the zero total of an objective without terms.
  torch::Tensor losses_of(const std::vector<std::vector<torch::Tensor>>& statistics, int64_t batch,
                          const torch::TensorOptions& options) const;

 private:
  std::vector<std::unique_ptr<LossTerm>> terms_;
};

// The objective of Gatys et al. as the options configure it: style, content and
// total variation, in that order (then temporal when options.temporal_weight > 0), content and style in `units`
// (resolved: not LossUnits::Auto; resolve_loss_units picks them from the weights).
Objective make_objective(const StylizeOptions& options, LossUnits units);

}  // namespace stylize
