// Exact evaluation of an Objective over tiles: the losses and the gradient of
// an image evaluated one tile at a time, equal to the whole image's up to float
// rounding (the procedure objective.hpp describes at its top). It bounds the
// network's memory by one tile's forward and backward pass; the image, its
// gradient and each term's statistics (Gram matrices) stay whole. The engine
// uses it for StylizeOptions::tile (--tile).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "stylize/core/objective.hpp"

namespace stylize {

// How far tiles reach beyond the region they own, and the grid they keep to.
struct TileGeometry {
  // Pixels on each side: how far the deepest layer's features of the owned
  // region look beyond it (its receptive field: 86 px for relu5_2, whose field
  // is 188 px wide), rounded up to the stride. Total variation alone needs 1.
  int64_t halo = 1;
  int64_t stride = 1;  // pixels: the deepest layer's stride (2^pools); every window starts on a multiple
  // The side a tile of `tile` pixels owns: rounded down to the stride, at least one stride.
  int64_t step(int64_t tile) const { return std::max(stride, tile / stride * stride); }
};

// The geometry `layers` need. Throws OptionError for an unknown layer.
TileGeometry tile_geometry(const std::vector<std::string>& layers);

// One tile: the region of the whole image it owns, and the region it is cut
// from it as (owned plus the halo, clipped to the image).
struct Tile {
  Window cut, owned;
};

// Cuts a height x width image into tiles that own `tile` x `tile` pixels
// (rounded down to a multiple of the stride, at least one stride), row by row.
// The owned windows partition the image; a remainder smaller than a stride at
// the bottom or right joins the last tile, so that every tile owns at least
// one location of the deepest layer. Throws OptionError for tile < 1.
std::vector<Tile> plan_tiles(int64_t height, int64_t width, int64_t tile, const TileGeometry& geometry);

struct TiledEvaluation {
  torch::Tensor losses;    // (B, 1 + terms) float32, as Objective::evaluate gives them (without a graph)
  torch::Tensor gradient;  // loss_scale x d(sum of the members' total losses) / d image: the image's shape, float32
};

// Evaluates `objective` on `image` (B, 3, H, W) in tiles of `tile` pixels:
// pass 1 runs the network without gradient on every tile and sums each term's
// statistics; the loss of those sums gives dL/dS, held fixed; pass 2 runs every
// tile forward and backward against dL/dS and adds its gradient (the halo's
// too) into one full-size buffer. The network runs twice per tile, and a tile
// costs more than its share of the whole image by its halo.
//
// `stop`, when given, is asked before each tile, in both passes: once it
// returns true the evaluation is abandoned with TiledEvaluationStopped (an
// iteration of a large print takes minutes; a stop request waits one tile).
TiledEvaluation evaluate_tiled(const Objective& objective, const torch::Tensor& image, const FeatureExtractor& network,
                               int64_t tile, double loss_scale = 1.0, const std::function<bool()>& stop = {});

// Thrown by evaluate_tiled and sum_over_tiles when their `stop` check asks to
// stop between tiles.
struct TiledEvaluationStopped : std::runtime_error {
  TiledEvaluationStopped() : std::runtime_error("tiled evaluation stopped between tiles") {}
};

// The losses alone (pass 1): (B, 1 + terms) float32.
torch::Tensor tiled_losses(const Objective& objective, const torch::Tensor& image, const FeatureExtractor& network,
                           int64_t tile);

// sum over the tiles of `image` of statistics(piece), without gradient: what
// TargetInputs::over_pieces does for a tiled run (the layers: the network's).
// `stop`, when given, is asked before each tile after the first, as
// evaluate_tiled's (a style's targets in tiles take up to a minute).
std::vector<torch::Tensor> sum_over_tiles(const torch::Tensor& image, const FeatureExtractor& network,
                                          const std::vector<std::string>& layers, int64_t tile,
                                          const PieceStatistics& statistics, const std::function<bool()>& stop = {});

}  // namespace stylize
