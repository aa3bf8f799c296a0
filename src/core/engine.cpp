#include "stylize/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <ATen/Context.h>
#include <torch/autograd.h>
#include <torch/optim/adam.h>
#include <torch/optim/lbfgs.h>

#include "stylize/color.hpp"
#include "stylize/cpu_allocator.hpp"
#include "stylize/device.hpp"
#include "stylize/errors.hpp"
#include "stylize/image_io.hpp"
#include "stylize/losses.hpp"

namespace stylize {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> layer_names(const std::vector<LayerWeight>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(layer.layer);
  return names;
}

// Layer weights normalized to sum to one, times the term's global weight.
std::vector<double> term_weights(const std::vector<LayerWeight>& layers, double global) {
  double sum = 0;
  for (const auto& layer : layers) sum += layer.weight;
  std::vector<double> weights;
  for (const auto& layer : layers) weights.push_back(global * layer.weight / sum);
  return weights;
}

// Raised inside the L-BFGS closure to leave torch's step() when the callback
// asks to stop.
struct StopRequested {};

}  // namespace

LossValues Progress::values(int member) const {
  const torch::Tensor host = losses.detach().view({-1, 4})[member].to(torch::kCPU, torch::kFloat64).contiguous();
  const double* v = host.data_ptr<double>();
  return {v[0], v[1], v[2], v[3]};
}

struct Stylizer::Impl {
  Options options;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::Fp32;
  std::shared_ptr<Vgg19Features> net;
  size_t content_count = 0;
  std::vector<double> content_weights, style_weights;

  // Content targets of the last content image and size, reused when the same
  // content tensor is stylized again (one content, many styles).
  torch::Tensor cached_content;
  int cached_size = 0;
  std::vector<torch::Tensor> cached_content_targets;

  struct Targets {
    std::vector<torch::Tensor> content;  // feature maps (1, C, H, W), float32, shared by the batch
    std::vector<torch::Tensor> grams;    // blended Gram matrices (B, C, C), float32: one per batch member
  };

  void check_size(const torch::Tensor& image, const std::string& what) const {
    const int64_t minimum = net->min_input_side();
    if (image.size(-2) < minimum || image.size(-1) < minimum) {
      throw ImageError(what + " is " + std::to_string(image.size(-1)) + "x" + std::to_string(image.size(-2)) +
                       " pixels, but layer " + net->deepest_layer() + " needs at least " + std::to_string(minimum) +
                       " pixels on each side; use a larger --size/--style-size or shallower layers");
    }
  }

  // `prepared` is `original` resized to `size` (and converted to luminance when preserving colours).
  std::vector<torch::Tensor> content_targets(const torch::Tensor& original, int size, const torch::Tensor& prepared) {
    if (cached_content.defined() && cached_content.is_same(original) && cached_size == size) {
      return cached_content_targets;
    }
    torch::NoGradGuard no_grad;
    auto features = net->forward(prepared.to(device));
    std::vector<torch::Tensor> targets;
    for (size_t i = 0; i < content_count; ++i) targets.push_back(features[i].to(torch::kFloat32));
    cached_content = original;
    cached_size = size;
    cached_content_targets = targets;
    return targets;
  }

  // The start image of each batch member (B, 3, H, W); members differ only
  // with --init style (each member's first style).
  torch::Tensor initial_image(const torch::Tensor& content,
                              const std::vector<std::vector<torch::Tensor>>& members) const {
    const std::string& init = options.init;
    const int64_t batch = static_cast<int64_t>(members.size());
    torch::Tensor one;
    if (init == "content") {
      one = content;
    } else if (init == "noise") {
      one = torch::rand(content.sizes(), torch::kFloat32);  // the same noise as a run of one
    } else if (init == "style") {
      std::vector<torch::Tensor> firsts;
      for (const auto& styles : members) {
        firsts.push_back(resize_to(styles.front(), content.size(-2), content.size(-1)).clamp(0.0, 1.0));
      }
      return torch::cat(firsts);
    } else {
      one = resize_to(load_image(init, "init image"), content.size(-2), content.size(-1)).clamp(0.0, 1.0);
    }
    return one.expand({batch, -1, -1, -1}).contiguous();
  }

  std::vector<torch::Tensor> style_targets(const std::vector<torch::Tensor>& styles, std::vector<double> blend) {
    if (blend.empty()) blend.assign(styles.size(), 1.0);
    const double sum = std::accumulate(blend.begin(), blend.end(), 0.0);
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> grams;
    for (size_t s = 0; s < styles.size(); ++s) {
      auto features = net->forward(styles[s].to(device));
      for (size_t j = content_count; j < features.size(); ++j) {
        torch::Tensor gram = gram_matrix(features[j]) * (blend[s] / sum);
        if (s == 0) {
          grams.push_back(gram);
        } else {
          grams[j - content_count] += gram;
        }
      }
    }
    return grams;
  }

  // (B, 4): (total, style, content, tv) of each member of `image`, float32, on the device.
  torch::Tensor losses(const torch::Tensor& image, const Targets& targets) {
    const auto features = net->forward(image);
    const int64_t batch = image.size(0);
    const auto zeros = torch::zeros({batch}, image.options());
    torch::Tensor content = zeros;
    for (size_t i = 0; i < content_count; ++i) {
      content = content + content_weights[i] * content_loss(features[i], targets.content[i]);
    }
    torch::Tensor style = zeros;
    for (size_t j = 0; j < targets.grams.size(); ++j) {
      style = style + style_weights[j] * style_loss(features[content_count + j], targets.grams[j]);
    }
    const torch::Tensor tv = options.tv_weight * total_variation(image, options.tv_norm);
    return torch::stack({content + style + tv, style, content, tv}, 1);
  }

  // The longest side of each scale: the first must be large enough for the
  // content and every style to reach the deepest layer.
  std::vector<int> schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const {
    const auto needed_factor = [&](const torch::Tensor& t) {
      return static_cast<double>(net->min_input_side()) / std::min(t.size(-2), t.size(-1));
    };
    double min_factor = needed_factor(content);
    for (const auto& style : styles) min_factor = std::max(min_factor, needed_factor(style));
    const int final_size = static_cast<int>(std::max(content.size(-2), content.size(-1)));
    const int smallest_allowed = static_cast<int>(std::ceil(min_factor * final_size));
    return scale_sizes(final_size, options.scales, options.min_size, smallest_allowed);
  }

  // One run over the scales for a batch of members, each with its own styles
  // (blended by `blend` when a member has several). Members are independent:
  // each gets exactly the updates it would get alone.
  std::vector<Result> stylize(const torch::Tensor& content, const std::vector<std::vector<torch::Tensor>>& members,
                              const std::vector<double>& blend, const torch::Tensor& init,
                              const ProgressCallback& callback);

  void check_memory(int64_t height, int64_t width, int64_t batch) const;

  struct Outcome {
    torch::Tensor image;   // (B, 3, H, W)
    torch::Tensor losses;  // (B, 4) of the last iteration run, on the host
    int iterations_done = 0;
    StopReason stop_reason = StopReason::Finished;
  };
  Outcome optimize_adam(torch::Tensor image, const Targets& targets, const ProgressCallback& callback);
  Outcome optimize_lbfgs(torch::Tensor image, const Targets& targets, const ProgressCallback& callback);
};

Stylizer::Stylizer(const Options& options, const VggWeights& weights) : impl_(std::make_unique<Impl>()) {
  validate(options);
  Impl& m = *impl_;
  m.options = options;
  m.device = resolve_device(options.device);
  // L-BFGS's line search compares loss values, and a reduced-precision
  // network's are flat below its rounding, where L-BFGS takes its first step
  // (it then stops after a few evaluations): automatic precision is fp32 for it.
  m.precision = options.optimizer == OptimizerKind::Lbfgs && options.precision == Precision::Auto
                    ? resolve_precision(Precision::Fp32, m.device)
                    : resolve_precision(options.precision, m.device);
  std::vector<std::string> outputs = layer_names(options.content_layers);
  m.content_count = outputs.size();
  for (const auto& name : layer_names(options.style_layers)) outputs.push_back(name);
  // Loss weights are calibrated for Caffe-convention networks (0-255 input);
  // express other networks' features in those units (InputConvention::feature_scale).
  const double k = weights.convention.feature_scale;
  m.content_weights = term_weights(options.content_layers, options.content_weight * k * k);
  m.style_weights = term_weights(options.style_layers, options.style_weight * k * k * k * k);
  m.net = std::make_shared<Vgg19Features>(weights, outputs, options.pooling);
  // Reduced precision runs best in channels-last layout (oneDNN on CPU,
  // tensor cores on CUDA); fp32 on CPU too benefits from it with oneDNN.
  m.net->configure(m.device, dtype_of(m.precision), /*channels_last=*/true);
  // Every iteration runs the same convolution shapes: let cuDNN pick the fastest algorithms once.
  if (m.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
}

Stylizer::~Stylizer() = default;

torch::Device Stylizer::device() const { return impl_->device; }
Precision Stylizer::precision() const { return impl_->precision; }
const Vgg19Features& Stylizer::network() const { return *impl_->net; }

Stylizer::Impl::Outcome Stylizer::Impl::optimize_adam(torch::Tensor image, const Targets& targets,
                                                      const ProgressCallback& callback) {
  image.requires_grad_(true);
  torch::optim::Adam optimizer(
      {image}, torch::optim::AdamOptions(options.lr).betas({options.beta1, options.beta2}).eps(options.eps));
  // fp16 gradients underflow for the tiny style-loss gradients: scale the loss
  // up for the backward pass and the gradient back down (dynamic loss scaling).
  double loss_scale = precision == Precision::Fp16 ? 65536.0 : 1.0;
  Outcome outcome;
  outcome.iterations_done = options.start_iteration;
  torch::Tensor values;
  for (int iteration = options.start_iteration + 1; iteration <= options.iterations; ++iteration) {
    const auto start = Clock::now();
    optimizer.zero_grad();
    values = losses(image, targets);
    // The members' losses are independent, so the gradient of their sum is each member's own.
    const torch::Tensor total = values.select(1, 0).sum();
    (total * loss_scale).backward();
    torch::Tensor& grad = image.mutable_grad();
    if (loss_scale != 1.0) grad.div_(loss_scale);
    // One host sync per step: never let a non-finite loss or gradient reach Adam's state.
    if (!torch::isfinite(total).item<bool>() || !torch::isfinite(grad).all().item<bool>()) {
      if (loss_scale > 1.0 && torch::isfinite(total).item<bool>()) {
        loss_scale /= 2;  // gradient overflowed in fp16: retry this iteration
        --iteration;
        continue;
      }
      outcome.stop_reason = StopReason::NumericFailure;
      break;
    }
    optimizer.step();
    {
      torch::NoGradGuard no_grad;
      image.clamp_(0.0, 1.0);
    }
    outcome.iterations_done = iteration;
    Progress progress{iteration, options.iterations, values.detach(),
                      std::chrono::duration<double>(Clock::now() - start).count(), image.detach()};
    if (callback && !callback(progress)) {
      outcome.stop_reason = StopReason::Interrupted;
      break;
    }
  }
  if (values.defined()) outcome.losses = values.detach().to(torch::kCPU);
  outcome.image = image.detach();
  return outcome;
}

Stylizer::Impl::Outcome Stylizer::Impl::optimize_lbfgs(torch::Tensor image, const Targets& targets,
                                                       const ProgressCallback& callback) {
  image.requires_grad_(true);
  // An iteration is one evaluation of the loss, as in the original Lua
  // neural-style; torch's L-BFGS with a strong Wolfe line search runs them all
  // in one step() and stops early once it has converged.
  torch::optim::LBFGS optimizer({image}, torch::optim::LBFGSOptions(1.0)
                                             .max_iter(options.iterations - options.start_iteration)
                                             .max_eval(options.iterations - options.start_iteration)
                                             .history_size(100)
                                             .tolerance_grad(1e-7)
                                             .tolerance_change(1e-9)
                                             .line_search_fn("strong_wolfe"));
  Outcome outcome;
  outcome.iterations_done = options.start_iteration;
  int evaluations = 0;
  auto last = Clock::now();
  auto closure = [&]() -> torch::Tensor {
    // Box constraint: project onto [0, 1] before every evaluation.
    {
      torch::NoGradGuard no_grad;
      image.clamp_(0.0, 1.0);
    }
    optimizer.zero_grad();
    const torch::Tensor values = losses(image, targets);
    const torch::Tensor total = values.select(1, 0).sum();
    total.backward();
    outcome.losses = values.detach().to(torch::kCPU);
    if (!torch::isfinite(total).item<bool>() || !torch::isfinite(image.grad()).all().item<bool>()) {
      outcome.stop_reason = StopReason::NumericFailure;
      throw StopRequested{};
    }
    const int iteration = options.start_iteration + ++evaluations;
    outcome.iterations_done = iteration;
    const auto now = Clock::now();
    Progress progress{iteration, options.iterations, values.detach(), std::chrono::duration<double>(now - last).count(),
                      image.detach()};
    last = now;
    if (callback && !callback(progress)) {
      outcome.stop_reason = StopReason::Interrupted;
      throw StopRequested{};
    }
    return total;
  };
  try {
    optimizer.step(closure);
    if (outcome.iterations_done < options.iterations) outcome.stop_reason = StopReason::Converged;
  } catch (const StopRequested&) {
  }
  torch::NoGradGuard no_grad;
  outcome.image = image.detach().clamp(0.0, 1.0);
  return outcome;
}

std::vector<int> scale_sizes(int final_size, int scales, int min_size, int smallest_allowed) {
  if (scales <= 1) return {final_size};
  int smallest = min_size > 0 ? min_size : std::max(1, final_size >> (scales - 1));
  smallest = std::min(final_size, std::max(smallest, smallest_allowed));
  std::vector<int> sizes;
  for (int k = 0; k < scales; ++k) {
    const double t = static_cast<double>(k) / (scales - 1);
    sizes.push_back(static_cast<int>(std::lround(smallest * std::pow(static_cast<double>(final_size) / smallest, t))));
  }
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

double estimate_memory_bytes(const Vgg19Features& net, int64_t height, int64_t width, torch::Dtype dtype,
                             int64_t batch) {
  // Activation elements per input pixel of every layer output up to the
  // deepest (each block halves both sides), and the weights in both copies.
  const auto& names = vgg19_layer_names();
  const std::vector<int64_t> widths = net.widths();
  double elements = 0, scale = 1.0, weights = 0;
  int64_t channels = 3;
  size_t conv = 0;
  for (const auto& name : names) {
    if (name == net.deepest_layer()) {
      elements += channels * scale;
      break;
    }
    if (name.rfind("conv", 0) == 0) {
      weights += 9.0 * channels * widths[conv];
      channels = widths[conv++];
    } else if (name.rfind("pool", 0) == 0) {
      scale /= 4;
    }
    elements += channels * scale;
  }
  const double bytes_per_element = 1.1 * torch::elementSize(dtype) + 0.8;  // fitted, see README
  constexpr double kRuntimeBytes = 300.0 * (1 << 20);
  return kRuntimeBytes + weights * (4 + torch::elementSize(dtype)) +
         1.25 * elements * static_cast<double>(batch * height * width) * bytes_per_element;
}

Result Stylizer::run(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                     const ProgressCallback& callback, const std::vector<double>& style_blend,
                     const torch::Tensor& init) {
  if (styles.empty()) throw OptionError("at least one style image is needed (--style)");
  if (!style_blend.empty() && style_blend.size() != styles.size()) {
    throw OptionError("--style-weights gives " + std::to_string(style_blend.size()) + " weights for " +
                      std::to_string(styles.size()) + " style images");
  }
  return impl_->stylize(content, {styles}, style_blend, init, callback).front();
}

std::vector<Result> Stylizer::run_batch(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                                        const ProgressCallback& callback, const torch::Tensor& init) {
  if (styles.empty()) throw OptionError("at least one style image is needed (--style)");
  if (styles.size() > 1 && impl_->options.optimizer != OptimizerKind::Adam) {
    throw OptionError("only Adam runs styles as one batch: L-BFGS's line search would couple them");
  }
  std::vector<std::vector<torch::Tensor>> members;
  for (const auto& style : styles) members.push_back({style});
  return impl_->stylize(content, members, {}, init, callback);
}

std::vector<Result> Stylizer::Impl::stylize(const torch::Tensor& content,
                                            const std::vector<std::vector<torch::Tensor>>& members,
                                            const std::vector<double>& blend, const torch::Tensor& init,
                                            const ProgressCallback& callback) {
  const Options& o = options;
  torch::manual_seed(o.seed);
  if (o.start_iteration > 0 && o.scales > 1) {
    throw OptionError("resuming is supported for single-scale runs only (--scales 1)");
  }
  const int64_t batch = static_cast<int64_t>(members.size());

  // Colour preservation works on what the network sees: luminance only, or
  // styles recoloured to the content's palette.
  const bool luminance = o.preserve_colors == PreserveColors::Luminance;
  std::vector<std::vector<torch::Tensor>> prepared_members;
  for (const auto& styles : members) {
    std::vector<torch::Tensor> prepared;
    for (const auto& style : styles) {
      if (luminance) {
        prepared.push_back(match_luminance(luminance_image(style), content));
      } else if (o.preserve_colors == PreserveColors::Histogram) {
        prepared.push_back(match_color_statistics(style, content));
      } else {
        prepared.push_back(style);
      }
    }
    prepared_members.push_back(prepared);
  }
  const torch::Tensor prepared_content = luminance ? luminance_image(content) : content;
  torch::Tensor image =
      init.defined()
          ? resize_to(init, content.size(-2), content.size(-1)).clamp(0.0, 1.0).expand({batch, -1, -1, -1}).contiguous()
          : initial_image(content, members);
  if (luminance) image = luminance_image(image);

  const int final_size = static_cast<int>(std::max(content.size(-2), content.size(-1)));
  check_memory(content.size(-2), content.size(-1), batch);
  const std::vector<int> sizes = schedule(content, members.front());
  for (const auto& styles : members) {
    if (schedule(content, styles) != sizes) {
      throw OptionError("these styles need different coarse-to-fine sizes and cannot run as one batch");
    }
  }

  Outcome outcome;
  for (size_t s = 0; s < sizes.size(); ++s) {
    const double factor = static_cast<double>(sizes[s]) / final_size;
    const torch::Tensor content_s = resize_longest_side(prepared_content, sizes[s]);
    check_size(content_s, "the content image at this scale");
    // Per style layer, the members' target Grams, stacked into (B, C, C).
    std::vector<std::vector<torch::Tensor>> member_grams;
    for (const auto& styles : prepared_members) {
      std::vector<torch::Tensor> styles_s;
      for (const auto& style : styles) {
        const int longest = static_cast<int>(std::lround(std::max(style.size(-2), style.size(-1)) * factor));
        styles_s.push_back(resize_longest_side(style, std::max(1, longest)));
        check_size(styles_s.back(), "the style image at this scale");
      }
      const std::vector<torch::Tensor> grams = style_targets(styles_s, blend);
      member_grams.resize(grams.size());
      for (size_t j = 0; j < grams.size(); ++j) member_grams[j].push_back(grams[j]);
    }
    Targets targets{content_targets(content, sizes[s], content_s), {}};
    for (const auto& grams : member_grams) targets.grams.push_back(torch::cat(grams));
    const torch::Tensor start =
        resize_to(image, content_s.size(-2), content_s.size(-1)).to(device, torch::kFloat32).clamp(0.0, 1.0).clone();
    ProgressCallback scaled;
    if (callback) {
      scaled = [&, s](const Progress& progress) {
        Progress with_scale = progress;
        with_scale.scale = static_cast<int>(s) + 1;
        with_scale.scales = static_cast<int>(sizes.size());
        if (luminance) with_scale.image = combine_luminance_and_chroma(progress.image, content.to(device));
        return callback(with_scale);
      };
    }
    outcome = o.optimizer == OptimizerKind::Adam ? optimize_adam(start, targets, scaled)
                                                 : optimize_lbfgs(start, targets, scaled);
    image = outcome.image;
    if (outcome.stop_reason == StopReason::Interrupted || outcome.stop_reason == StopReason::NumericFailure) break;
    // The next scale's blocks have other sizes: do not keep this scale's cached.
    if (s + 1 < sizes.size()) release_cached_cpu_memory();
  }
  torch::Tensor images = outcome.image.to(torch::kCPU);
  if (luminance) images = combine_luminance_and_chroma(images, content);
  std::vector<Result> results;
  for (int64_t b = 0; b < batch; ++b) {
    Result result;
    result.image = images.narrow(0, b, 1).contiguous();
    result.iterations_done = outcome.iterations_done;
    result.stop_reason = outcome.stop_reason;
    if (outcome.losses.defined())
      result.last_losses = Progress{0, 0, outcome.losses, 0, {}}.values(static_cast<int>(b));
    results.push_back(result);
  }
  return results;
}

void Stylizer::check_memory(int64_t height, int64_t width, int64_t batch) const {
  impl_->check_memory(height, width, batch);
}

void Stylizer::Impl::check_memory(int64_t height, int64_t width, int64_t batch) const {
  const double available = available_memory_bytes(device);
  const torch::Dtype dtype = dtype_of(precision);
  const double needed = estimate_memory_bytes(*net, height, width, dtype, batch);
  if (available < 0 || needed <= available) return;
  // The largest longest side, in steps of 32 px, that fits.
  const int64_t longest = std::max(height, width);
  int64_t fits = 0;
  for (int64_t side = longest - 32; side >= 32; side -= 32) {
    if (estimate_memory_bytes(*net, height * side / longest, width * side / longest, dtype, batch) <= available) {
      fits = side;
      break;
    }
  }
  const auto gib = [](double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1 << 30));
    return std::string(text);
  };
  std::string advice = fits > 0 ? "; the largest size that fits is about --size " + std::to_string(fits)
                                : "; even the smallest sizes do not fit";
  if (batch > 1) advice += ", or use a smaller --batch";
  if (precision == Precision::Fp32 && device.is_cpu() && cpu_has_fast_bf16()) advice += ", or use --precision bf16";
  const std::string what = batch > 1 ? std::to_string(batch) + " images of " : "a ";
  throw ResourceError("stylizing " + what + std::to_string(width) + "x" + std::to_string(height) + " image" +
                      (batch > 1 ? "s" : "") + " on " + device.str() + " needs about " + gib(needed) +
                      " of memory but only " + gib(available) + " is available" + advice);
}

std::vector<int> Stylizer::schedule(const torch::Tensor& content, const std::vector<torch::Tensor>& styles) const {
  return impl_->schedule(content, styles);
}

int Stylizer::batch_capacity(int64_t height, int64_t width, int limit) const {
  const Impl& m = *impl_;
  const double available = available_memory_bytes(m.device);
  int fits = 1;
  while (fits < limit && (available < 0 ||
                          estimate_memory_bytes(*m.net, height, width, dtype_of(m.precision), fits + 1) <= available)) {
    ++fits;
  }
  return fits;
}

LossValues Stylizer::evaluate(const torch::Tensor& image, const torch::Tensor& content,
                              const std::vector<torch::Tensor>& styles) {
  Impl& m = *impl_;
  const int size = static_cast<int>(std::max(content.size(-2), content.size(-1)));
  const Impl::Targets targets{m.content_targets(content, size, content), m.style_targets(styles, {})};
  torch::NoGradGuard no_grad;
  return Progress{0, 0, m.losses(image.to(m.device, torch::kFloat32), targets), 0, {}}.values();
}

}  // namespace stylize
