#include "stylize/losses.hpp"

#include <torch/autograd.h>

#include "matmul.hpp"

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
    return bmm(rows, rows.transpose(1, 2), torch::kFloat32)
        .div_(static_cast<double>(features.size(2) * features.size(3)));
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

torch::Tensor mse(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).square().mean();
}

torch::Tensor content_loss(const torch::Tensor& features, const torch::Tensor& target_features) {
  return (features.to(torch::kFloat32) - target_features.to(torch::kFloat32)).square().mean({1, 2, 3});
}

torch::Tensor style_loss(const torch::Tensor& features, const torch::Tensor& target_gram) {
  return (gram_matrix(features) - target_gram.to(torch::kFloat32)).square().mean({1, 2});
}

torch::Tensor total_variation(const torch::Tensor& image, TvNorm norm) {
  const torch::Tensor x = image.to(torch::kFloat32);
  const int64_t h = x.size(-2), w = x.size(-1);
  const torch::Tensor dy = x.narrow(-2, 1, h - 1) - x.narrow(-2, 0, h - 1);
  const torch::Tensor dx = x.narrow(-1, 1, w - 1) - x.narrow(-1, 0, w - 1);
  if (norm == TvNorm::L1) return dy.abs().sum({1, 2, 3}) + dx.abs().sum({1, 2, 3});
  return dy.square().sum({1, 2, 3}) + dx.square().sum({1, 2, 3});
}

}  // namespace stylize
