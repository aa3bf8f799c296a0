#include "stylize/core/vgg19.hpp"

#include <algorithm>

#include <torch/autograd.h>
#include <torch/nn/functional/pooling.h>

#include "onednn.hpp"
#include "pooling.hpp"
#include "stylize/errors.hpp"

namespace stylize {

namespace {

// ReLU in place, through oneDNN on the CPU where it can (onednn.hpp says why);
// its gradient is LibTorch's, from the output as relu_'s is.
class InPlaceRelu : public torch::autograd::Function<InPlaceRelu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x) {
    if (!cpu_relu_(x)) x.relu_();
    ctx->mark_dirty({x});
    ctx->save_for_backward({x});
    return x;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    return {torch::threshold_backward(grads[0], ctx->get_saved_variables()[0], 0)};
  }
};

// conv1_1's weights for Vgg19Features::split_first_conv: (out, 11, kh, kw)
// bf16, [W_hi, W_hi, W_lo, b_hi, b_lo], the bias at the centre tap.
torch::Tensor split_first_weights(const torch::nn::Conv2d& conv) {
  const auto split = [](const torch::Tensor& t) {
    const torch::Tensor hi = t.to(torch::kBFloat16);
    return std::make_pair(hi, (t - hi.to(torch::kFloat32)).to(torch::kBFloat16));
  };
  const torch::Tensor w = conv->weight.detach().to(torch::kFloat32).contiguous();
  const auto [w_hi, w_lo] = split(w);
  const auto [b_hi, b_lo] = split(conv->bias.detach().to(torch::kFloat32));
  using torch::indexing::Slice;
  const int64_t centre_h = w.size(2) / 2, centre_w = w.size(3) / 2;
  torch::Tensor bias = torch::zeros({w.size(0), 2, w.size(2), w.size(3)}, w_hi.options());
  bias.index_put_({Slice(), 0, centre_h, centre_w}, b_hi);
  bias.index_put_({Slice(), 1, centre_h, centre_w}, b_lo);
  return torch::cat({w_hi, w_hi, w_lo, bias}, 1);
}

}  // namespace

Vgg19Features::Vgg19Features(const VggWeights& weights, std::vector<std::string> outputs, Pooling pooling)
    : outputs_(std::move(outputs)), pooling_(pooling), convention_(weights.convention) {
  const int needed = convs_needed(outputs_);
  if (static_cast<int>(weights.convs.size()) < needed) {
    throw WeightsError("weights '" + weights.path + "' hold " + std::to_string(weights.convs.size()) +
                       " convolutions but the requested layers need " + std::to_string(needed));
  }
  output_slot_.assign(vgg19_layer_names().size(), -1);
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const int index = vgg19_layer_index(outputs_[i]);
    last_layer_ = std::max(last_layer_, index);
    if (output_slot_[index] < 0) output_slot_[index] = static_cast<int>(i);
  }
  for (int i = 0; i < needed; ++i) {
    const ConvWeights& w = weights.convs[i];
    auto conv =
        torch::nn::Conv2d(torch::nn::Conv2dOptions(w.in_channels, w.out_channels, {w.kernel_h, w.kernel_w}).padding(1));
    torch::NoGradGuard no_grad;
    conv->weight.copy_(
        torch::from_blob(const_cast<float*>(w.weight.data()), {w.out_channels, w.in_channels, w.kernel_h, w.kernel_w}));
    conv->bias.copy_(torch::from_blob(const_cast<float*>(w.bias.data()), {w.out_channels}));
    convs_.push_back(register_module(w.name, conv));
  }
  for (auto& parameter : parameters()) parameter.requires_grad_(false);
  eval();

  std::vector<float> scale(3), shift(3);
  for (int c = 0; c < 3; ++c) {
    scale[c] = convention_.scale / convention_.std[c];
    shift[c] = -convention_.mean[c] / convention_.std[c];
  }
  scale_ = torch::tensor(scale).view({1, 3, 1, 1});
  shift_ = torch::tensor(shift).view({1, 3, 1, 1});
}

void Vgg19Features::configure(torch::Device device, torch::Dtype dtype, bool channels_last) {
  dtype_ = dtype;
  // conv1_1 reads the image in the input convention's range (Caffe: about
  // -124..152), where bf16 keeps only 0.5-1 grey levels; in float32 it sees
  // the image as it is, for 3 of its 64 channels' cost (its input has 3).
  first_dtype_ = dtype == torch::kBFloat16 || dtype == torch::kFloat16 ? torch::kFloat32 : dtype;
  channels_last_ = channels_last;
  torch::NoGradGuard no_grad;
  for (auto& conv : convs_) {
    conv->to(device, &conv == &convs_.front() ? first_dtype_ : dtype);
    if (channels_last) conv->weight.set_data(conv->weight.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  scale_ = scale_.to(device);
  shift_ = shift_.to(device);
  split_weight_ = torch::Tensor();
  if (device.is_cpu() && dtype == torch::kBFloat16) {
    split_weight_ = split_first_weights(convs_.front());
    if (channels_last) split_weight_ = split_weight_.contiguous(torch::MemoryFormat::ChannelsLast);
  }
}

// conv1_1 in bf16 without rounding away what float32 keeps. The input x and
// the weights W are each split into a bf16 value and a bf16 remainder (x_hi +
// x_lo holds x to about 2^-17 of it), and so is the bias, which two channels
// of ones carry through the centre tap (inside the image at every location,
// so the zero padding never reaches it). One bf16 convolution of the 11
// channels [x_hi, x_lo, x_hi, 1, 1] with the weights [W_hi, W_hi, W_lo, b_hi,
// b_lo] sums x_hi W_hi + x_lo W_hi + x_hi W_lo + b, all of x W + b but x_lo
// W_lo (about 2^-16 of it), in oneDNN's float32 accumulator, and rounds once
// to bf16. The float32 convolution it replaces, with its casts of a 64-channel
// output, took 12% of a bf16 iteration on an AMX CPU. The image's gradient is
// (W_hi + W_lo)^T times the output's: x_lo is a constant to autograd.
torch::Tensor Vgg19Features::split_first_conv(const torch::Tensor& x) const {
  const torch::Tensor hi = x.to(torch::kBFloat16);
  torch::Tensor lo, ones;
  {
    torch::NoGradGuard no_grad;
    lo = (x - hi.to(torch::kFloat32)).to(torch::kBFloat16);
    ones = torch::ones({x.size(0), 2, x.size(2), x.size(3)}, hi.options());
  }
  torch::Tensor input = torch::cat({hi, lo, hi, ones}, 1);
  if (channels_last_) input = input.contiguous(torch::MemoryFormat::ChannelsLast);
  return torch::conv2d(input, split_weight_, {}, 1, 1);
}

std::vector<int64_t> Vgg19Features::widths() const {
  std::vector<int64_t> result;
  for (const auto& conv : convs_) result.push_back(conv->options.out_channels());
  return result;
}

int64_t Vgg19Features::min_input_side() const { return receptive_field(last_layer_).stride; }

torch::Tensor Vgg19Features::normalize(const torch::Tensor& image) const {
  torch::Tensor x = image.to(torch::kFloat32);
  if (convention_.bgr) x = x.flip({1});
  return torch::addcmul(shift_, x, scale_);
}

// Max pooling and ReLU commute: pool(relu(x)) = relu(pool(x)), and their
// gradients agree too (a window's gradient goes to its first maximum, the same
// pixel either way, and only where that maximum is positive). Pooling first
// runs the ReLU and its gradient on a quarter of the pixels: 4% of a bf16
// iteration at 512 px on an AMX CPU, 2-4% in fp32 and at 1024 px; with
// AVX-512 the two run fused (pooling.hpp), about 7% more in bf16. Not when
// the ReLU's full-size output is wanted.
bool Vgg19Features::pools_before_relu(int relu_index) const {
  const auto& layers = vgg19_layers();
  return pooling_ == Pooling::Max && relu_index + 1 <= last_layer_ && layers[relu_index + 1].kind == LayerKind::Pool &&
         output_slot_[relu_index] < 0;
}

std::vector<torch::Tensor> Vgg19Features::forward(const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 4 && image.size(1) == 3, "expected an (N, 3, H, W) image");
  std::vector<torch::Tensor> results(outputs_.size());
  torch::Tensor x = normalize(image).to(first_dtype_);
  if (channels_last_) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const auto& layers = vgg19_layers();
  size_t conv_index = 0;
  bool pooled = false;  // this block's max pooling already ran, before its ReLU
  for (int i = 0; i <= last_layer_; ++i) {
    switch (layers[i].kind) {
      case LayerKind::Conv:
        if (conv_index == 0 && split_weight_.defined()) {
          x = split_first_conv(x);
        } else {
          x = convs_[conv_index]->forward(x);
          if (conv_index == 0) x = x.to(dtype_);
        }
        ++conv_index;
        break;
      case LayerKind::Relu:
        if (pools_before_relu(i)) {
          pooled = true;
          const torch::Tensor fused = cpu_max_pool_relu_is_fast() ? cpu_max_pool_relu(x) : torch::Tensor();
          x = fused.defined() ? fused : InPlaceRelu::apply(torch::max_pool2d(x, {2, 2}, {2, 2}));
        } else {
          // In place unless the conv output itself is wanted: saves one
          // activation-sized buffer per layer, which matters at 1024 px.
          x = output_slot_[i - 1] >= 0 ? torch::relu(x) : InPlaceRelu::apply(x);
        }
        break;
      case LayerKind::Pool:
        if (pooled) {
          pooled = false;
        } else {
          x = pooling_ == Pooling::Max ? torch::max_pool2d(x, {2, 2}, {2, 2}) : torch::avg_pool2d(x, {2, 2}, {2, 2});
        }
        break;
    }
    if (output_slot_[i] >= 0) results[output_slot_[i]] = x;
  }
  // A layer requested twice shares the tensor computed once.
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!results[i].defined()) results[i] = results[output_slot_[vgg19_layer_index(outputs_[i])]];
  }
  return results;
}

}  // namespace stylize
