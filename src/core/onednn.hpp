// CPU primitives through oneDNN (internal to stylize_core): batched matrix
// products (the Gram matrices) and ReLU in place.
#pragma once

#include <torch/types.h>

namespace stylize {

// A (N, M, K) times B (N, K, P) -> (N, M, P), contiguous, in `out_dtype`, with
// float32 accumulation. A and B are CPU tensors of the same dtype (float32 or
// bfloat16) with any strides, so transposed views cost nothing. Unlike
// torch::bmm it can multiply bfloat16 inputs into a float32 result, which is
// what the Gram matrices need. Returns an undefined tensor when stylize was
// built without oneDNN or oneDNN cannot run the product; callers fall back to
// torch::bmm.
torch::Tensor cpu_bmm(const torch::Tensor& a, const torch::Tensor& b, torch::Dtype out_dtype);

// Whether stylize was built with oneDNN (cmake -DSTYLIZE_WITH_DNNL).
bool cpu_bmm_available();

// ReLU of `x` in place: a bfloat16 CPU tensor, contiguous or channels-last.
// oneDNN's kernel is 3-4x faster than LibTorch's, which converts every element
// to float32 and back (on an AMX CPU its ReLUs took a tenth of a bf16
// iteration at 512 px; in float32 the two are as fast). Returns false, leaving
// `x` as it was, where it cannot (no oneDNN, another device, dtype or layout):
// callers use torch::relu_ then.
bool cpu_relu_(torch::Tensor& x);

}  // namespace stylize
