#include "pooling.hpp"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STYLIZE_POOLING_AVX512 1
// GCC 12 warns inside its own AVX-512 headers (their _mm512_undefined_*
// idiom) once the intrinsics are inlined here.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#endif

namespace stylize {

namespace {

// Each window's first maximum in row order, as LibTorch's CPU max pooling
// takes it: a later element wins only when larger, or NaN. The ReLU after it
// keeps a NaN (so that the run sees it); its gradient is threshold_backward's:
// none where the maximum is at most zero.

// An element's value, and back: float32 as is, bfloat16 (its bits) widened,
// and narrowed exactly (only ever a value that was widened, or zero).
inline float widen(float v) { return v; }
inline float widen(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float v;
  std::memcpy(&v, &widened, sizeof v);
  return v;
}
template <typename T>
inline T narrow(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return static_cast<uint16_t>(bits >> 16);
  }
}

// The channels [from, n) of one window's four pixels a b / c d.
template <typename T>
void forward_span(const T* a, const T* b, const T* c, const T* d, T* out, int64_t from, int64_t n) {
  for (int64_t k = from; k < n; ++k) {
    float m = widen(a[k]);
    for (const float v : {widen(b[k]), widen(c[k]), widen(d[k])}) {
      if (v > m || v != v) m = v;
    }
    out[k] = narrow<T>(m > 0.0f || m != m ? m : 0.0f);
  }
}

template <typename T>
void backward_span(const T* a, const T* b, const T* c, const T* d, const T* g, T* ga, T* gb, T* gc, T* gd, int64_t from,
                   int64_t n) {
  for (int64_t k = from; k < n; ++k) {
    float m = widen(a[k]);
    int at = 0;
    const float values[3] = {widen(b[k]), widen(c[k]), widen(d[k])};
    for (int i = 0; i < 3; ++i) {
      if (values[i] > m || values[i] != values[i]) m = values[i], at = i + 1;
    }
    const float through = m <= 0.0f ? 0.0f : widen(g[k]);
    ga[k] = narrow<T>(at == 0 ? through : 0.0f);
    gb[k] = narrow<T>(at == 1 ? through : 0.0f);
    gc[k] = narrow<T>(at == 2 ? through : 0.0f);
    gd[k] = narrow<T>(at == 3 ? through : 0.0f);
  }
}

#ifdef STYLIZE_POOLING_AVX512
// The same, 16 channels at a time, on CPUs with AVX-512 (F, BW, VL); the
// last channels (fewer than 16) by the loops above. GCC does not vectorize
// those loops itself: LibTorch's own kernels were faster than them.
#define STYLIZE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

STYLIZE_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
STYLIZE_AVX512 inline __m512 load16(const uint16_t* p) {
  const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}
STYLIZE_AVX512 inline void store16(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
STYLIZE_AVX512 inline void store16(uint16_t* p, __m512 v) {
  const __m256i bits = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v), 16));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), bits);
}
// Where `v` takes over from the maximum so far `m`: larger, or NaN.
STYLIZE_AVX512 inline __mmask16 takes_over(__m512 v, __m512 m) {
  return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

template <typename T>
STYLIZE_AVX512 int64_t forward_vectors(const T* a, const T* b, const T* c, const T* d, T* out, int64_t n) {
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m512 m = load16(a + k);
    for (const T* p : {b, c, d}) {
      const __m512 v = load16(p + k);
      m = _mm512_mask_blend_ps(takes_over(v, m), m, v);
    }
    const __mmask16 kept =
        _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ) | _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
    store16(out + k, _mm512_maskz_mov_ps(kept, m));
  }
  return k;
}

template <typename T>
STYLIZE_AVX512 int64_t backward_vectors(const T* a, const T* b, const T* c, const T* d, const T* g, T* ga, T* gb, T* gc,
                                        T* gd, int64_t n) {
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m512 m = load16(a + k);
    __mmask16 to[3];
    int i = 0;
    for (const T* p : {b, c, d}) {
      const __m512 v = load16(p + k);
      to[i] = takes_over(v, m);
      m = _mm512_mask_blend_ps(to[i], m, v);
      ++i;
    }
    // The window's winner: the last to take over.
    const __mmask16 is_d = to[2], is_c = to[1] & ~is_d, is_b = to[0] & ~to[1] & ~is_d;
    const __mmask16 is_a = static_cast<__mmask16>(~(to[0] | to[1] | to[2]));
    const __mmask16 through = static_cast<__mmask16>(~_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_LE_OQ));
    const __m512 grad = load16(g + k);
    store16(ga + k, _mm512_maskz_mov_ps(is_a & through, grad));
    store16(gb + k, _mm512_maskz_mov_ps(is_b & through, grad));
    store16(gc + k, _mm512_maskz_mov_ps(is_c & through, grad));
    store16(gd + k, _mm512_maskz_mov_ps(is_d & through, grad));
  }
  return k;
}

bool avx512_runs() {
  static const bool runs =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return runs;
}
#else
bool avx512_runs() { return false; }
#endif

// Rows [begin, end) of the output, each n * OH + oh; channels-last: the C
// channels of a pixel are adjacent.
template <typename T>
void forward_rows(const T* x, T* y, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int64_t begin, int64_t end,
                  bool vectors) {
  for (int64_t r = begin; r < end; ++r) {
    const T* top = x + ((r / oh) * h + 2 * (r % oh)) * w * c;
    const T* bottom = top + w * c;
    T* out = y + r * ow * c;
    for (int64_t j = 0; j < ow; ++j) {
      const T* a = top + 2 * j * c;
      const T* cc = bottom + 2 * j * c;
      int64_t done = 0;
#ifdef STYLIZE_POOLING_AVX512
      if (vectors) done = forward_vectors(a, a + c, cc, cc + c, out + j * c, c);
#endif
      forward_span(a, a + c, cc, cc + c, out + j * c, done, c);
    }
  }
}

template <typename T>
void backward_rows(const T* x, const T* g, T* gx, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                   int64_t begin, int64_t end, bool vectors) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t top = ((r / oh) * h + 2 * (r % oh)) * w * c, bottom = top + w * c;
    const T* grad = g + r * ow * c;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t a = top + 2 * j * c, cc = bottom + 2 * j * c;
      int64_t done = 0;
#ifdef STYLIZE_POOLING_AVX512
      if (vectors) {
        done = backward_vectors(x + a, x + a + c, x + cc, x + cc + c, grad + j * c, gx + a, gx + a + c, gx + cc,
                                gx + cc + c, c);
      }
#endif
      backward_span(x + a, x + a + c, x + cc, x + cc + c, grad + j * c, gx + a, gx + a + c, gx + cc, gx + cc + c, done,
                    c);
    }
  }
}

// Over the output's rows, in parallel: a few rows of pixels per task.
template <typename F>
void over_rows(int64_t rows, int64_t row_elements, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_elements));
  at::parallel_for(0, rows, grain, f);
}

// `f(pointer)` with the tensor's data as float or as bfloat16 bits.
template <typename F>
void with_data(const torch::Tensor& t, const F& f) {
  if (t.scalar_type() == torch::kFloat32) {
    f(t.data_ptr<float>());
  } else {
    f(reinterpret_cast<uint16_t*>(t.data_ptr()));
  }
}

torch::Tensor pool_forward(const torch::Tensor& x, bool vectors) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = h / 2, ow = w / 2;
  torch::Tensor y = torch::empty({n, c, oh, ow}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  with_data(x, [&](auto* in) {
    using T = std::remove_pointer_t<decltype(in)>;
    T* out = static_cast<T*>(y.data_ptr());
    over_rows(n * oh, ow * c,
              [&](int64_t begin, int64_t end) { forward_rows<T>(in, out, h, w, c, oh, ow, begin, end, vectors); });
  });
  return y;
}

torch::Tensor pool_backward(const torch::Tensor& x, const torch::Tensor& grad, bool vectors) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = h / 2, ow = w / 2;
  const torch::Tensor g = grad.to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
  // Every element in a window is written; a last odd row or column is in
  // none. (torch::zeros would drop the memory format: only empty takes it.)
  torch::Tensor gx = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  if (h % 2 != 0 || w % 2 != 0) gx.zero_();
  with_data(x, [&](auto* in) {
    using T = std::remove_pointer_t<decltype(in)>;
    const T* grads = static_cast<const T*>(g.data_ptr());
    T* out = static_cast<T*>(gx.data_ptr());
    over_rows(n * oh, ow * c, [&](int64_t begin, int64_t end) {
      backward_rows<T>(in, grads, out, h, w, c, oh, ow, begin, end, vectors);
    });
  });
  return gx;
}

class MaxPoolRelu : public torch::autograd::Function<MaxPoolRelu> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, bool vectors) {
    ctx->save_for_backward({x});
    ctx->saved_data["vectors"] = vectors;
    return pool_forward(x, vectors);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor()};
    return {pool_backward(ctx->get_saved_variables()[0], grads[0], ctx->saved_data["vectors"].toBool()),
            torch::Tensor()};
  }
};

}  // namespace

bool cpu_max_pool_relu_is_fast() { return avx512_runs(); }

torch::Tensor cpu_max_pool_relu(const torch::Tensor& x, bool vectors) {
  if (!x.defined() || !x.device().is_cpu() || x.dim() != 4 || x.size(2) < 2 || x.size(3) < 2 || x.numel() == 0 ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kBFloat16) ||
      !x.is_contiguous(torch::MemoryFormat::ChannelsLast)) {
    return {};
  }
  return MaxPoolRelu::apply(x, vectors && avx512_runs());
}

}  // namespace stylize
