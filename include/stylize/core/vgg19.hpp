// The feature extractor: the 16 convolutions of VGG19 (configuration E) with
// their ReLUs and 2x2 pools, addressed by layer name (conv1_1, relu1_1, pool1,
// ... relu5_4, pool5; the table is stylize/vgg19_layers.hpp). Parameters are
// frozen; the network is built only up to the deepest layer a run needs and its
// channel widths come from the weights.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include "stylize/types.hpp"
#include "stylize/vgg19_layers.hpp"
#include "stylize/weights/weights.hpp"

namespace stylize {

class Vgg19Features : public torch::nn::Module {
 public:
  // Builds the network up to the deepest of `outputs` from `weights`, which
  // must hold at least that many convolutions with consistent shapes.
  // Throws WeightsError or OptionError.
  Vgg19Features(const VggWeights& weights, std::vector<std::string> outputs, Pooling pooling = Pooling::Max);

  // image: (N, 3, H, W), RGB in [0, 1], any floating dtype. Returns the
  // activations of each requested layer, in the order they were requested,
  // in the dtype and memory format the network runs in.
  std::vector<torch::Tensor> forward(const torch::Tensor& image);

  // Casts parameters and chooses the memory format the network runs in. In
  // bf16 or fp16 the image is not rounded before the first convolution: on
  // the CPU in bf16 it runs in bf16 on the image and its weights each split
  // into two bf16 parts (as exact as float32 up to its output's rounding, at
  // bf16's speed); elsewhere it runs in float32 on the float32 input and its
  // output is cast.
  void configure(torch::Device device, torch::Dtype dtype, bool channels_last);

  const std::vector<std::string>& outputs() const { return outputs_; }
  const std::string& deepest_layer() const { return vgg19_layer_names()[last_layer_]; }
  torch::Dtype dtype() const { return dtype_; }
  // Smallest image side for which the deepest layer still has one pixel.
  int64_t min_input_side() const;
  const InputConvention& convention() const { return convention_; }
  // Output channels of each convolution built, in order.
  std::vector<int64_t> widths() const;

 private:
  torch::Tensor normalize(const torch::Tensor& image) const;
  torch::Tensor split_first_conv(const torch::Tensor& x) const;
  bool pools_before_relu(int relu_index) const;

  std::vector<torch::nn::Conv2d> convs_;
  std::vector<std::string> outputs_;
  std::vector<int> output_slot_;  // layer index -> position in outputs_, or -1
  int last_layer_ = 0;
  Pooling pooling_;
  InputConvention convention_;
  torch::Tensor scale_, shift_;  // per-channel affine of the input convention
  torch::Dtype dtype_ = torch::kFloat32;
  torch::Dtype first_dtype_ = torch::kFloat32;  // conv1_1's input: never below float32
  torch::Tensor split_weight_;                  // conv1_1 as split_first_conv runs it, when it does
  bool channels_last_ = false;
};

}  // namespace stylize
