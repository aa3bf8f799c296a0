// The engine's optimizers (issue 11): TensorFlow's Adam by default with its
// state carried across scales, and stylize's L-BFGS (every evaluated image in
// [0, 1], exactly n evaluations, only accepted iterates reported and saved),
// with its history in the memory estimate.
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <torch/cuda.h>
#include <cmath>

#include "stylize/core/engine.hpp"
#include "stylize/core/lbfgs.hpp"
#include "stylize/errors.hpp"
#include "test_terms.hpp"
#include "test_util.hpp"

namespace stylize {
namespace {

using test::tiny_options;

using test::tiny_weights;

// A term that adds nothing to the loss but keeps every image the objective is evaluated at.
class RecordingTerm : public LossTerm {
 public:
  explicit RecordingTerm(std::vector<torch::Tensor>* images) : images_(images) {}
  std::string name() const override { return "recorded"; }
  std::vector<std::string> layers() const override { return {}; }
  void prepare(const TargetInputs&) override {}
  std::vector<torch::Tensor> statistics(const Piece& piece) const override {
    images_->push_back(piece.image().detach().clone());
    return {torch::zeros({piece.image().size(0)}, piece.image().options().dtype(torch::kFloat32))};
  }
  torch::Tensor loss(const std::vector<torch::Tensor>& statistics) const override { return statistics.front(); }

 private:
  std::vector<torch::Tensor>* images_;
};

Objective default_objective(const StylizeOptions& options) { return make_objective(options, LossUnits::Normalized); }

TEST(EngineLbfgs, EvaluatesInTheBoxExactlyNTimesAndReportsAcceptedIterates) {
  StylizeOptions options = tiny_options();
  options.optimizer = OptimizerKind::Lbfgs;
  options.init = InitMode::Noise;  // far from any optimum: it does not converge within the budget
  options.style_weight = 1e4;
  options.iterations = 30;
  std::vector<torch::Tensor> evaluated;
  Objective objective = default_objective(options);
  objective.add(std::make_unique<RecordingTerm>(&evaluated));
  Stylizer stylizer(options, tiny_weights(), std::move(objective));
  std::vector<torch::Tensor> reported;
  std::vector<double> totals;
  const Result result =
      stylizer.run(test::pattern_image(32, 32, 0.1), {test::pattern_image(32, 32, 2.0)}, [&](const Progress& p) {
        reported.push_back(p.image.clone());
        totals.push_back(p.values().total);
        return true;
      });
  EXPECT_EQ(result.stop_reason, StopReason::Finished);
  EXPECT_EQ(result.iterations_done, 30);
  ASSERT_EQ(evaluated.size(), 30u) << "one evaluation per iteration, line searches included";
  ASSERT_EQ(reported.size(), 30u);
  for (const auto& image : evaluated) {
    EXPECT_GE(image.min().item<float>(), 0.f);
    EXPECT_LE(image.max().item<float>(), 1.f);
  }
  // Progress shows accepted iterates only: their losses never rise, and each
  // is an image that was evaluated (not a point between the line search's trials).
  for (size_t i = 1; i < totals.size(); ++i) EXPECT_LE(totals[i], totals[i - 1]) << "evaluation " << i + 1;
  const auto was_evaluated = [&](const torch::Tensor& image) {
    for (const auto& e : evaluated) {
      if (torch::equal(e, image)) return true;
    }
    return false;
  };
  for (const auto& image : reported) EXPECT_TRUE(was_evaluated(image));
  EXPECT_TRUE(torch::equal(result.image, reported.back().cpu()));
  EXPECT_DOUBLE_EQ(result.losses.total, totals.back());
  EXPECT_LT(totals.back(), 0.5 * totals.front());
}

TEST(EngineLbfgs, TheMemoryEstimateIncludesTheHistory) {
  StylizeOptions options = tiny_options();
  const Stylizer adam(options, tiny_weights());
  options.optimizer = OptimizerKind::Lbfgs;
  const Stylizer lbfgs(options, tiny_weights());
  const double network = estimate_memory_bytes(adam.network(), 768, 1024, torch::kFloat32, 1);
  const double history = Lbfgs::state_bytes(3 * 768 * 1024, 100);
  EXPECT_GT(history, 1.8e9);  // 2 x 100 image-sized float32 vectors
  test::ScopedEnv limit("STYLIZE_MEMORY_LIMIT_MB", std::to_string((network + history / 2) / (1 << 20)));
  EXPECT_NO_THROW(adam.check_memory(768, 1024));
  EXPECT_THROW(lbfgs.check_memory(768, 1024), ResourceError);
}

// Adam's first update of a flat image: TensorFlow's epsilon (on the raw sqrt(v))
// gives a step lr * sqrt(1 - b2) / (1 - b1) * g / (sqrt(1 - b2) |g| + eps),
// PyTorch's lr / (1 - b1) * g / (|g| + eps): with the tutorial's eps = 0.1 and a
// small gradient they differ by about 1 / sqrt(1 - b2) = 31.6x.
TEST(EngineAdam, TheDefaultIsTensorFlowsEpsilon) {
  StylizeOptions options = tiny_options();
  EXPECT_EQ(options.adam_epsilon, AdamEpsilon::TensorFlow);
  options.iterations = 1;
  options.style_weight = 1e-9;  // tiny gradients, where the placement of eps matters most
  options.tv_weight = 0;
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  const auto moved = [&](AdamEpsilon placement) {
    StylizeOptions o = options;
    o.adam_epsilon = placement;
    return (Stylizer(o, tiny_weights()).run(content, {style}).image - content).abs().max().item<double>();
  };
  const double tensorflow = moved(AdamEpsilon::TensorFlow), pytorch = moved(AdamEpsilon::PyTorch);
  EXPECT_GT(tensorflow, 0);
  EXPECT_LT(tensorflow, pytorch / 10);
}

// Coarse to fine: Adam's moments and step count go on to the next scale, so
// the second scale does not restart with the bias-corrected first step
// (whose size is lr, whatever the gradient).
TEST(EngineAdam, StateCarriesAcrossScales) {
  StylizeOptions options = tiny_options();
  options.iterations = 3;
  options.scales = 2;
  options.min_size = 16;
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  std::vector<torch::Tensor> images;
  Stylizer(options, tiny_weights()).run(content, {style}, [&](const Progress& p) {
    images.push_back(p.image.clone());
    return true;
  });
  ASSERT_EQ(images.size(), 6u);
  // The same second scale from a fresh Adam: the first scale's result as the start image.
  StylizeOptions fresh = options;
  fresh.scales = 1;
  fresh.init = InitMode::Image;
  std::vector<torch::Tensor> restarted;
  Stylizer(fresh, tiny_weights())
      .run(
          content, {style},
          [&](const Progress& p) {
            restarted.push_back(p.image.clone());
            return true;
          },
          {}, images[2]);
  ASSERT_EQ(restarted.size(), 3u);
  EXPECT_GT((images[3] - restarted[0]).abs().max().item<double>(), 1e-4)
      << "the second scale's first update is a fresh Adam's";
}

// Carried to the next scale, Adam's moments are rescaled to its gradients and
// epsilon follows them (both 4x smaller when the side doubles). The only term
// is a * mean(image), whose gradient is the same at every pixel, a / (3 h w):
// every step is then the one an unbroken run takes with a constant gradient,
// lr * r / (r + eps / |g|) with r = sqrt(1 - b2^t) (TensorFlow's epsilon), as
// eps / |g| is the same at both scales. Moments carried unrescaled make the
// 4th step (the second scale's first) 0.75 lr instead of 0.56 lr.
TEST(EngineAdam, CarriedMomentsFollowTheNextScalesGradients) {
  StylizeOptions options = tiny_options();
  options.iterations = 3;
  options.scales = 2;
  options.min_size = 16;
  options.content_weight = options.style_weight = options.tv_weight = 0;
  // eps / |g| = 0.05 at every scale: eps = 0.1 (512 / side)^2, |g| = a / (3 side^2).
  const double eps_over_gradient = 0.05;
  const double a = options.eps * 512 * 512 * 3 / eps_over_gradient;
  Objective objective = default_objective(options);
  objective.add(std::make_unique<test::MeanBrightnessTerm>(a));
  Stylizer stylizer(options, tiny_weights(), std::move(objective));
  std::vector<torch::Tensor> images;
  stylizer.run(torch::full({1, 3, 32, 32}, 0.5), {test::pattern_image(32, 32, 2.0)}, [&](const Progress& p) {
    images.push_back(p.image.clone());
    return true;
  });
  ASSERT_EQ(images.size(), 6u);
  EXPECT_EQ(images[2].size(-1), 16);
  EXPECT_EQ(images[3].size(-1), 32);
  double before = 0.5;
  for (int t = 1; t <= 6; ++t) {
    const torch::Tensor& image = images[t - 1];
    ASSERT_LT((image.max() - image.min()).item<double>(), 1e-6) << "step " << t << " moves every pixel alike";
    const double now = image.mean().item<double>();
    const double r = std::sqrt(1 - std::pow(options.beta2, t));
    const double expected = options.lr * r / (r + eps_over_gradient);
    EXPECT_NEAR(before - now, expected, 1e-3 * expected) << "step " << t << " (scale " << (t <= 3 ? 1 : 2) << ")";
    before = now;
  }
}

// --tolerance: a scale ends once the mean loss of the last 25 iterations is
// less than the tolerance below that of the 25 before; the next scale starts,
// and after the last the run says it converged. The measure is reported from
// the 50th iteration of each scale on, and is what the stop was decided by.
TEST(EngineAdam, ToleranceEndsEachScaleOnAPlateau) {
  StylizeOptions options = tiny_options();
  options.iterations = 200;
  options.scales = 2;
  options.min_size = 16;
  options.tolerance = 0.99;  // no 25 iterations lower these losses 100-fold: each scale ends at its 50th
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  std::vector<Progress> seen;
  const Result result = Stylizer(options, tiny_weights()).run(content, {style}, [&](const Progress& p) {
    seen.push_back(p);
    return true;
  });
  ASSERT_EQ(seen.size(), 2u * 2 * kPlateauWindow);
  for (size_t i = 0; i < seen.size(); ++i) {
    const int in_scale = static_cast<int>(i % (2 * kPlateauWindow)) + 1;
    EXPECT_EQ(seen[i].iteration, in_scale);
    EXPECT_EQ(seen[i].scale, static_cast<int>(i / (2 * kPlateauWindow)) + 1);
    // The plateau's iteration is the scale's last, as progress lines show.
    EXPECT_EQ(seen[i].last, in_scale == 2 * kPlateauWindow) << i;
    if (in_scale < 2 * kPlateauWindow) {
      EXPECT_EQ(seen[i].drop, -1) << "not measured before two windows";
    }
  }
  // The reported drop is the windows' relative difference.
  double before = 0, last = 0;
  for (int i = 0; i < kPlateauWindow; ++i) before += seen[i].values().total;
  for (int i = kPlateauWindow; i < 2 * kPlateauWindow; ++i) last += seen[i].values().total;
  EXPECT_NEAR(seen[2 * kPlateauWindow - 1].drop, std::max(0.0, (before - last) / before), 1e-9);
  EXPECT_LT(seen[2 * kPlateauWindow - 1].drop, 0.99);
  EXPECT_EQ(result.stop_reason, StopReason::Converged);
  EXPECT_EQ(result.iterations_done, 2 * kPlateauWindow);

  // Without a tolerance every iteration runs, and nothing is measured.
  options.tolerance = 0;
  options.iterations = 60;
  options.scales = 1;
  int calls = 0;
  const Result full = Stylizer(options, tiny_weights()).run(content, {style}, [&](const Progress& p) {
    ++calls;
    EXPECT_EQ(p.drop, -1);
    EXPECT_EQ(p.last, p.iteration == 60);
    return true;
  });
  EXPECT_EQ(calls, 60);
  EXPECT_EQ(full.stop_reason, StopReason::Finished);
  for (const double bad : {-0.1, 1.0, std::nan("")}) {
    options.tolerance = bad;
    EXPECT_THROW(Stylizer(options, tiny_weights()), OptionError) << bad;
  }
}

// A run resumed within a scale goes on looking for the plateau with the
// losses it had (AdamState::recent_totals): it stops where the uninterrupted
// run does (afresh, it ran at least 2 windows more: to 80, not 50).
TEST(EngineAdam, AResumedRunFindsThePlateauWhereTheUninterruptedOneDoes) {
  StylizeOptions options = tiny_options();
  options.iterations = 200;
  options.tolerance = 0.99;  // each scale ends at its 50th iteration
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  const Result whole = Stylizer(options, tiny_weights()).run(content, {style});
  ASSERT_EQ(whole.stop_reason, StopReason::Converged);
  ASSERT_EQ(whole.iterations_done, 2 * kPlateauWindow);
  const Result stopped =
      Stylizer(options, tiny_weights()).run(content, {style}, [](const Progress& p) { return p.iteration < 30; });
  ASSERT_EQ(stopped.iterations_done, 30);
  EXPECT_EQ(stopped.adam_state.recent_totals.size(), 30u);
  StylizeOptions resumed = options;
  resumed.start_iteration = 30;
  resumed.init = InitMode::Image;
  Stylizer with(resumed, tiny_weights());
  with.resume_adam(stopped.adam_state);
  const Result on = with.run(content, {style}, {}, {}, stopped.image);
  EXPECT_EQ(on.stop_reason, StopReason::Converged);
  EXPECT_EQ(on.iterations_done, 2 * kPlateauWindow);
  EXPECT_TRUE(torch::allclose(on.image, whole.image, 0, 1e-5)) << (on.image - whole.image).abs().max().item<float>();
  // Only the last two windows are kept.
  EXPECT_EQ(on.adam_state.recent_totals.size(), static_cast<size_t>(2 * kPlateauWindow));
}

// --nesterov reaches Adam: NAdam's first step follows (1 + b1 / (1 + b1)) g
// where Adam's follows g (core/adam.hpp), so it is Adam's first step with the
// learning rate that many times larger, and not Adam's own.
TEST(EngineAdam, NesterovsFirstStepIsAdamsWithALargerLearningRate) {
  StylizeOptions options = tiny_options();
  options.iterations = 1;
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  const auto first_image = [&](const StylizeOptions& o) {
    return Stylizer(o, tiny_weights()).run(content, {style}).image;
  };
  const torch::Tensor adam = first_image(options);
  StylizeOptions nesterov = options;
  nesterov.nesterov = true;
  const torch::Tensor nadam = first_image(nesterov);
  StylizeOptions longer = options;
  longer.lr *= 1.0 + options.beta1 / (1.0 + options.beta1);
  const torch::Tensor adam_longer = first_image(longer);
  EXPECT_LT((nadam - adam_longer).abs().max().item<double>(), 1e-6);
  EXPECT_GT((nadam - adam).abs().max().item<double>(), 1e-4);
}

// --average: each scale's result (and every progress image) is the
// bias-corrected exponential moving average of that scale's iterates, which
// follow the same path as without it; the next scale starts from the average.
TEST(EngineAdam, AverageIsTheMovingAverageOfEachScalesIterates) {
  StylizeOptions options = tiny_options();
  options.iterations = 6;
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  const auto images_of = [&](const StylizeOptions& o, Result* result) {
    std::vector<torch::Tensor> images;
    *result = Stylizer(o, tiny_weights()).run(content, {style}, [&](const Progress& p) {
      images.push_back(p.image.clone());
      return true;
    });
    return images;
  };
  Result last, averaged;
  const std::vector<torch::Tensor> iterates = images_of(options, &last);
  options.average = 0.6;
  const std::vector<torch::Tensor> averages = images_of(options, &averaged);
  ASSERT_EQ(iterates.size(), 6u);
  ASSERT_EQ(averages.size(), 6u);
  torch::Tensor sum = torch::zeros_like(iterates[0]);
  double weight = 0;
  for (size_t i = 0; i < iterates.size(); ++i) {
    sum = 0.6 * sum + 0.4 * iterates[i];
    weight = 0.6 * weight + 0.4;
    // Bias-corrected: the first average is the first iterate.
    EXPECT_LT((averages[i] - sum / weight).abs().max().item<double>(), 1e-6) << "iteration " << i + 1;
  }
  EXPECT_GT((averages.back() - iterates.back()).abs().max().item<double>(), 1e-4);
  EXPECT_LT((averaged.image - sum / weight).abs().max().item<double>(), 1e-6) << "the result is the average";
  EXPECT_TRUE(torch::equal(last.image, iterates.back())) << "without --average: the last iterate";

  // Two scales: the second starts from the first's average. Were it started
  // from the last iterate, its first image would be the unaveraged run's.
  options.scales = 2;
  options.min_size = 16;
  options.iterations = 3;
  Result unused;
  const std::vector<torch::Tensor> two = images_of(options, &unused);
  StylizeOptions plain = options;
  plain.average = 0;
  const std::vector<torch::Tensor> two_plain = images_of(plain, &unused);
  ASSERT_EQ(two.size(), 6u);
  ASSERT_EQ(two_plain.size(), 6u);
  EXPECT_GT((two[2] - two_plain[2]).abs().max().item<double>(), 1e-5) << "the first scale's result is averaged";
  EXPECT_GT((two[3] - two_plain[3]).abs().max().item<double>(), 1e-5) << "the second starts from the average";

  for (const double bad : {-0.1, 1.0, std::nan("")}) {
    options.average = bad;
    EXPECT_THROW(Stylizer(options, tiny_weights()), OptionError) << bad;
  }
}

// Result::losses are the returned image's own, as Stylizer::evaluate measures
// them: with --average the average's, and without it the image after the last
// step, not the last iteration's input (whose losses the progress shows).
TEST(EngineAdam, ResultLossesAreThoseOfTheReturnedImage) {
  const torch::Tensor content = test::pattern_image(32, 32, 0.1);
  const torch::Tensor style = test::pattern_image(32, 32, 2.0);
  for (const double average : {0.0, 0.6}) {
    StylizeOptions options = tiny_options();
    options.iterations = 6;
    options.average = average;
    Stylizer stylizer(options, tiny_weights());
    double last_progress = 0;
    const Result result = stylizer.run(content, {style}, [&](const Progress& p) {
      last_progress = p.values().total;
      return true;
    });
    const LossValues own = stylizer.evaluate(result.image, content, {style});
    EXPECT_NEAR(result.losses.total, own.total, 1e-5 * own.total) << "average " << average;
    ASSERT_EQ(result.losses.terms.size(), own.terms.size());
    for (size_t k = 0; k < own.terms.size(); ++k) {
      EXPECT_NEAR(result.losses.terms[k].second, own.terms[k].second, 1e-5 * own.total) << own.terms[k].first;
    }
    EXPECT_GT(std::abs(result.losses.total - last_progress), 1e-4 * own.total)
        << "the last iteration's losses are its input's, a step behind (average " << average << ")";
  }
}

// A run stopped at iteration 3 and resumed with its Adam moments (every
// pyramid level's) makes the uninterrupted run's image; with its moments
// started again, another. Moments of another size are not used.
TEST(EngineResume, AdamMomentsMakeAResumedRunTheUninterruptedOne) {
  StylizeOptions o = tiny_options();
  o.iterations = 6;
  o.pyramid = 2;
  const torch::Tensor content = test::pattern_image(40, 32, 0.4), style = test::pattern_image(32, 32, 1.7);
  const Result whole = Stylizer(o, tiny_weights()).run(content, {style});
  const Result stopped =
      Stylizer(o, tiny_weights()).run(content, {style}, [](const Progress& p) { return p.iteration < 3; });
  ASSERT_EQ(stopped.stop_reason, StopReason::Interrupted);
  ASSERT_EQ(stopped.iterations_done, 3);
  ASSERT_EQ(stopped.adam_state.moments.size(), 3u);
  EXPECT_EQ(stopped.adam_state.moments[0].steps, 3);
  ASSERT_TRUE(stopped.adam_state.iterate.defined());
  EXPECT_TRUE(torch::equal(stopped.adam_state.iterate, stopped.image)) << "no average: the image is the iterate";
  EXPECT_FALSE(stopped.adam_state.average_sum.defined());

  StylizeOptions resumed = o;
  resumed.start_iteration = 3;
  resumed.init = InitMode::Image;
  Stylizer with(resumed, tiny_weights());
  with.resume_adam(stopped.adam_state);
  const Result on = with.run(content, {style}, {}, {}, stopped.image);
  EXPECT_TRUE(on.moments_restored);
  EXPECT_TRUE(torch::allclose(on.image, whole.image, 0, 1e-5)) << (on.image - whole.image).abs().max().item<float>();
  const Result fresh = Stylizer(resumed, tiny_weights()).run(content, {style}, {}, {}, stopped.image);
  EXPECT_FALSE(fresh.moments_restored);
  EXPECT_GT((fresh.image - whole.image).abs().max().item<float>(), 1e-3);

  Stylizer other(resumed, tiny_weights());
  other.resume_adam(stopped.adam_state);
  const torch::Tensor wider = test::pattern_image(40, 48, 0.4);
  EXPECT_FALSE(other.run(wider, {style}, {}, {}, wider).moments_restored);
}

// Coarse to fine, a run resumed where it stopped (StylizeOptions::scales_done
// and start_iteration, with the image and Adam's moments it ended with) is
// the uninterrupted run: stopped within the first scale, at its very end (it
// goes on with the next), or within the last.
TEST(EngineResume, ACoarseToFineRunGoesOnAtTheScaleItStoppedAt) {
  StylizeOptions o = tiny_options();
  o.scales = 2;
  o.min_size = 24;
  o.initial_iterations = 3;
  o.iterations = 4;
  o.pyramid = 1;
  const torch::Tensor content = test::pattern_image(48, 40, 0.4), style = test::pattern_image(32, 32, 1.7);
  const Result whole = Stylizer(o, tiny_weights()).run(content, {style});
  ASSERT_EQ(whole.scales_done, 1);
  for (const auto& [scale, iteration] : {std::pair{1, 2}, std::pair{1, 3}, std::pair{2, 2}}) {
    const Result stopped = Stylizer(o, tiny_weights()).run(content, {style}, [&](const Progress& p) {
      return !(p.scale == scale && p.iteration == iteration);
    });
    ASSERT_EQ(stopped.stop_reason, StopReason::Interrupted);
    ASSERT_EQ(stopped.scales_done, scale - 1);
    ASSERT_EQ(stopped.iterations_done, iteration);
    EXPECT_EQ(stopped.image.size(2) < content.size(2), scale == 1) << "the image has its scale's size";

    StylizeOptions resumed = o;
    resumed.scales_done = scale - 1;
    resumed.start_iteration = iteration;
    resumed.init = InitMode::Image;
    Stylizer with(resumed, tiny_weights());
    with.resume_adam(stopped.adam_state);
    const Result on = with.run(content, {style}, {}, {}, stopped.image);
    EXPECT_TRUE(on.moments_restored) << scale << "/" << iteration;
    ASSERT_EQ(on.image.sizes(), whole.image.sizes());
    EXPECT_TRUE(torch::allclose(on.image, whole.image, 0, 1e-5))
        << scale << "/" << iteration << ": " << (on.image - whole.image).abs().max().item<float>();
  }
  StylizeOptions beyond = o;
  beyond.scales_done = 1;
  beyond.start_iteration = 4;
  EXPECT_THROW(Stylizer(beyond, tiny_weights()), OptionError) << "the last scale's last iteration ends the run";
  beyond.scales_done = 2;
  beyond.start_iteration = 0;
  EXPECT_THROW(Stylizer(beyond, tiny_weights()), OptionError);
  // Past an earlier scale's iterations (saved by a run with more there): that
  // scale is done, and the run goes on with the next.
  beyond.scales_done = 0;
  beyond.start_iteration = 100;
  EXPECT_NO_THROW(Stylizer(beyond, tiny_weights()));
}

// With an average of the iterates (--average, --preset fast) the image a run
// stops with is the average, not where Adam was: resumed with its state (the
// last iterate, the average and its weight, besides the moments) the run is
// the uninterrupted one, at one scale and coarse to fine; from the image and
// the moments alone it is another.
TEST(EngineResume, WithAnAverageTheResumedRunIsTheUninterruptedOne) {
  StylizeOptions o = tiny_options();
  o.average = 0.9;
  o.iterations = 6;
  const torch::Tensor content = test::pattern_image(48, 40, 0.4), style = test::pattern_image(32, 32, 1.7);
  for (const int scales : {1, 2}) {
    o.scales = scales;
    o.min_size = scales > 1 ? 24 : 0;
    const Result whole = Stylizer(o, tiny_weights()).run(content, {style});
    for (const auto& [scale, iteration] : {std::pair{1, 3}, std::pair{2, 4}}) {
      if (scale > scales) continue;
      const Result stopped = Stylizer(o, tiny_weights()).run(content, {style}, [&](const Progress& p) {
        return !(p.scale == scale && p.iteration == iteration);
      });
      ASSERT_EQ(stopped.iterations_done, iteration);
      const AdamState& state = stopped.adam_state;
      ASSERT_TRUE(state.iterate.defined() && state.average_sum.defined());
      EXPECT_TRUE(torch::equal(state.average_sum / state.average_weight, stopped.image))
          << "the image saved is the average";
      EXPECT_GT((state.iterate - stopped.image).abs().max().item<float>(), 1e-3) << "the iterate is ahead of it";
      EXPECT_NEAR(state.average_weight, 1 - std::pow(0.9, iteration), 1e-9);

      StylizeOptions resumed = o;
      resumed.scales_done = scale - 1;
      resumed.start_iteration = iteration;
      resumed.init = InitMode::Image;
      const std::string where =
          std::to_string(scales) + " scale(s), stopped at " + std::to_string(scale) + "/" + std::to_string(iteration);
      Stylizer with(resumed, tiny_weights());
      with.resume_adam(state);
      const Result on = with.run(content, {style}, {}, {}, stopped.image);
      EXPECT_TRUE(on.moments_restored) << where;
      EXPECT_TRUE(torch::allclose(on.image, whole.image, 0, 1e-5))
          << where << ": " << (on.image - whole.image).abs().max().item<float>();
      AdamState moments_only;
      moments_only.moments = state.moments;
      Stylizer without(resumed, tiny_weights());
      without.resume_adam(moments_only);
      const Result other = without.run(content, {style}, {}, {}, stopped.image);
      EXPECT_GT((other.image - whole.image).abs().max().item<float>(), 1e-4) << where;
    }
  }
}

// The frames of a video share one Stylizer: set_schedule's start point makes
// its next run go on where a checkpoint stopped (a frame interrupted within
// its run), as the uninterrupted run would, and a later set_schedule without
// one starts the run after it from the beginning again.
TEST(EngineResume, SetScheduleResumesTheNextRunOfOneStylizer) {
  StylizeOptions o = tiny_options();
  o.average = 0.9;
  o.iterations = 6;
  o.scales = 2;
  o.min_size = 24;
  const torch::Tensor content = test::pattern_image(48, 40, 0.4), style = test::pattern_image(32, 32, 1.7);
  const Result whole = Stylizer(o, tiny_weights()).run(content, {style});
  const Result stopped = Stylizer(o, tiny_weights()).run(content, {style}, [](const Progress& p) {
    return !(p.scale == 1 && p.iteration == 3);
  });
  ASSERT_EQ(stopped.stop_reason, StopReason::Interrupted);
  Stylizer shared(o, tiny_weights());
  EXPECT_TRUE(torch::equal(shared.run(content, {style}).image, whole.image)) << "an earlier frame";
  shared.set_schedule(2, 6, stopped.scales_done, stopped.iterations_done);
  shared.resume_adam(stopped.adam_state);
  const Result on = shared.run(content, {style}, {}, {}, stopped.image);
  EXPECT_TRUE(on.moments_restored);
  EXPECT_TRUE(torch::allclose(on.image, whole.image, 0, 1e-5)) << (on.image - whole.image).abs().max().item<float>();
  shared.set_schedule(2, 6);
  const Result again = shared.run(content, {style});
  EXPECT_TRUE(torch::equal(again.image, whole.image)) << (again.image - whole.image).abs().max().item<float>();
  EXPECT_THROW(shared.set_schedule(2, 6, 1, 6), OptionError) << "the last scale's last iteration ends the run";
  EXPECT_THROW(shared.set_schedule(2, 6, 2, 0), OptionError);
}

// On sm80+ GPUs float32 convolutions would run in TF32 unless disabled.
TEST(EngineDevice, Fp32OnCudaTurnsTf32Off) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device";
  StylizeOptions options = tiny_options();
  options.device = DeviceKind::Cuda;
  at::globalContext().setAllowTF32CuDNN(true);
  const Stylizer stylizer(options, tiny_weights());
  EXPECT_FALSE(at::globalContext().allowTF32CuDNN());
  EXPECT_FALSE(at::globalContext().allowTF32CuBLAS());
}

}  // namespace
}  // namespace stylize
