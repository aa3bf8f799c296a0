// Batched matrix products on the CPU through oneDNN (internal to stylize_core).
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

}  // namespace stylize
