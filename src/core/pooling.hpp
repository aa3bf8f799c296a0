// ReLU after 2x2 max pooling, fused, on the CPU (internal to stylize_core).
#pragma once

#include <torch/types.h>

namespace stylize {

// relu(max_pool2d(x, 2, 2)) with its gradient: one pass over `x` each way,
// where LibTorch makes four (pooling with int64 indices, a zero fill and a
// scatter for the gradient, the ReLU and its gradient) and keeps the indices
// (as large as a bf16 `x`) for the backward pass. The gradient is LibTorch's
// exactly: each window's goes to its first maximum in row order (a NaN
// counting as the maximum), where that maximum is positive; a last odd row or
// column gets none. For a CPU tensor of float32 or bfloat16, (N, C, H, W) in
// channels-last memory, H and W at least 2; returns an undefined tensor
// otherwise, and callers pool and apply the ReLU themselves. `vectors`: with
// AVX-512 where the CPU has it (false: the plain loops, for tests).
torch::Tensor cpu_max_pool_relu(const torch::Tensor& x, bool vectors = true);

// Whether cpu_max_pool_relu runs vectorized here (AVX-512), and so faster
// than LibTorch's pooling and ReLU: about 2x forward, 3x backward on the
// 64-channel 512x512 maps, bf16 and fp32. Its plain loops are not.
bool cpu_max_pool_relu_is_fast();

}  // namespace stylize
