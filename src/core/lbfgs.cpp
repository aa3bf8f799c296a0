// A port of torch/optim/lbfgs.py (torch 1.13: _cubic_interpolate, _strong_wolfe
// and LBFGS.step with line_search_fn="strong_wolfe"), with the changes listed
// in lbfgs.hpp: the box by projection and an active set, an exact evaluation
// budget, accepted iterates only, relative tolerances. Comments marked
// "torch:" point at the matching code.
#include "stylize/core/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace stylize {
namespace {

double dot_value(const torch::Tensor& a, const torch::Tensor& b) { return torch::dot(a, b).item<double>(); }
double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// torch: _cubic_interpolate. Minimizer of the cubic through (x1, f1, g1) and
// (x2, f2, g2), clamped to [lo, hi]; the midpoint when the cubic has no
// minimizer or the points coincide.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    if (std::isfinite(min_pos)) return std::min(std::max(min_pos, lo), hi);
  }
  return (lo + hi) / 2;
}

double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2) {
  return cubic_interpolate(x1, f1, g1, x2, f2, g2, std::min(x1, x2), std::max(x1, x2));
}

// Pixels held at a bound: there, with the gradient pointing out of the box.
torch::Tensor active_set(const torch::Tensor& x, const torch::Tensor& g) {
  return (x <= 0).logical_and(g > 0).logical_or((x >= 1).logical_and(g < 0));
}

// `d` without the components that cannot move from x (active, or pointing out at a bound).
torch::Tensor feasible_direction(const torch::Tensor& d, const torch::Tensor& x, const torch::Tensor& g) {
  const torch::Tensor blocked =
      active_set(x, g).logical_or((x <= 0).logical_and(d < 0)).logical_or((x >= 1).logical_and(d > 0));
  return d.masked_fill(blocked, 0.0);
}

// The last `size` curvature pairs (s, y) and the two-loop recursion over
// them (torch: old_stps, old_dirs, ro, H_diag and the direction d).
class CurvatureHistory {
 public:
  explicit CurvatureHistory(int size) : size_(size), al_(size) {}
  bool empty() const { return dirs_.empty(); }
  void clear() {
    dirs_.clear();
    stps_.clear();
    ro_.clear();
    h_diag_ = 1;
  }
  // Keeps the pair of a step whose curvature is positive. torch skips pairs
  // with ys <= 1e-10; relative here (the cosine of y and s).
  void add(const torch::Tensor& s, const torch::Tensor& y) {
    const double ys = dot_value(y, s), yy = dot_value(y, y);
    if (ys <= 1e-10 * std::sqrt(yy * dot_value(s, s))) return;
    if (static_cast<int>(dirs_.size()) == size_) {
      dirs_.erase(dirs_.begin());
      stps_.erase(stps_.begin());
      ro_.erase(ro_.begin());
    }
    dirs_.push_back(y);
    stps_.push_back(s);
    ro_.push_back(1.0 / ys);
    h_diag_ = ys / yy;
  }
  // torch: the L-BFGS direction -H g.
  torch::Tensor direction(const torch::Tensor& gradient) {
    torch::Tensor q = -gradient;
    for (int i = static_cast<int>(dirs_.size()) - 1; i >= 0; --i) {
      al_[i] = dot_value(stps_[i], q) * ro_[i];
      q.add_(dirs_[i], -al_[i]);
    }
    torch::Tensor r = q.mul_(h_diag_);
    for (size_t i = 0; i < dirs_.size(); ++i) r.add_(stps_[i], al_[i] - dot_value(dirs_[i], r) * ro_[i]);
    return r;
  }

 private:
  int size_;
  std::vector<torch::Tensor> dirs_, stps_;  // y and s
  std::vector<double> ro_, al_;
  double h_diag_ = 1;
};

}  // namespace

Lbfgs::Lbfgs(const LbfgsSettings& settings, const torch::Tensor& start)
    : settings_(settings),
      shape_(start.sizes().vec()),
      x_(start.detach().to(torch::kFloat32).clamp(0.0, 1.0).reshape(-1).clone()) {}

torch::Tensor Lbfgs::accepted_image() const { return x_.view(shape_); }

double Lbfgs::state_bytes(int64_t elements, int history_size) {
  return (2.0 * history_size + 8.0) * static_cast<double>(elements) * 4.0;
}

void Lbfgs::report(const Callback& callback) {
  if (!pending_report_) return;
  pending_report_ = false;
  if (callback && !callback(*this)) {
    status_ = LbfgsStatus::Interrupted;
    throw Stop{};
  }
}

// The point clamp(x_ + t d) (x_ itself without d), its loss and gradient, the
// derivative along the projected path there and the decrease g0.(x(t) - x_)
// that the sufficient-decrease test uses.
Lbfgs::Point Lbfgs::evaluate(const Objective& objective, double t, const torch::Tensor& d, const torch::Tensor& g0) {
  report(*callback_);  // the previous evaluation's, now that the optimizer has acted on it
  const torch::Tensor unclamped = d.defined() ? x_ + t * d : x_;
  const torch::Tensor x = unclamped.clamp(0.0, 1.0);
  LbfgsEvaluation e = objective(x.view(shape_));
  ++evaluations_;
  if (!std::isfinite(e.loss) || !e.gradient.defined() || !torch::isfinite(e.gradient).all().item<bool>()) {
    status_ = LbfgsStatus::NumericFailure;
    throw Stop{};
  }
  pending_report_ = true;
  Point p;
  p.t = t;
  p.f = e.loss;
  p.report = e.report;
  p.evaluation = evaluations_;
  p.g = e.gradient.detach().reshape(-1).to(torch::kFloat32).contiguous();
  if (d.defined()) {
    // Pixels clamped at this t have stopped moving along the path.
    const torch::Tensor moving = (unclamped > 0).logical_and(unclamped < 1);
    p.gtd = dot_value(p.g, d.masked_fill(moving.logical_not(), 0.0));
    p.decrease = dot_value(g0, x - x_);
  }
  return p;
}

void Lbfgs::accept(const torch::Tensor& x, const Point& point) {
  x_ = x;
  accepted_loss_ = point.f;
  accepted_report_ = point.report;
  accepted_evaluation_ = point.evaluation;
}

// torch: _strong_wolfe, along the projected path, with an evaluation budget.
// `start` is the accepted iterate (t = 0, f, g, gtd = g.d); `t` the first trial.
Lbfgs::Point Lbfgs::line_search(const Objective& objective, const Point& start, const torch::Tensor& d, double t) {
  const double f = start.f, gtd = start.gtd, c1 = settings_.c1, c2 = settings_.c2;
  const double d_norm = max_abs(d);
  const auto budget_left = [&] { return evaluations_ < settings_.max_evaluations; };
  // torch: f_new > f + c1 t gtd, here with the projected step's decrease.
  const auto armijo_fails = [&](const Point& p) { return p.f > f + c1 * p.decrease; };
  Point best = start;  // the lowest trial with sufficient decrease: where a search cut short ends
  const auto evaluate_at = [&](double step) {
    Point p = evaluate(objective, step, d, start.g);
    if (!armijo_fails(p) && p.f < best.f) best = p;
    return p;
  };

  if (!budget_left()) return best;
  Point trial = evaluate_at(t);
  // Bracketing phase: grow t until an interval holds a point satisfying the
  // strong Wolfe conditions.
  Point prev = start;
  std::vector<Point> bracket;
  int ls_iter = 0;
  while (ls_iter < settings_.max_line_search) {
    if (armijo_fails(trial) || (ls_iter > 1 && trial.f >= prev.f)) {
      bracket = {prev, trial};
      break;
    }
    if (std::abs(trial.gtd) <= -c2 * gtd) return trial;  // strong Wolfe: done
    if (trial.gtd >= 0) {
      bracket = {prev, trial};
      break;
    }
    const double min_step = t + 0.01 * (t - prev.t), max_step = t * 10;
    const double next = cubic_interpolate(prev.t, prev.f, prev.gtd, t, trial.f, trial.gtd, min_step, max_step);
    prev = trial;
    if (!budget_left()) return best;
    t = next;
    trial = evaluate_at(t);
    ++ls_iter;
  }
  if (bracket.empty()) return best;  // torch: ls_iter == max_ls

  // Zoom phase: shrink the bracket until a point satisfies strong Wolfe.
  bool insufficient_progress = false;
  int low = bracket[0].f <= bracket[1].f ? 0 : 1, high = 1 - low;
  while (ls_iter < settings_.max_line_search) {
    if (std::abs(bracket[1].t - bracket[0].t) * d_norm < settings_.tolerance_change) break;
    t = cubic_interpolate(bracket[0].t, bracket[0].f, bracket[0].gtd, bracket[1].t, bracket[1].f, bracket[1].gtd);
    // torch: near a bracket end, or twice in a row, move 10% of the bracket inside.
    const double hi = std::max(bracket[0].t, bracket[1].t), lo = std::min(bracket[0].t, bracket[1].t);
    const double eps = 0.1 * (hi - lo);
    if (std::min(hi - t, t - lo) < eps) {
      if (insufficient_progress || t >= hi || t <= lo) {
        t = std::abs(t - hi) < std::abs(t - lo) ? hi - eps : lo + eps;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    if (!budget_left()) break;
    trial = evaluate_at(t);
    ++ls_iter;
    if (armijo_fails(trial) || trial.f >= bracket[low].f) {
      bracket[high] = trial;
      low = bracket[0].f <= bracket[1].f ? 0 : 1;
      high = 1 - low;
    } else {
      if (std::abs(trial.gtd) <= -c2 * gtd) return trial;  // strong Wolfe: done
      if (trial.gtd * (bracket[high].t - bracket[low].t) >= 0) bracket[high] = bracket[low];
      bracket[low] = trial;
    }
  }
  return best;  // torch returns the bracket's low end: the same point, unless that failed Armijo
}

LbfgsStatus Lbfgs::run(const Objective& objective, const Callback& callback) {
  callback_ = &callback;
  try {
    optimize(objective);
  } catch (const Stop&) {
  }
  if (status_ != LbfgsStatus::NumericFailure && status_ != LbfgsStatus::Interrupted && pending_report_) {
    pending_report_ = false;
    if (callback && !callback(*this) && status_ == LbfgsStatus::Running) status_ = LbfgsStatus::Interrupted;
  }
  callback_ = nullptr;
  return status_;
}

// torch: LBFGS.step, one call running until the budget is used or it converges.
void Lbfgs::optimize(const Objective& objective) {
  if (settings_.max_evaluations <= 0) {
    status_ = LbfgsStatus::BudgetUsed;
    return;
  }
  Point current = evaluate(objective, 0.0, {}, {});
  accept(x_, current);
  // The gradient of the free pixels decides convergence (torch: the whole gradient).
  const auto free_gradient = [&](const Point& p) { return p.g.masked_fill(active_set(x_, p.g), 0.0); };
  torch::Tensor g_free = free_gradient(current);
  const double g0 = max_abs(g_free), f0 = std::max(std::abs(current.f), 1e-30);
  const double tolerance_grad = settings_.tolerance_grad * g0, tolerance_f = settings_.tolerance_change * f0;
  if (g0 == 0) {
    status_ = LbfgsStatus::Converged;
    return;
  }

  CurvatureHistory history(settings_.history_size);
  while (true) {
    // Direction on the free pixels; steepest descent when there is no history
    // or the history does not give a descent direction. torch: the first step
    // is min(1, 1/|g|_1) * lr, later ones start at lr; here every
    // steepest-descent step starts at an L1 length of lr, without the cap at 1.
    // The descent test compares the first trial's predicted decrease, t0 g.d
    // (torch: g.d), with the tolerance: both in loss units.
    const auto first_step = [&](const torch::Tensor& d) {
      return history.empty() ? settings_.lr / d.abs().sum().item<double>() : settings_.lr;
    };
    torch::Tensor d = feasible_direction(history.direction(g_free), x_, current.g);
    double gtd = dot_value(current.g, d), t0 = first_step(d);
    if (gtd * t0 > -tolerance_f && !history.empty()) {
      history.clear();
      d = feasible_direction(-g_free, x_, current.g);
      gtd = dot_value(current.g, d);
      t0 = first_step(d);
    }
    if (gtd * t0 > -tolerance_f) {
      status_ = LbfgsStatus::Converged;
      return;
    }
    if (evaluations_ >= settings_.max_evaluations) {
      status_ = LbfgsStatus::BudgetUsed;
      return;
    }
    current.t = 0;
    current.gtd = gtd;
    const Point next = line_search(objective, current, d, t0);
    if (next.t == 0) {  // no step with sufficient decrease
      status_ = evaluations_ >= settings_.max_evaluations ? LbfgsStatus::BudgetUsed : LbfgsStatus::Converged;
      return;
    }
    const torch::Tensor x = (x_ + next.t * d).clamp(0.0, 1.0);
    const torch::Tensor s = x - x_;  // the step actually taken
    history.add(s, next.g - current.g);
    const double prev_f = current.f;
    accept(x, next);
    current = next;
    g_free = free_gradient(current);
    if (evaluations_ >= settings_.max_evaluations) {
      status_ = LbfgsStatus::BudgetUsed;
      return;
    }
    if (max_abs(g_free) <= tolerance_grad || max_abs(s) <= settings_.tolerance_change ||
        std::abs(current.f - prev_f) < tolerance_f) {
      status_ = LbfgsStatus::Converged;
      return;
    }
  }
}

}  // namespace stylize
