// The runs of a Stylizer: colour preparation, scales, Adam and L-BFGS. The loss
// is the objective's (objective.cpp); memory and batch planning are in plan.cpp.
#include <ATen/Context.h>
#include <torch/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "stylize/core/device.hpp"
#include "stylize/core/lbfgs.hpp"
#include "stylize/core/loss_scale.hpp"
#include "stylize/core/loss_units.hpp"
#include "stylize/core/pyramid_adam.hpp"
#include "stylize/core/tiling.hpp"
#include "stylize/errors.hpp"
#include "stylize/io/image.hpp"
#include "stylizer_impl.hpp"

namespace stylize {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

double LossValues::operator[](const std::string& name) const {
  for (const auto& [term, value] : terms) {
    if (term == name) return value;
  }
  throw std::out_of_range("no loss term named " + name);
}

LossValues Progress::values(int member) const {
  const torch::Tensor row =
      losses.detach().view({-1, static_cast<int64_t>(terms.size()) + 1})[member].to(torch::kCPU, torch::kFloat64);
  const torch::Tensor host = row.contiguous();
  const double* v = host.data_ptr<double>();
  LossValues values;
  values.total = v[0];
  for (size_t k = 0; k < terms.size(); ++k) values.terms.emplace_back(terms[k], v[k + 1]);
  return values;
}

Stylizer::Stylizer(const StylizeOptions& options, const VggWeights& weights)
    : Stylizer(options, weights,
               make_objective(options, resolve_loss_units(options.loss_units, weights.convention.name))) {}

Stylizer::Stylizer(const StylizeOptions& options, const VggWeights& weights, Objective objective)
    : impl_(std::make_unique<Impl>()) {
  validate(options);
  Impl& m = *impl_;
  m.options = options;
  m.units = resolve_loss_units(options.loss_units, weights.convention.name);
  m.device = resolve_device(options.device);
  // L-BFGS's line search compares loss values, and a reduced-precision
  // network's are flat below its rounding, where L-BFGS takes its first step
  // (it then stops after a few evaluations): automatic precision is fp32 for it.
  m.precision = options.optimizer == OptimizerKind::Lbfgs && options.precision == Precision::Auto
                    ? resolve_precision(Precision::Fp32, m.device)
                    : resolve_precision(options.precision, m.device);
  m.objective = std::move(objective);
  m.net = std::make_shared<Vgg19Features>(weights, m.objective.layers(), options.pooling);
  // Reduced precision runs best in channels-last layout (oneDNN on CPU,
  // tensor cores on CUDA); fp32 on CPU too benefits from it with oneDNN.
  m.net->configure(m.device, dtype_of(m.precision), /*channels_last=*/true);
  // Every iteration runs the same convolution shapes: let cuDNN pick the fastest algorithms once.
  if (m.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  // On sm80+ GPUs cuDNN runs float32 convolutions in TF32 (a 10-bit mantissa)
  // unless told not to: --precision fp32 means float32 throughout.
  if (m.device.is_cuda() && m.precision == Precision::Fp32) {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
}

Stylizer::~Stylizer() = default;

torch::Device Stylizer::device() const { return impl_->device; }
Precision Stylizer::precision() const { return impl_->precision; }
void Stylizer::set_stop_check(std::function<bool()> check) { impl_->stop_check = std::move(check); }
void Stylizer::resume_adam(AdamState state) { impl_->pending_adam = std::move(state); }
LossUnits Stylizer::loss_units() const { return impl_->units; }
const Vgg19Features& Stylizer::network() const { return *impl_->net; }
const Objective& Stylizer::objective() const { return impl_->objective; }

Features Stylizer::Impl::features(const torch::Tensor& image) const { return {net->outputs(), net->forward(image)}; }

torch::Tensor Stylizer::Impl::losses(const torch::Tensor& image) const {
  const FeatureExtractor network = [this](const torch::Tensor& x) { return features(x); };
  if (tile > 0) return tiled_losses(objective, image, network, tile);
  return objective.evaluate(image, network);
}

Stylizer::Impl::Evaluation Stylizer::Impl::loss_and_gradient(const torch::Tensor& image, double loss_scale) const {
  if (tile > 0) {
    TiledEvaluation tiled = evaluate_tiled(
        objective, image, [this](const torch::Tensor& x) { return features(x); }, tile, loss_scale, stop_check);
    return {tiled.losses, tiled.gradient};
  }
  const torch::Tensor variable = image.detach().requires_grad_(true);
  const torch::Tensor values = losses(variable);
  // The members' losses are independent, so the gradient of their sum is each member's own.
  const torch::Tensor total = values.select(1, 0).sum();
  (total * loss_scale).backward();
  return {values.detach(), variable.grad()};
}

void Stylizer::Impl::use_tiles(const TilePlan& plan, TargetInputs& inputs) {
  tile = plan.tile;
  const auto in_tiles = [this](int64_t tile_size) -> PieceSum {
    if (tile_size <= 0) return nullptr;
    return [this, tile_size](const torch::Tensor& image, const PieceStatistics& statistics) {
      return sum_over_tiles(
          image, [this](const torch::Tensor& x) { return features(x); }, objective.layers(), tile_size, statistics,
          stop_check);
    };
  };
  inputs.over_pieces = in_tiles(plan.tile);
  inputs.style_pieces = in_tiles(plan.style_tile);
}

Progress Stylizer::Impl::progress(int iteration, int iterations, const torch::Tensor& values, double seconds,
                                  const torch::Tensor& image) const {
  Progress p;
  p.iteration = iteration;
  p.iterations = iterations;
  p.last = iteration == iterations;
  p.losses = values;
  p.terms = objective.term_names();
  p.seconds = seconds;
  p.image = image;
  return p;
}

LossValues Stylizer::Impl::loss_values(const torch::Tensor& losses, int member) const {
  return progress(0, 0, losses, 0, {}).values(member);
}

void Stylizer::Impl::check_size(const torch::Tensor& image, const std::string& what, const std::string& flags) const {
  const int64_t minimum = net->min_input_side();
  if (image.size(-2) < minimum || image.size(-1) < minimum) {
    // Every image (content and styles) goes through the whole truncated network.
    // The longest side this shape needs; the shortest side is rounded to
    // whole pixels here (9 px of 500 is 8.5 before): from half a pixel less,
    // so that the size named is enough (from 9, 889 px was named, and 941 needed).
    const int64_t longest = std::max(image.size(-2), image.size(-1));
    const double shortest = std::max(0.5, static_cast<double>(std::min(image.size(-2), image.size(-1))) - 0.5);
    const auto needed = static_cast<int64_t>(std::ceil(static_cast<double>(minimum * longest) / shortest));
    throw ImageError(what + " is " + std::to_string(image.size(-1)) + "x" + std::to_string(image.size(-2)) +
                     " pixels, but every image goes through the network up to " + net->deepest_layer() +
                     " (the deepest of the content and style layers), which needs at least " + std::to_string(minimum) +
                     " pixels on each side (a longest side of about " + std::to_string(needed) +
                     " for this shape); use a larger " + flags + ", or shallower layers");
  }
}

torch::Tensor Stylizer::Impl::initial_image(const torch::Tensor& content,
                                            const std::vector<std::vector<torch::Tensor>>& members,
                                            const torch::Tensor& init) const {
  const int64_t batch = static_cast<int64_t>(members.size());
  torch::Tensor one;
  if (init.defined()) {
    one = resize_to(init, content.size(-2), content.size(-1)).clamp(0.0, 1.0);
  } else {
    switch (options.init) {
      case InitMode::Content:
        one = content;
        break;
      case InitMode::Noise:
        one = torch::rand(content.sizes(), torch::kFloat32);
        break;  // the same noise as a run of one
      case InitMode::Style: {
        // Members differ: each starts from its first style.
        std::vector<torch::Tensor> firsts;
        for (const auto& styles : members) {
          firsts.push_back(resize_to(styles.front(), content.size(-2), content.size(-1)).clamp(0.0, 1.0));
        }
        return torch::cat(firsts);
      }
      case InitMode::Image:
        throw OptionError("the start image is an image (--init PATH), but none was given to run()");
    }
  }
  return one.expand({batch, -1, -1, -1}).contiguous();
}

namespace {

// StylizeOptions::tolerance: the relative drop of the mean loss from the
// window before the last kPlateauWindow iterations to the last (negative when
// it rose, clamped to 0 there); -1 until there are two windows.
double plateau_drop(const std::vector<double>& totals) {
  const size_t n = totals.size(), w = kPlateauWindow;
  if (n < 2 * w) return -1;
  double before = 0, last = 0;
  for (size_t i = n - 2 * w; i < n - w; ++i) before += totals[i];
  for (size_t i = n - w; i < n; ++i) last += totals[i];
  return std::max(0.0, (before - last) / std::abs(before));
}

// The totals plateau_drop still reads: the last two windows.
std::vector<double> recent(const std::vector<double>& totals) {
  const size_t kept = std::min(totals.size(), static_cast<size_t>(2 * kPlateauWindow));
  return {totals.end() - static_cast<std::ptrdiff_t>(kept), totals.end()};
}

// StylizeOptions::average: the bias-corrected exponential moving average of
// the iterates (the last iterate itself when the decay is 0).
class IterateAverage {
 public:
  explicit IterateAverage(double decay) : decay_(decay) {}
  void add(const torch::Tensor& image) {
    if (decay_ <= 0) return;
    torch::NoGradGuard no_grad;
    if (!sum_.defined()) sum_ = torch::zeros_like(image);
    sum_.mul_(decay_).add_(image, 1.0 - decay_);
    weight_ = weight_ * decay_ + (1.0 - decay_);
  }
  torch::Tensor of(const torch::Tensor& last) const { return weight_ > 0 ? (sum_ / weight_).detach() : last.detach(); }
  // 0 until an iterate was added (and always without an average).
  double weight() const { return weight_; }
  const torch::Tensor& sum() const { return sum_; }
  // Goes on from a weighted sum of this shape (of a batch of one) and its weight (AdamState's).
  void restore(const torch::Tensor& sum, double weight) {
    if (decay_ <= 0 || weight <= 0) return;
    sum_ = sum.clone();
    weight_ = weight;
  }
  // Batch member `member`'s last iterate and the average's sum and weight, for
  // a checkpoint: views, valid until the next step (as PyramidAdam::moments').
  void save(const torch::Tensor& last, int64_t member, AdamState& state) const {
    state.iterate = last.narrow(0, member, 1).detach();
    if (decay_ <= 0 || weight_ <= 0) return;
    state.average_sum = sum_.narrow(0, member, 1).detach();
    state.average_weight = weight_;
  }

 private:
  double decay_;
  torch::Tensor sum_;
  double weight_ = 0;
};

}  // namespace

Stylizer::Impl::Outcome Stylizer::Impl::optimize_adam(torch::Tensor image, PyramidAdam& adam, int done, int iterations,
                                                      const ProgressCallback& callback, const AdamState& resumed) {
  // fp16 gradients underflow for the tiny style-loss gradients: scale the loss
  // up for the backward pass and the gradient back down (dynamic loss scaling).
  DynamicLossScale scaler = precision == Precision::Fp16 ? DynamicLossScale() : DynamicLossScale::disabled();
  Outcome outcome;
  outcome.iterations_done = done;
  torch::Tensor values;
  // This scale's, for the plateau test (StylizeOptions::tolerance); resumed, the saved ones.
  std::vector<double> totals = options.tolerance > 0 ? resumed.recent_totals : std::vector<double>();
  IterateAverage average(options.average);
  if (resumed.average_sum.defined()) average.restore(resumed.average_sum.to(image.device()), resumed.average_weight);
  for (int iteration = done + 1; iteration <= iterations; ++iteration) {
    const auto start = Clock::now();
    Evaluation evaluation;
    try {
      evaluation = loss_and_gradient(image, scaler.scale());
    } catch (const TiledEvaluationStopped&) {
      outcome.stop_reason = StopReason::Interrupted;  // the image is the last iteration's
      break;
    }
    values = evaluation.losses;
    const torch::Tensor total = values.select(1, 0).sum();
    torch::Tensor& grad = evaluation.gradient;
    if (scaler.scale() != 1.0) grad.div_(scaler.scale());
    // One host sync per step: never let a non-finite loss or gradient reach Adam's state.
    if (!torch::isfinite(total).item<bool>()) {
      outcome.stop_reason = StopReason::NumericFailure;
      break;
    }
    const LossScaleVerdict verdict = scaler.update(torch::isfinite(grad).all().item<bool>());
    if (verdict == LossScaleVerdict::Retry) {
      --iteration;  // the gradient overflowed in fp16: run this iteration again at the smaller scale
      continue;
    }
    if (verdict == LossScaleVerdict::GiveUp) {
      outcome.stop_reason = StopReason::NumericFailure;
      break;
    }
    adam.step(image, grad);
    image.clamp_(0.0, 1.0);
    average.add(image);
    outcome.iterations_done = iteration;
    double drop = -1;
    if (options.tolerance > 0) {
      totals.push_back(total.item<double>());
      drop = plateau_drop(totals);
    }
    Progress p = progress(iteration, iterations, values.detach(), seconds_since(start), average.of(image));
    p.drop = drop;
    p.adam_state = [&adam, &average, &image, &totals](int member) {
      AdamState state;
      state.moments = adam.moments(member);
      average.save(image, member, state);
      state.recent_totals = recent(totals);
      return state;
    };
    const bool plateau = drop >= 0 && drop < options.tolerance;
    p.last = p.last || plateau;
    if (callback && !callback(p)) {
      outcome.stop_reason = StopReason::Interrupted;
      break;
    }
    if (plateau) {
      outcome.stop_reason = StopReason::Converged;
      break;
    }
  }
  if (values.defined()) outcome.losses = values.detach().to(torch::kCPU);
  outcome.image = average.of(image);
  outcome.iterate = image.detach();
  if (average.weight() > 0) {
    outcome.average_sum = average.sum().detach();
    outcome.average_weight = average.weight();
  }
  outcome.recent_totals = recent(totals);
  return outcome;
}

Stylizer::Impl::Outcome Stylizer::Impl::optimize_lbfgs(const torch::Tensor& image, int done, int iterations,
                                                       const ProgressCallback& callback) {
  // An iteration is one evaluation of the loss, as in the original Lua
  // neural-style. stylize's L-BFGS (lbfgs.hpp) keeps every evaluated point in
  // [0, 1], stops after exactly that many evaluations (or once it has
  // converged) and reports only accepted iterates.
  LbfgsSettings settings;
  settings.max_evaluations = iterations - done;
  settings.history_size = kLbfgsHistory;
  Lbfgs lbfgs(settings, image);
  const auto objective = [this](const torch::Tensor& x) {
    const Evaluation evaluation = loss_and_gradient(x, 1.0);
    const torch::Tensor total = evaluation.losses.select(1, 0).sum();
    return LbfgsEvaluation{total.item<double>(), evaluation.gradient, evaluation.losses};
  };
  auto last = Clock::now();
  const auto report = [&](const Lbfgs& state) {
    const double seconds = seconds_since(last);
    last = Clock::now();
    const int iteration = done + state.evaluations();
    if (!callback) return true;
    Progress p = progress(iteration, iterations, state.accepted_report(), seconds, state.accepted_image().detach());
    p.last = p.last || state.status() != LbfgsStatus::Running;  // converged before -n: its last report
    return callback(p);
  };
  LbfgsStatus status = LbfgsStatus::Interrupted;
  try {
    status = lbfgs.run(objective, report);
  } catch (const TiledEvaluationStopped&) {
    // Abandoned between tiles: the accepted image and the evaluations done stand.
  }
  Outcome outcome;
  // A failing evaluation is not an iteration done: the image is the last accepted one.
  outcome.iterations_done = done + lbfgs.evaluations() - (status == LbfgsStatus::NumericFailure ? 1 : 0);
  switch (status) {
    case LbfgsStatus::Converged:
      outcome.stop_reason = StopReason::Converged;
      break;
    case LbfgsStatus::Interrupted:
      outcome.stop_reason = StopReason::Interrupted;
      break;
    case LbfgsStatus::NumericFailure:
      outcome.stop_reason = StopReason::NumericFailure;
      break;
    default:
      outcome.stop_reason = StopReason::Finished;
  }
  if (lbfgs.accepted_report().defined()) outcome.losses = lbfgs.accepted_report().to(torch::kCPU);
  outcome.image = lbfgs.accepted_image().detach();
  return outcome;
}

Result Stylizer::run(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                     const ProgressCallback& callback, const std::vector<double>& style_blend,
                     const torch::Tensor& init, const Guides& guides) {
  if (styles.empty()) throw OptionError("at least one style image is needed (--style)");
  validate_blend(style_blend, styles.size());
  return impl_->stylize(content, {styles}, style_blend, init, callback, guides).front();
}

std::vector<Result> Stylizer::run_batch(const torch::Tensor& content, const std::vector<torch::Tensor>& styles,
                                        const ProgressCallback& callback, const torch::Tensor& init) {
  if (styles.empty()) throw OptionError("at least one style image is needed (--style)");
  if (styles.size() > 1 && impl_->options.tolerance > 0) {
    // Each run ends on its own loss's plateau; a batch's members would all end on their sum's.
    throw OptionError("--tolerance runs each style alone, not as one batch: its plateau is each run's own");
  }
  if (styles.size() > 1 && impl_->options.optimizer != OptimizerKind::Adam) {
    throw OptionError("only Adam runs styles as one batch: L-BFGS's line search would couple them");
  }
  std::vector<std::vector<torch::Tensor>> members;
  for (const auto& style : styles) members.push_back({style});
  return impl_->stylize(content, members, {}, init, callback);
}

std::vector<std::vector<torch::Tensor>> Stylizer::Impl::colour_prepared(
    const std::vector<std::vector<torch::Tensor>>& members, const torch::Tensor& content) const {
  std::vector<std::vector<torch::Tensor>> prepared_members;
  for (const auto& styles : members) {
    std::vector<torch::Tensor> prepared;
    for (const auto& style : styles) {
      if (options.preserve_colors == PreserveColors::Luminance) {
        prepared.push_back(match_luminance(luminance_image(style), content));
      } else if (options.preserve_colors == PreserveColors::Histogram) {
        prepared.push_back(match_color_statistics(style, content));
      } else {
        prepared.push_back(style);
      }
    }
    prepared_members.push_back(prepared);
  }
  return prepared_members;
}

std::vector<std::vector<torch::Tensor>> Stylizer::Impl::scaled_styles(
    const std::vector<std::vector<torch::Tensor>>& members, double factor, const std::string& at_scale) const {
  size_t style_count = 0, style_number = 0;
  for (const auto& styles : members) style_count += styles.size();
  std::vector<std::vector<torch::Tensor>> scaled;
  for (const auto& styles : members) {
    std::vector<torch::Tensor> styles_s;
    for (const auto& style : styles) {
      const int longest = static_cast<int>(std::lround(std::max(style.size(-2), style.size(-1)) * factor));
      styles_s.push_back(resize_longest_side(style, std::max(1, longest)));
      ++style_number;
      const std::string which =
          style_count > 1 ? "style image " + std::to_string(style_number) + " of " + std::to_string(style_count)
                          : "the style image";
      check_size(styles_s.back(), which + at_scale, "--style-size or --style-scale");
      styles_s.back() = styles_s.back().to(device);
    }
    scaled.push_back(styles_s);
  }
  return scaled;
}

std::vector<int> Stylizer::Impl::batch_schedule(const torch::Tensor& content,
                                                const std::vector<std::vector<torch::Tensor>>& members) const {
  const std::vector<int> sizes = schedule(content, members.front());
  for (const auto& styles : members) {
    if (schedule(content, styles) != sizes) {
      throw OptionError("these styles need different coarse-to-fine sizes and cannot run as one batch");
    }
  }
  const size_t first_scale = static_cast<size_t>(options.scales_done);
  if (first_scale >= sizes.size()) {
    throw OptionError("cannot resume at scale " + std::to_string(first_scale + 1) + ": this run's sizes give " +
                      std::to_string(sizes.size()) + " scale(s); give the --size, --scales and --min-size of the " +
                      "run that was interrupted");
  }
  // validate() counted the iterations of --scales' scales; where sizes fell
  // together the schedule has fewer, and one alone is no coarse-to-fine run.
  const int at_scale = scale_iterations(options, first_scale, sizes.size());
  if (first_scale + 1 == sizes.size() && options.start_iteration >= at_scale) {
    throw OptionError("cannot resume at iteration " + std::to_string(options.start_iteration) + " of " +
                      std::to_string(at_scale) + " (scale " + std::to_string(first_scale + 1) + " of " +
                      std::to_string(sizes.size()) + " this run's sizes give); give the --size, --scales, --min-size " +
                      "and iterations of the run that was interrupted");
  }
  return sizes;
}

TargetInputs Stylizer::Impl::scale_inputs(const RunSources& sources, const std::vector<int>& sizes, size_t s) {
  const double factor = static_cast<double>(sizes[s]) / std::max(sources.content.size(-2), sources.content.size(-1));
  const std::string at_scale =
      sizes.size() > 1 ? " at scale " + std::to_string(s + 1) + " of " + std::to_string(sizes.size()) : "";
  TargetInputs inputs;
  inputs.content = resize_longest_side(sources.prepared_content, sizes[s]);
  check_size(inputs.content, "the content image" + at_scale, "--size (or --min-size)");
  inputs.content = inputs.content.to(device);
  inputs.content_source = sources.content;
  inputs.size = sizes[s];
  inputs.styles = scaled_styles(sources.prepared_members, factor, at_scale);
  inputs.blend = sources.blend;
  if (options.preserve_colors == PreserveColors::None) inputs.style_sources = sources.members;
  inputs.features = [this](const torch::Tensor& x) { return features(x); };
  // The temporal term compares what the network sees: the luminance when only it is transferred.
  inputs.temporal = sources.guides.temporal;
  inputs.regions = sources.guides.regions;
  if (options.preserve_colors == PreserveColors::Luminance) {
    for (auto& warped : inputs.temporal.warped) warped = luminance_image(warped);
  }
  use_tiles(plan_tiling(inputs.content.size(-2), inputs.content.size(-1), static_cast<int64_t>(sources.members.size()),
                        largest_style(inputs.styles)),
            inputs);
  return inputs;
}

Stylizer::Impl::Outcome Stylizer::Impl::optimize_scale(const torch::Tensor& start, size_t s, int done, int iterations,
                                                       AdamRun& run, const ProgressCallback& callback) {
  // A run resumed at the end of a scale goes on with the next.
  const auto nothing_left = [&start, done] {
    Outcome unchanged;
    unchanged.image = start;
    unchanged.iterations_done = done;
    return unchanged;
  };
  if (options.optimizer == OptimizerKind::Lbfgs) {
    return done < iterations ? optimize_lbfgs(start, done, iterations, callback) : nothing_left();
  }
  // Epsilon follows the gradients' scale, which falls with the pixel count
  // (content and style are means): exactly --eps at longest side 512.
  const double eps = options.eps * size_factor(start.size(-2), start.size(-1));
  if (run.adam) {
    // The gradients per pixel follow eps's factor (content and style are
    // means; TV is scaled to match): carry the moments at the new size and scale.
    run.adam->resize(start.size(-2), start.size(-1), eps / run.adam->eps());
    run.adam->set_eps(eps);
  } else {
    const StylizeOptions& o = options;
    run.adam.emplace(AdamSettings{o.lr, o.beta1, o.beta2, eps, o.adam_epsilon, o.nesterov}, start, o.pyramid);
    if (!run.resumed.moments.empty() && (done > 0 || s > 0)) {
      run.moments_restored = run.adam->restore(run.resumed.moments);
    }
  }
  // Resumed within a scale: on from the last iterate (the image saved is
  // rounded to 8 or 16 bits, or is the average), with an average so far.
  const auto fits = [&start](const torch::Tensor& t) { return t.defined() && t.sizes() == start.sizes(); };
  const bool on_iterate = run.moments_restored && done > 0 && fits(run.resumed.iterate) &&
                          (options.average <= 0 || fits(run.resumed.average_sum));
  if (done >= iterations) {
    // Resumed at (or past) this scale's end, with the moments restored, to
    // carry to the next scale; which starts from this scale's result as the
    // uninterrupted run had it: the iterate, or the average, unrounded.
    Outcome ended = nothing_left();
    if (on_iterate && options.average <= 0) {
      ended.image = run.resumed.iterate.to(device, torch::kFloat32);
    } else if (on_iterate && run.resumed.average_weight > 0) {
      ended.image = run.resumed.average_sum.to(device, torch::kFloat32) / run.resumed.average_weight;
    }
    return ended;
  }
  if (!on_iterate) return optimize_adam(start, *run.adam, done, iterations, callback);
  return optimize_adam(run.resumed.iterate.to(device, torch::kFloat32).clone(), *run.adam, done, iterations, callback,
                       run.resumed);
}

std::vector<Result> Stylizer::Impl::results(const Outcome& outcome, size_t scale, const AdamRun& run,
                                            const torch::Tensor& content) const {
  // The losses of the image returned. An Adam iteration's losses are those of
  // its input, a step (and with --average, an average) behind that image: one
  // more evaluation, not made for an interrupted run (it should stop at once).
  // L-BFGS returns the last iterate it evaluated.
  const bool stopped =
      outcome.stop_reason == StopReason::Interrupted || outcome.stop_reason == StopReason::NumericFailure;
  torch::Tensor final_losses;
  if (options.optimizer == OptimizerKind::Lbfgs) {
    final_losses = outcome.losses;
  } else if (outcome.losses.defined() && !stopped) {
    torch::NoGradGuard no_grad;
    final_losses = losses(outcome.image).detach().to(torch::kCPU);
  }
  torch::Tensor images = outcome.image.to(torch::kCPU);
  if (options.preserve_colors == PreserveColors::Luminance) images = combine_luminance_and_chroma(images, content);
  std::vector<Result> results;
  for (int64_t b = 0; b < images.size(0); ++b) {
    Result result;
    result.image = images.narrow(0, b, 1).contiguous();
    result.iterations_done = outcome.iterations_done;
    result.scales_done = static_cast<int>(scale);
    result.stop_reason = outcome.stop_reason;
    if (final_losses.defined()) result.losses = loss_values(final_losses, static_cast<int>(b));
    if (!run.adam && !run.resumed.moments.empty() && images.size(0) == 1) {
      result.adam_state = run.resumed;  // stopped before the resumed scale's optimizer was made: as resumed
    } else if (run.adam) {
      result.adam_state.moments = run.adam->moments(b);
      if (outcome.iterate.defined()) result.adam_state.iterate = outcome.iterate.narrow(0, b, 1).to(torch::kCPU);
      if (outcome.average_sum.defined()) {
        result.adam_state.average_sum = outcome.average_sum.narrow(0, b, 1).to(torch::kCPU);
        result.adam_state.average_weight = outcome.average_weight;
      }
      result.adam_state.recent_totals = outcome.recent_totals;
    }
    result.moments_restored = run.moments_restored;
    results.push_back(result);
  }
  return results;
}

std::vector<Result> Stylizer::Impl::stylize(const torch::Tensor& content,
                                            const std::vector<std::vector<torch::Tensor>>& members,
                                            const std::vector<double>& blend, const torch::Tensor& init,
                                            const ProgressCallback& callback, const Guides& guides) {
  torch::manual_seed(options.seed);
  const bool luminance = options.preserve_colors == PreserveColors::Luminance;
  const RunSources sources{content, luminance ? luminance_image(content) : content,
                           members, colour_prepared(members, content),
                           blend,   guides};
  check_memory(content.size(-2), content.size(-1), static_cast<int64_t>(members.size()), largest_style(members));
  const std::vector<int> sizes = batch_schedule(content, members);
  const size_t first_scale = static_cast<size_t>(options.scales_done);
  // A resumed coarse-to-fine run starts from its image at the size of the
  // scale it stopped at (not stretched to the content's and shrunk again).
  const bool resuming = options.start_iteration > 0 || first_scale > 0;
  // --init style starts from the style as its targets see it: recoloured
  // with --preserve-colors, else the painting's colours would stay.
  torch::Tensor image =
      initial_image(resuming && sizes.size() > 1 ? resize_longest_side(content, sizes[first_scale]) : content,
                    sources.prepared_members, init);
  if (luminance) image = luminance_image(image);

  // Adam's moments go on from scale to scale, resized with the image.
  AdamRun adam_run;
  adam_run.resumed = std::move(pending_adam);
  pending_adam = {};
  Outcome outcome;
  size_t scale = first_scale;  // the one the run ended at
  for (size_t s = first_scale; s < sizes.size(); ++s) {
    scale = s;
    const TargetInputs inputs = scale_inputs(sources, sizes, s);
    const torch::Tensor start = resize_to(image, inputs.content.size(-2), inputs.content.size(-1))
                                    .to(device, torch::kFloat32)
                                    .clamp(0.0, 1.0)
                                    .clone();
    try {
      objective.prepare(inputs);
    } catch (const TiledEvaluationStopped&) {
      // Stopped while the targets were computed in tiles: where the last
      // scale ended, or this one starts, no iteration lost.
      if (s > first_scale) {
        scale = s - 1;
      } else {
        outcome = Outcome();
        outcome.image = start;
        outcome.iterations_done = options.start_iteration;
      }
      outcome.stop_reason = StopReason::Interrupted;
      break;
    }
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
    const int done = s == first_scale ? options.start_iteration : 0;  // resumed
    outcome = optimize_scale(start, s, done, scale_iterations(options, s, sizes.size()), adam_run, scaled);
    image = outcome.image;
    if (outcome.stop_reason == StopReason::Interrupted || outcome.stop_reason == StopReason::NumericFailure) break;
    // The next scale's blocks have other sizes: do not keep this scale's cached.
    if (s + 1 < sizes.size()) release_freed_cpu_memory();
  }
  return results(outcome, scale, adam_run, content);
}

void Stylizer::set_schedule(int scales, int iterations, int scales_done, int start_iteration) {
  StylizeOptions changed = impl_->options;
  changed.scales = scales;
  changed.iterations = iterations;
  changed.scales_done = scales_done;
  changed.start_iteration = start_iteration;
  validate(changed);
  impl_->options = changed;
}

LossValues Stylizer::evaluate(const torch::Tensor& image, const torch::Tensor& content,
                              const std::vector<torch::Tensor>& styles, const Guides& guides) {
  Impl& m = *impl_;
  TargetInputs inputs;
  inputs.content = content.to(m.device);
  inputs.content_source = content;
  inputs.size = static_cast<int>(std::max(content.size(-2), content.size(-1)));
  std::vector<torch::Tensor> on_device;
  for (const auto& style : styles) on_device.push_back(style.to(m.device));
  inputs.styles = {on_device};
  inputs.regions = guides.regions;
  inputs.temporal = guides.temporal;
  inputs.features = [&m](const torch::Tensor& x) { return m.features(x); };
  m.use_tiles(m.check_memory(image.size(-2), image.size(-1), image.size(0), largest_style({styles})), inputs);
  m.objective.prepare(inputs);
  torch::NoGradGuard no_grad;
  return m.loss_values(m.losses(image.to(m.device, torch::kFloat32)));
}

}  // namespace stylize
