// The loss terms of Gatys-style transfer, as small pure functions. Inputs may be
// any floating dtype; everything is computed and returned in float32.
#pragma once

#include <torch/types.h>

#include "stylize/options.hpp"

namespace stylize {

// Gram matrix of (N, C, H, W) features: (N, C, C), divided by H*W (the number
// of spatial locations), as the TensorFlow tutorial does.
torch::Tensor gram_matrix(const torch::Tensor& features);

// Mean squared error between two tensors of the same shape (a scalar).
torch::Tensor mse(const torch::Tensor& a, const torch::Tensor& b);

// The terms below are per batch member: (N,) for (N, C, H, W) inputs, so the
// members of a batch are optimized exactly as they would be one at a time.

// Content loss: mean squared error of each member's feature maps against the
// target (1 or N, C, H, W).
torch::Tensor content_loss(const torch::Tensor& features, const torch::Tensor& target_features);

// Style loss: mean squared error between each member's Gram matrix and its
// target Gram (1 or N, C, C).
torch::Tensor style_loss(const torch::Tensor& features, const torch::Tensor& target_gram);

// Total variation of each (N, C, H, W) image: L1 is the sum of absolute
// differences of neighbouring pixels (tf.image.total_variation), L2 the sum of
// their squares.
torch::Tensor total_variation(const torch::Tensor& image, TvNorm norm = TvNorm::L1);

}  // namespace stylize
