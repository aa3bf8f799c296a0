// A loss term the default objective does not have, for the tests of the
// engine's loop (test_engine.cpp, test_engine_optimizers.cpp).
#pragma once

#include <string>
#include <vector>

#include "stylize/core/objective.hpp"

namespace stylize::test {

// weight * the mean of the image ("brightness"): darker is better, and its
// gradient is the same at every pixel, weight / (3 h w), falling 4-fold when
// the side doubles as the engine's means do.
class MeanBrightnessTerm : public LossTerm {
 public:
  explicit MeanBrightnessTerm(double weight) : weight_(weight) {}
  std::string name() const override { return "brightness"; }
  std::vector<std::string> layers() const override { return {}; }
  void prepare(const TargetInputs&) override { ++prepared; }
  std::vector<torch::Tensor> statistics(const Piece& piece) const override {
    return {piece.owned(piece.image(), 1).sum({1, 2, 3}) / static_cast<double>(3 * piece.whole_locations(1))};
  }
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override { return weight_ * statistics[0]; }

  int prepared = 0;  // how often prepare() ran

 private:
  double weight_;
};

}  // namespace stylize::test
