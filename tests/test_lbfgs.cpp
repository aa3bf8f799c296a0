#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "stylize/core/lbfgs.hpp"

namespace stylize {
namespace {

// Analytic problems on x in [0, 1]^n, evaluated in float64. Every call is
// recorded so the tests can check what the optimizer asked for.
struct Problem {
  std::function<double(const torch::Tensor& x, torch::Tensor& grad)> f;  // x float64, flat
  std::vector<torch::Tensor> seen;                                       // every image evaluated
  double scale = 1.0;
  int nan_at = 0;  // 1-based evaluation that returns NaN, 0: never

  Lbfgs::Objective objective() {
    return [this](const torch::Tensor& image) {
      seen.push_back(image.clone());
      const torch::Tensor x = image.reshape(-1).to(torch::kFloat64);
      torch::Tensor grad;
      double loss = scale * f(x, grad);
      if (nan_at == static_cast<int>(seen.size())) loss = std::numeric_limits<double>::quiet_NaN();
      return LbfgsEvaluation{loss, (scale * grad).to(torch::kFloat32).view(image.sizes()),
                             torch::full({1}, static_cast<double>(seen.size()))};
    };
  }
};

// 0.5 sum a_i (x_i - c_i)^2 with most of c outside [0, 1]: the box's minimizer is clamp(c).
Problem quadratic() {
  Problem p;
  const torch::Tensor a = torch::linspace(1, 10, 8, torch::kFloat64);
  const torch::Tensor c = torch::tensor({-1.0, 2.0, 0.3, 1.5, -0.2, 0.9, 1.2, 0.5}, torch::kFloat64);
  p.f = [a, c](const torch::Tensor& x, torch::Tensor& grad) {
    grad = a * (x - c);
    return 0.5 * (a * (x - c).square()).sum().item<double>();
  };
  return p;
}

// Rosenbrock's function of y = 4x - 2 (x in [0, 1] spans y in [-2, 2]): its
// minimum y = 1 lies at x = 0.75, inside the box, at the end of a curved valley.
Problem rosenbrock() {
  Problem p;
  p.f = [](const torch::Tensor& x, torch::Tensor& grad) {
    const torch::Tensor y = 4 * x - 2;
    const int64_t n = y.size(0);
    const torch::Tensor a = y.narrow(0, 0, n - 1), b = y.narrow(0, 1, n - 1);
    const torch::Tensor r = b - a.square();
    torch::Tensor dy = torch::zeros_like(y);
    dy.narrow(0, 0, n - 1).add_(-400 * r * a - 2 * (1 - a));
    dy.narrow(0, 1, n - 1).add_(200 * r);
    grad = 4 * dy;
    return (100 * r.square() + (1 - a).square()).sum().item<double>();
  };
  return p;
}

const torch::Tensor kRosenbrockStart = torch::tensor({0.2f, 0.75f, 0.2f, 0.75f});  // y = (-1.2, 1, -1.2, 1)

LbfgsSettings budget(int n) {
  LbfgsSettings settings;
  settings.max_evaluations = n;
  return settings;
}

TEST(Lbfgs, ConvergesToTheBoxMinimizerOfAQuadraticWhoseMinimumIsOutside) {
  Problem p = quadratic();
  Lbfgs lbfgs(budget(300), torch::full({2, 4}, 0.5f));
  const LbfgsStatus status = lbfgs.run(p.objective());
  EXPECT_EQ(status, LbfgsStatus::Converged);
  EXPECT_LT(lbfgs.evaluations(), 300);
  const torch::Tensor expected = torch::tensor({0.0f, 1.0f, 0.3f, 1.0f, 0.0f, 0.9f, 1.0f, 0.5f}).view({2, 4});
  EXPECT_TRUE(torch::allclose(lbfgs.accepted_image(), expected, 0, 1e-4)) << lbfgs.accepted_image();
}

TEST(Lbfgs, ConvergesOnRosenbrock) {
  Problem p = rosenbrock();
  Lbfgs lbfgs(budget(500), kRosenbrockStart);
  lbfgs.run(p.objective());
  EXPECT_TRUE(torch::allclose(lbfgs.accepted_image(), torch::full({4}, 0.75f), 0, 1e-3)) << lbfgs.accepted_image();
  EXPECT_LT(lbfgs.accepted_loss(), 1e-6);
}

TEST(Lbfgs, StopsAfterExactlyTheGivenNumberOfEvaluations) {
  // Rosenbrock does not converge in 40 evaluations, so every budget is used to
  // the last evaluation, whether it runs out inside a line search or not.
  for (int n : {1, 2, 3, 5, 8, 13, 21, 34, 40}) {
    Problem p = rosenbrock();
    Lbfgs lbfgs(budget(n), kRosenbrockStart);
    EXPECT_EQ(lbfgs.run(p.objective()), LbfgsStatus::BudgetUsed) << n;
    EXPECT_EQ(lbfgs.evaluations(), n);
    EXPECT_EQ(static_cast<int>(p.seen.size()), n);
  }
}

TEST(Lbfgs, EveryEvaluatedImageLiesInTheBox) {
  Problem p = quadratic();
  Lbfgs lbfgs(budget(60), torch::full({8}, 0.5f));
  lbfgs.run(p.objective());
  ASSERT_GT(p.seen.size(), 5u);
  for (const auto& image : p.seen) {
    EXPECT_GE(image.min().item<float>(), 0.0f);
    EXPECT_LE(image.max().item<float>(), 1.0f);
  }
  // The pull towards c pushes trial points against the walls: some evaluations
  // had pixels exactly on the bounds, so the test above could fail.
  bool touched = false;
  for (const auto& image : p.seen) touched |= (image == 0).any().item<bool>() || (image == 1).any().item<bool>();
  EXPECT_TRUE(touched);
}

TEST(Lbfgs, ReportsOnlyAcceptedIterates) {
  Problem p = rosenbrock();
  Lbfgs lbfgs(budget(40), kRosenbrockStart);
  std::vector<int> reported;  // accepted_evaluation at each callback
  int calls = 0;
  lbfgs.run(p.objective(), [&](const Lbfgs& l) {
    ++calls;
    EXPECT_EQ(calls, l.evaluations());  // one call per evaluation
    const int k = l.accepted_evaluation();
    EXPECT_GE(k, 1);
    EXPECT_LE(k, l.evaluations());
    // The reported image is exactly the one evaluation k saw, with its loss and report.
    EXPECT_TRUE(torch::equal(l.accepted_image(), p.seen.at(k - 1)));
    EXPECT_EQ(l.accepted_report().item<double>(), k);
    reported.push_back(k);
    return true;
  });
  EXPECT_EQ(calls, 40);
  // The accepted iterate only moves forward.
  for (size_t i = 1; i < reported.size(); ++i) EXPECT_GE(reported[i], reported[i - 1]);
  // Some trials were rejected by the line search and never reported.
  int rejected = 0;
  for (int k = 1; k <= 40; ++k) rejected += std::find(reported.begin(), reported.end(), k) == reported.end();
  EXPECT_GT(rejected, 0);
}

TEST(Lbfgs, NanOnAnEvaluationKeepsTheLastAcceptedIterate) {
  for (int k : {1, 2, 5, 9}) {
    SCOPED_TRACE(k);
    Problem p = rosenbrock();
    p.nan_at = k;
    Lbfgs lbfgs(budget(50), kRosenbrockStart);
    EXPECT_EQ(lbfgs.run(p.objective()), LbfgsStatus::NumericFailure);
    EXPECT_EQ(lbfgs.evaluations(), k);
    if (k == 1) {
      EXPECT_EQ(lbfgs.accepted_evaluation(), 0);  // nothing was accepted
      continue;
    }
    const int accepted = lbfgs.accepted_evaluation();
    EXPECT_GE(accepted, 1);
    EXPECT_LT(accepted, k);
    EXPECT_TRUE(torch::equal(lbfgs.accepted_image(), p.seen.at(accepted - 1)));
    EXPECT_FALSE(torch::equal(lbfgs.accepted_image(), p.seen.back()));  // not the failing trial
  }
}

TEST(Lbfgs, TheCallbackCanStopIt) {
  Problem p = rosenbrock();
  Lbfgs lbfgs(budget(50), kRosenbrockStart);
  EXPECT_EQ(lbfgs.run(p.objective(), [](const Lbfgs& l) { return l.evaluations() < 7; }), LbfgsStatus::Interrupted);
  EXPECT_EQ(lbfgs.evaluations(), 7);
  EXPECT_EQ(p.seen.size(), 7u);
}

TEST(Lbfgs, IsInvariantToTheLossScale) {
  // The same problem in other units takes the same path: the tolerances
  // follow the first evaluation and steepest-descent steps are scale-free.
  // Powers of two scale every float exactly, so the paths must be identical;
  // an absolute constant anywhere (torch's min(1, 1/|g|_1) first step, its
  // 1e-10 curvature threshold, absolute tolerances) would make them differ.
  std::vector<torch::Tensor> images[3];
  const double scales[3] = {1.0, std::ldexp(1.0, 18), std::ldexp(1.0, -18)};
  for (int i = 0; i < 3; ++i) {
    Problem p = quadratic();
    p.scale = scales[i];
    Lbfgs lbfgs(budget(40), torch::full({8}, 0.5f));
    lbfgs.run(p.objective());
    images[i] = p.seen;
  }
  for (int i = 1; i < 3; ++i) {
    ASSERT_EQ(images[0].size(), images[i].size());
    for (size_t k = 0; k < images[0].size(); ++k) {
      EXPECT_TRUE(torch::equal(images[0][k], images[i][k])) << "scale " << scales[i] << ", evaluation " << k + 1;
    }
  }
}

// The first three points L-BFGS evaluates on 0.5 |x - target|^2 from 100
// pixels at 0.5. The first trial is an L1 step of lr = 1: 0.01 per pixel, to 0.49.
std::vector<torch::Tensor> first_trials_toward(double target) {
  Problem p;
  p.f = [target](const torch::Tensor& x, torch::Tensor& grad) {
    grad = x - target;
    return 0.5 * (x - target).square().sum().item<double>();
  };
  Lbfgs lbfgs(budget(3), torch::full({100}, 0.5f));
  lbfgs.run(p.objective());
  return p.seen;
}

// Along a line a quadratic is a parabola, which the line search's cubic
// (torch's _cubic_interpolate) fits exactly: after a first trial that
// overshoots (0.49, past 0.497), the zoom's first trial is the minimizer.
TEST(Lbfgs, TheLineSearchInterpolatesAParabolaExactly) {
  const std::vector<torch::Tensor> seen = first_trials_toward(0.497);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NEAR(seen[1].max().item<double>(), 0.49, 1e-6) << "the first trial";
  EXPECT_NEAR(seen[2].min().item<double>(), 0.497, 1e-6);
  EXPECT_NEAR(seen[2].max().item<double>(), 0.497, 1e-6);
}

// The strong Wolfe condition bounds the slope at an accepted trial from both
// sides: a first trial that lowers it by less than c2's 10% (pulled to 0.3,
// the trial 0.49 keeps 95% of the slope) is not accepted, and the search
// extrapolates to 10 times the step (torch's bound: 0.4 here).
TEST(Lbfgs, ATrialThatKeepsMostOfTheSlopeIsExtrapolated) {
  const std::vector<torch::Tensor> seen = first_trials_toward(0.3);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NEAR(seen[1].max().item<double>(), 0.49, 1e-6) << "the first trial";
  EXPECT_NEAR(seen[2].min().item<double>(), 0.4, 1e-6);
  EXPECT_NEAR(seen[2].max().item<double>(), 0.4, 1e-6);
}

// With a full history the oldest curvature pair gives way to the newest: each
// line search's first trial is x + d, d the two-loop recursion (Nocedal and
// Wright, Algorithm 7.4; H0 = s.y / y.y of the newest pair) over the newest
// `history_size` pairs, computed here from the points evaluated. The problem
// is a quadratic inside the box, so no pixel is ever held at a bound. The
// trials agree within 3e-8 (float32); keeping the oldest pair and dropping the
// newest instead puts them 2e-5 to 3e-3 away.
TEST(Lbfgs, AFullHistoryDropsItsOldestPair) {
  const torch::Tensor a = torch::tensor({1.0, 2.0, 4.0, 8.0, 16.0, 32.0}, torch::kFloat64);
  const auto gradient = [a](const torch::Tensor& x) { return a * (x.to(torch::kFloat64) - 0.5); };
  Problem p;
  p.f = [&](const torch::Tensor& x, torch::Tensor& grad) {
    grad = gradient(x);
    return 0.5 * (a * (x - 0.5).square()).sum().item<double>();
  };
  LbfgsSettings settings = budget(20);
  settings.history_size = 2;
  std::vector<int> accepted;  // per evaluation: the accepted iterate's evaluation after it
  Lbfgs lbfgs(settings, torch::tensor({0.55f, 0.45f, 0.55f, 0.45f, 0.55f, 0.45f}));
  ASSERT_EQ(lbfgs.run(p.objective(),
                      [&](const Lbfgs& l) {
                        accepted.push_back(l.accepted_evaluation());
                        return true;
                      }),
            LbfgsStatus::BudgetUsed)
      << "converged: a restart would have cleared the history";
  for (const auto& x : p.seen) ASSERT_TRUE(x.gt(0).all().item<bool>() && x.lt(1).all().item<bool>());

  const auto dot = [](const torch::Tensor& u, const torch::Tensor& v) { return (u * v).sum().item<double>(); };
  std::vector<torch::Tensor> s, y;  // the history, oldest first
  const auto direction = [&](const torch::Tensor& g) {
    torch::Tensor q = -g;
    std::vector<double> alpha(s.size());
    for (size_t i = s.size(); i-- > 0;) {
      alpha[i] = dot(s[i], q) / dot(y[i], s[i]);
      q = q - alpha[i] * y[i];
    }
    torch::Tensor r = q * (dot(s.back(), y.back()) / dot(y.back(), y.back()));
    for (size_t i = 0; i < s.size(); ++i) r = r + s[i] * (alpha[i] - dot(y[i], r) / dot(y[i], s[i]));
    return r;
  };
  size_t current = 0;  // the accepted iterate's index in p.seen
  int pairs = 0, checked_after_a_drop = 0;
  for (size_t e = 1; e + 1 < p.seen.size(); ++e) {
    if (accepted[e] == accepted[e - 1]) continue;  // evaluation e + 1 did not end a line search
    const size_t next = static_cast<size_t>(accepted[e] - 1);
    const torch::Tensor x = p.seen[current].to(torch::kFloat64), x_next = p.seen[next].to(torch::kFloat64);
    s.push_back(x_next - x);
    y.push_back(gradient(p.seen[next]).to(torch::kFloat32).to(torch::kFloat64) -
                gradient(p.seen[current]).to(torch::kFloat32).to(torch::kFloat64));
    if (s.size() > 2) {
      s.erase(s.begin());
      y.erase(y.begin());
    }
    ++pairs;
    current = next;
    // The next line search's first trial, at lr = 1 along d.
    const torch::Tensor g = gradient(p.seen[current]).to(torch::kFloat32).to(torch::kFloat64);
    const torch::Tensor expected = x_next + direction(g);
    EXPECT_LT((p.seen[e + 1].to(torch::kFloat64) - expected).abs().max().item<double>(), 1e-6)
        << "the first trial after " << pairs << " pairs";
    if (pairs > 2) ++checked_after_a_drop;
  }
  EXPECT_GE(checked_after_a_drop, 3);
}

TEST(Lbfgs, StateSizeCountsTheHistory) {
  // 1024x768 RGB, history 100: 2 x 100 curvature vectors and 8 working ones, float32.
  EXPECT_DOUBLE_EQ(Lbfgs::state_bytes(3 * 1024 * 768, 100), 208.0 * 3 * 1024 * 768 * 4);
  EXPECT_NEAR(Lbfgs::state_bytes(3 * 1024 * 768, 100) / (1 << 30), 1.83, 0.01);
}

}  // namespace
}  // namespace stylize
