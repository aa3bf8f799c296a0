#include "stylize/core/tiling.hpp"

#include <algorithm>

#include <torch/autograd.h>

#include "stylize/errors.hpp"
#include "stylize/vgg19_layers.hpp"

namespace stylize {
namespace {

// The windows along one side: starts every `step` pixels, the last one taking
// a remainder smaller than `stride`.
std::vector<std::pair<int64_t, int64_t>> spans(int64_t length, int64_t step, int64_t stride) {
  std::vector<std::pair<int64_t, int64_t>> result;
  for (int64_t start = 0; start < length; start += step) {
    const int64_t end = length - (start + step) < stride ? length : start + step;
    result.emplace_back(start, end - start);
    if (end == length) break;
  }
  return result;
}

void add_to(std::vector<torch::Tensor>& sums, const std::vector<torch::Tensor>& part) {
  if (sums.empty()) {
    sums = part;
    return;
  }
  for (size_t k = 0; k < part.size(); ++k) sums[k] = sums[k] + part[k];
}

torch::Tensor cut_of(const torch::Tensor& image, const Tile& t) {
  return image.narrow(-2, t.cut.top, t.cut.height).narrow(-1, t.cut.left, t.cut.width);
}

Piece piece_of(const torch::Tensor& cut, const Tile& t, const FeatureExtractor& network,
               const std::vector<std::string>& layers, int64_t height, int64_t width) {
  return Piece(cut, layers.empty() ? Features() : network(cut), t.cut, t.owned, height, width);
}

// Pass 1: each term's statistics of the whole image, summed over the tiles.
// `kept`, when given, receives the last tile's piece and statistics computed
// with their graph, for pass 2 to go backward through without running that
// tile's network again: it costs no more memory than pass 2's one tile.
struct KeptTile {
  torch::Tensor cut;
  std::vector<std::vector<torch::Tensor>> statistics;  // per term
};

std::vector<std::vector<torch::Tensor>> summed_statistics(const Objective& objective, const torch::Tensor& pixels,
                                                          const FeatureExtractor& network,
                                                          const std::vector<Tile>& tiles, KeptTile* kept = nullptr,
                                                          const std::function<bool()>& stop = {}) {
  const auto& terms = objective.terms();
  const std::vector<std::string> layers = objective.layers();
  std::vector<std::vector<torch::Tensor>> sums(terms.size());
  for (size_t k = 0; k < tiles.size(); ++k) {
    if (stop && stop()) throw TiledEvaluationStopped();
    const Tile& t = tiles[k];
    const bool keep = kept != nullptr && k + 1 == tiles.size();
    torch::AutoGradMode grad_mode(keep);
    const torch::Tensor cut = keep ? cut_of(pixels, t).clone().requires_grad_(true) : cut_of(pixels, t);
    const Piece piece = piece_of(cut, t, network, layers, pixels.size(-2), pixels.size(-1));
    for (size_t i = 0; i < terms.size(); ++i) {
      std::vector<torch::Tensor> statistics = terms[i]->statistics(piece);
      std::vector<torch::Tensor> values;
      for (const auto& s : statistics) values.push_back(s.detach());
      add_to(sums[i], values);
      if (keep) kept->statistics.push_back(std::move(statistics));
    }
    if (keep) kept->cut = cut;
  }
  return sums;
}

// The tiles with the largest last: pass 1 keeps the last one's graph.
std::vector<Tile> largest_last(std::vector<Tile> tiles) {
  const auto area = [](const Tile& t) { return t.cut.height * t.cut.width; };
  const auto largest =
      std::max_element(tiles.begin(), tiles.end(), [&](const Tile& a, const Tile& b) { return area(a) < area(b); });
  std::rotate(largest, largest + 1, tiles.end());
  return tiles;
}

}  // namespace

TileGeometry tile_geometry(const std::vector<std::string>& layers) {
  // The owned region's features (j S in [top, top + n - S]) read the input
  // pixels [top - left, top + n - S + right] (receptive_field). Without
  // layers (total variation alone) a tile reaches one pixel beyond its region.
  const ReceptiveField field = layers.empty() ? ReceptiveField{} : receptive_field(deepest_layer_index(layers));
  const int64_t stride = field.stride;
  TileGeometry geometry;
  geometry.stride = stride;
  const int64_t reach = std::max<int64_t>({1, field.left, field.right - stride + 1});
  geometry.halo = (reach + stride - 1) / stride * stride;
  return geometry;
}

std::vector<Tile> plan_tiles(int64_t height, int64_t width, int64_t tile, const TileGeometry& geometry) {
  if (tile < 1) throw OptionError("the tile size must be at least 1 pixel, got " + std::to_string(tile));
  const int64_t step = geometry.step(tile);
  const int64_t halo = geometry.halo;
  std::vector<Tile> tiles;
  for (const auto& [top, rows] : spans(height, step, geometry.stride)) {
    for (const auto& [left, columns] : spans(width, step, geometry.stride)) {
      Tile t;
      t.owned = {top, left, rows, columns};
      const int64_t cut_top = std::max<int64_t>(0, top - halo), cut_left = std::max<int64_t>(0, left - halo);
      t.cut = {cut_top, cut_left, std::min(height, top + rows + halo) - cut_top,
               std::min(width, left + columns + halo) - cut_left};
      tiles.push_back(t);
    }
  }
  return tiles;
}

torch::Tensor tiled_losses(const Objective& objective, const torch::Tensor& image, const FeatureExtractor& network,
                           int64_t tile) {
  const torch::Tensor pixels = image.detach();
  const auto tiles = plan_tiles(pixels.size(-2), pixels.size(-1), tile, tile_geometry(objective.layers()));
  torch::NoGradGuard no_grad;
  return objective.losses_of(summed_statistics(objective, pixels, network, tiles), pixels.size(0), pixels.options());
}

TiledEvaluation evaluate_tiled(const Objective& objective, const torch::Tensor& image, const FeatureExtractor& network,
                               int64_t tile, double loss_scale, const std::function<bool()>& stop) {
  const auto& terms = objective.terms();
  const std::vector<std::string> layers = objective.layers();
  const int64_t height = image.size(-2), width = image.size(-1);
  const std::vector<Tile> tiles = largest_last(plan_tiles(height, width, tile, tile_geometry(layers)));
  const torch::Tensor pixels = image.detach();

  KeptTile kept;
  std::vector<std::vector<torch::Tensor>> sums = summed_statistics(objective, pixels, network, tiles, &kept, stop);
  // The losses of the sums, and dL/dS, the gradient of the total of every
  // member with respect to each statistic (times the loss scale).
  std::vector<torch::Tensor> statistics;
  for (auto& term_sums : sums) {
    for (auto& s : term_sums) statistics.push_back(s.requires_grad_(true));
  }
  std::vector<torch::Tensor> slopes;
  torch::Tensor losses;
  {
    torch::AutoGradMode grad_mode(true);
    losses = objective.losses_of(sums, image.size(0), pixels.options());
    if (!statistics.empty()) {
      slopes = torch::autograd::grad({losses.select(1, 0).sum() * loss_scale}, statistics, /*grad_outputs=*/{},
                                     /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    }
  }

  // Pass 2: each tile's backward of sum(s * dL/dS), added up; the last tile
  // of pass 1 first, through the graph pass 1 kept.
  torch::Tensor gradient = torch::zeros_like(pixels, pixels.options().dtype(torch::kFloat32));
  for (size_t n = tiles.size(); n-- > 0;) {
    if (n + 1 < tiles.size() && stop && stop()) throw TiledEvaluationStopped();
    const Tile& t = tiles[n];
    torch::Tensor cut;
    std::vector<std::vector<torch::Tensor>> tile_statistics;
    if (n + 1 == tiles.size() && kept.cut.defined()) {
      cut = std::move(kept.cut);
      tile_statistics = std::move(kept.statistics);
    } else {
      cut = cut_of(pixels, t).clone().requires_grad_(true);
      const Piece piece = piece_of(cut, t, network, layers, height, width);
      for (const auto& term : terms) tile_statistics.push_back(term->statistics(piece));
    }
    torch::Tensor surrogate;
    size_t k = 0;
    for (const auto& term_statistics : tile_statistics) {
      for (const torch::Tensor& s : term_statistics) {
        const torch::Tensor& slope = slopes[k++];
        if (!slope.defined() || !s.requires_grad()) continue;
        const torch::Tensor part = (s * slope.to(s.scalar_type())).sum();
        surrogate = surrogate.defined() ? surrogate + part : part;
      }
    }
    tile_statistics.clear();
    if (!surrogate.defined()) continue;
    const torch::Tensor tile_gradient = torch::autograd::grad({surrogate}, {cut})[0];
    cut_of(gradient, t).add_(tile_gradient);
  }
  return {losses.detach(), gradient};
}

std::vector<torch::Tensor> sum_over_tiles(const torch::Tensor& image, const FeatureExtractor& network,
                                          const std::vector<std::string>& layers, int64_t tile,
                                          const PieceStatistics& statistics, const std::function<bool()>& stop) {
  const int64_t height = image.size(-2), width = image.size(-1);
  std::vector<torch::Tensor> sums;
  torch::NoGradGuard no_grad;
  for (const Tile& t : plan_tiles(height, width, tile, tile_geometry(layers))) {
    if (!sums.empty() && stop && stop()) throw TiledEvaluationStopped();
    add_to(sums, statistics(piece_of(cut_of(image, t), t, network, layers, height, width)));
  }
  return sums;
}

}  // namespace stylize
