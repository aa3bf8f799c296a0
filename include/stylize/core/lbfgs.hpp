// L-BFGS with a strong-Wolfe line search over one image in the box [0, 1]:
// torch.optim.LBFGS (itself ported from minFunc through torch/optim's Lua
// lbfgs and lswolfe) reshaped for stylize:
//
// - One objective: the loss L on the box. Every point evaluated is in [0, 1]
//   and is exactly what the network sees. The box is handled by projection
//   with an active set, as L-BFGS-B and projected quasi-Newton methods do:
//   pixels at a bound whose gradient points out of the box are held there
//   (their gradient and direction components are zeroed), the direction is
//   the two-loop recursion on the free pixels (a descent direction, since H is
//   positive definite), and the line search runs along the projected path
//   x(t) = clamp(x + t d), with phi'(t) the derivative along that path and the
//   sufficient decrease measured on the projected step, g.(x(t) - x). So the
//   Wolfe tests and the curvature pairs (s = the step actually taken) all see
//   one function. On the tiny network (150 evaluations, 32 and 64 px) it ends
//   where torch's L-BFGS with the clamp inside the closure does (loss 2.3e8
//   against 2.9e8, 1.23e8 against 1.19e8). (Rejected: projecting inside the
//   closure, what stylize did,
//   which changes the point under the line search; an exact penalty
//   L(clamp(x)) + mu/2 |x - clamp(x)|^2, consistent too, but its kinks at the
//   bounds stall the line search: 5-6x higher loss after 150 evaluations on
//   the tiny network; a sigmoid reparametrization, which cannot start from
//   pixels at exactly 0 or 1 and flattens gradients near them.)
// - It stops after exactly `max_evaluations` evaluations (the line search
//   counts) unless it converges first; a line search cut short by the budget
//   ends at its best trial with sufficient decrease (Armijo), or stays put.
// - It keeps the last *accepted* iterate (the start, then each line search's
//   result) with its loss and a caller's report, for progress, saves and
//   failures: a trial point is never reported. A non-finite loss or gradient
//   stops it with the accepted iterate intact.
// - Tolerances are relative (to the first evaluation), and every
//   steepest-descent step is scaled like torch's first, so the path does not
//   depend on the loss's units.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace stylize {

struct LbfgsSettings {
  int max_evaluations = 1000;
  int history_size = 100;
  double lr = 1.0;  // initial step length of each line search (torch's default)
  // Stop when max|g| <= tolerance_grad * max|g0| ...
  double tolerance_grad = 1e-7;
  // ... or the loss or the step change less than this, relative to |f0| and max|x0|.
  double tolerance_change = 1e-9;
  int max_line_search = 25;  // evaluations per line search
  double c1 = 1e-4;          // sufficient decrease (Armijo)
  double c2 = 0.9;           // curvature (strong Wolfe)
};

// One evaluation of the objective at an image in [0, 1].
struct LbfgsEvaluation {
  double loss = 0;
  torch::Tensor gradient;  // dL/dimage, the image's shape
  torch::Tensor report;    // anything the caller wants back with the accepted iterate (e.g. loss terms)
};

enum class LbfgsStatus {
  Running,
  BudgetUsed,      // max_evaluations evaluations done
  Converged,       // gradient, loss or step below tolerance, or no descent left
  Interrupted,     // the callback asked to stop
  NumericFailure,  // an evaluation gave a non-finite loss or gradient
};

class Lbfgs {
 public:
  using Objective = std::function<LbfgsEvaluation(const torch::Tensor& image)>;
  // Called once per evaluation, after the optimizer has acted on it (so the
  // accepted iterate is current); return false to stop.
  using Callback = std::function<bool(const Lbfgs&)>;

  // `start`: the first iterate (clamped to [0, 1]), any shape, float32.
  Lbfgs(const LbfgsSettings& settings, const torch::Tensor& start);

  LbfgsStatus run(const Objective& objective, const Callback& callback = {});

  int evaluations() const { return evaluations_; }
  LbfgsStatus status() const { return status_; }
  // The last accepted iterate (in [0, 1], what the network saw there), its
  // loss and the report of that evaluation. Before the first evaluation: the start.
  torch::Tensor accepted_image() const;
  double accepted_loss() const { return accepted_loss_; }
  const torch::Tensor& accepted_report() const { return accepted_report_; }
  // Which evaluation (1-based) computed the accepted iterate.
  int accepted_evaluation() const { return accepted_evaluation_; }

  // Bytes of optimizer state for an image of `elements` float32 values: the
  // 2 x history curvature pairs and about 8 working vectors.
  static double state_bytes(int64_t elements, int history_size = 100);

 private:
  struct Point {  // an evaluated point clamp(x + t d) of the line from the accepted x
    double t = 0, f = 0;
    double gtd = 0;       // phi'(t): the gradient along the projected path
    double decrease = 0;  // g(x).(clamp(x + t d) - x), for sufficient decrease
    torch::Tensor g;      // dL/dx, flat
    torch::Tensor report;
    int evaluation = 0;
  };
  struct Stop {};  // unwinds run() from inside an evaluation

  Point evaluate(const Objective& objective, double t, const torch::Tensor& d, const torch::Tensor& g0);
  Point line_search(const Objective& objective, const Point& start, const torch::Tensor& d, double t);
  void optimize(const Objective& objective);
  void report(const Callback& callback);  // the pending evaluation's callback, if any
  void accept(const torch::Tensor& x, const Point& point);

  LbfgsSettings settings_;
  std::vector<int64_t> shape_;
  torch::Tensor x_;  // accepted iterate, flat, in [0, 1]
  double accepted_loss_ = 0;
  torch::Tensor accepted_report_;
  int accepted_evaluation_ = 0;
  int evaluations_ = 0;
  bool pending_report_ = false;
  LbfgsStatus status_ = LbfgsStatus::Running;
  const Callback* callback_ = nullptr;
};

}  // namespace stylize
