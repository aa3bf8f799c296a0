#include "onednn.hpp"

#include <string>

#ifdef STYLIZE_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace stylize {

#ifdef STYLIZE_WITH_DNNL
namespace {

dnnl::memory::data_type dnnl_type(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return dnnl::memory::data_type::f32;
    case torch::kBFloat16:
      return dnnl::memory::data_type::bf16;
    default:
      return dnnl::memory::data_type::undef;
  }
}

dnnl::memory::desc describe(const torch::Tensor& t, dnnl::memory::data_type type) {
  return dnnl::memory::desc(dnnl::memory::dims(t.sizes().begin(), t.sizes().end()), type,
                            dnnl::memory::dims(t.strides().begin(), t.strides().end()));
}

}  // namespace

torch::Tensor cpu_bmm(const torch::Tensor& a, const torch::Tensor& b, torch::Dtype out_dtype) {
  const auto in_type = dnnl_type(a.scalar_type());
  const auto out_type = dnnl_type(out_dtype);
  if (!a.device().is_cpu() || !b.device().is_cpu() || a.scalar_type() != b.scalar_type() ||
      in_type == dnnl::memory::data_type::undef || out_type == dnnl::memory::data_type::undef || a.dim() != 3 ||
      b.dim() != 3 || a.size(0) != b.size(0) || a.size(2) != b.size(1) || a.numel() == 0 || b.numel() == 0) {
    return {};
  }
  torch::Tensor out = torch::empty({a.size(0), a.size(1), b.size(2)}, a.options().dtype(out_dtype));
  try {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::primitive_attr attr;
    // The scratchpad comes from LibTorch's (caching) allocator.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto a_md = describe(a, in_type), b_md = describe(b, in_type), out_md = describe(out, out_type);
    // Primitive descriptors are cached by oneDNN, so building one per call is cheap.
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, out_md), attr, engine);
    torch::Tensor scratch = torch::empty({static_cast<int64_t>(pd.scratchpad_desc().get_size())}, torch::kUInt8);
    dnnl::stream stream(engine);
    dnnl::matmul(pd).execute(stream,
                             {{DNNL_ARG_SRC, dnnl::memory(a_md, engine, a.data_ptr())},
                              {DNNL_ARG_WEIGHTS, dnnl::memory(b_md, engine, b.data_ptr())},
                              {DNNL_ARG_DST, dnnl::memory(out_md, engine, out.data_ptr())},
                              {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), engine, scratch.data_ptr())}});
    stream.wait();
  } catch (const dnnl::error&) {
    return {};  // e.g. strides oneDNN does not take: let torch::bmm do it
  }
  return out;
}

bool cpu_bmm_available() { return true; }

bool cpu_relu_(torch::Tensor& x) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kBFloat16 || x.numel() == 0 ||
      !(x.is_contiguous() || x.is_contiguous(torch::MemoryFormat::ChannelsLast))) {
    return false;
  }
  try {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    const auto md = describe(x, dnnl::memory::data_type::bf16);
    const dnnl::eltwise_forward::primitive_desc pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_relu, md, 0.f, 0.f),
        engine);
    // oneDNN's reference kernels (its fallback where no optimized one takes
    // bf16, as on CPUs without AVX512) are slower than LibTorch's ReLU.
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return false;
    const dnnl::memory data(md, engine, x.data_ptr());
    dnnl::stream stream(engine);
    dnnl::eltwise_forward(pd).execute(stream, {{DNNL_ARG_SRC, data}, {DNNL_ARG_DST, data}});
    stream.wait();
  } catch (const dnnl::error&) {
    return false;
  }
  return true;
}

#else

torch::Tensor cpu_bmm(const torch::Tensor&, const torch::Tensor&, torch::Dtype) { return {}; }

bool cpu_bmm_available() { return false; }

bool cpu_relu_(torch::Tensor&) { return false; }

#endif

}  // namespace stylize
