// Adaptive damping (algorithm.md §19): the Levenberg-Marquardt rule of Martens & Grosse (2015, §6.5) for the λ
// of K-BFGS, K-BFGS(L) and KFAC. Every T-th step is judged on the minibatch that follows it: the change of that
// minibatch's objective over the step against the change the method's quadratic model, with that minibatch's
// gradient, predicts; λ moves by ω = (19/20)^T. Without a given start, λ starts from the scale of the first
// step's gradient (§19.7). The arithmetic lives here; second_order.h gathers its inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../core/optimizer.h"

namespace kb {

struct AdaptiveDampingSettings {
  int every = 0;          // T: λ is judged at the steps k with k mod T = 0; 0 keeps λ fixed
  double min = 1e-6, max = 1e6;  // λ is clamped to [min, max]
  bool scaled_start = false;      // λ at the first step from its gradient's scale (§19.7), else as set
  int64_t first_judged = 0;       // no step before this one is judged (after a scaled start: §19.7)
};

// After a scaled start the first judged step is the first past the momentum's warm-up, ρ/(1 − ρ) steps (§19.7).
inline int64_t warmup_steps(double momentum) { return (int64_t)std::ceil(momentum / (1 - momentum) - 1e-6); }

// The scaled start (§19.7): λ₀ = α ‖ĝ₀‖ / ‖θ₀‖ with ĝ₀ = ∇L_B(θ₀) + τθ₀ of the first minibatch, from ‖∇L‖²,
// ⟨∇L, θ⟩ and ‖θ‖²: the λ at which the step of the damping alone, α ĝ₀ / λ, is as long as the weights. Clamped
// to [min, max]; `fallback` where it is not a positive finite number (weights or gradient all zero).
inline double scaled_start(double alpha, double grad_grad, double grad_theta, double theta_theta, double tau,
                           double fallback, const AdaptiveDampingSettings& s) {
  const double ghat2 = grad_grad + 2 * tau * grad_theta + tau * tau * theta_theta;
  const double start = alpha * std::sqrt(ghat2 / theta_theta);
  return std::isfinite(start) && start > 0 ? std::clamp(start, s.min, s.max) : fallback;
}

// Inner products over all parameters with the judged step's direction Δ: ĝ = ∇L_B' + τθ splits into the data
// gradient of the next minibatch B' at θ_k (taken at the next step) and θ_k, M is the gradient momentum of the
// judged step (algorithm.md §2 step 4, §19.1).
struct StepProducts {
  double grad_dir = 0;      // ⟨∇L_B'(θ_k), Δ⟩
  double theta_dir = 0;     // ⟨θ_k, Δ⟩
  double momentum_dir = 0;  // ⟨M, Δ⟩
  double dir_dir = 0;       // ⟨Δ, Δ⟩
};

// M(δ) − M(0) for the step δ = −αΔ in the model M(δ) = ½ δᵀ P⁻¹ δ + ĝᵀδ implied by the preconditioner P with
// Δ = P M (§19.2): δᵀP⁻¹δ = α² ⟨M, Δ⟩, so the change is ½ α² ⟨M, Δ⟩ − α ⟨ĝ, Δ⟩.
inline double model_change(const StepProducts& p, double alpha, double tau) {
  return 0.5 * alpha * alpha * p.momentum_dir - alpha * (p.grad_dir + tau * p.theta_dir);
}

// h(θ − αΔ) − h(θ) for h = L_B + (τ/2)‖θ‖²: the data losses' change plus (τ/2)(‖θ − αΔ‖² − ‖θ‖²).
inline double objective_change(double loss_before, double loss_after, const StepProducts& p, double alpha, double tau) {
  return (loss_after - loss_before) + tau * (0.5 * alpha * alpha * p.dir_dir - alpha * p.theta_dir);
}

// The rule (§19.1): ρ > 3/4 → ωλ, ρ < 1/4 → λ/ω, with ω = (19/20)^T; a ρ that is not a number (the loss after
// the step is not finite) counts as a failed step. The result is clamped to [min, max].
inline double next_damping(double lambda, double rho, const AdaptiveDampingSettings& s) {
  const double omega = std::pow(19.0 / 20.0, s.every);
  if (rho > 0.75) lambda *= omega;
  else if (!(rho >= 0.25)) lambda /= omega;
  return std::clamp(lambda, s.min, s.max);
}

// The rule's state between judged steps: only the per-epoch diagnostics; λ itself is the optimizer's damping
// setting (a checkpoint scalar), and which steps are judged follows from the step count.
class AdaptiveDamping {
 public:
  explicit AdaptiveDamping(const AdaptiveDampingSettings& s) : s_(s) {}
  bool enabled() const { return s_.every > 0; }
  bool judges(int64_t k) const { return s_.every > 0 && k % s_.every == 0 && k >= s_.first_judged; }
  bool scales_start() const { return s_.every > 0 && s_.scaled_start; }

  // The new λ after a judged step. Where the model predicts no decrease (α past twice the model's own step
  // length along Δ on the next minibatch), ρ has no meaning; the step is then judged by the share of its
  // first-order decrease α⟨ĝ, Δ⟩ that it achieved, with the same thresholds, and a step that goes uphill to
  // first order failed (§19.1).
  double judge(double lambda, double loss_before, double loss_after, const StepProducts& p, double alpha, double tau) {
    const double predicted = model_change(p, alpha, tau);
    const double actual = objective_change(loss_before, loss_after, p, alpha, tau);
    ++judged_;
    model_sum_ += predicted;
    if (p.momentum_dir > 0) step_length_sum_ += (p.grad_dir + tau * p.theta_dir) / p.momentum_dir, ++step_lengths_;
    if (!(predicted < 0)) {
      ++without_ratio_;
      const double first_order = alpha * (p.grad_dir + tau * p.theta_dir);
      const double next = next_damping(lambda, first_order > 0 ? -actual / first_order : 0.0, s_);
      raised_ += next > lambda;
      lowered_ += next < lambda;
      return next;
    }
    const double rho = actual / predicted;
    if (std::isfinite(rho)) rho_sum_ += rho, ++rhos_;
    const double next = next_damping(lambda, rho, s_);
    raised_ += next > lambda;
    lowered_ += next < lambda;
    return next;
  }

  // Per epoch: how often λ was judged, rose and fell, how many judged steps had no ρ, the mean ρ, the summed model changes, and the mean of the step
  // length α* = ⟨ĝ, Δ⟩ / ⟨M, Δ⟩ that minimises the model along Δ (§19.4).
  void take_diagnostics(Diagnostics& out) {
    if (!enabled()) return;
    out.push_back({"dampingJudged", judged_});
    out.push_back({"dampingRaised", raised_});
    out.push_back({"dampingLowered", lowered_});
    out.push_back({"dampingWithoutRatio", without_ratio_});
    out.push_back({"reductionRatio", rhos_ ? rho_sum_ / rhos_ : NAN});
    out.push_back({"modelChange", model_sum_});
    out.push_back({"modelStepLength", step_lengths_ ? step_length_sum_ / step_lengths_ : NAN});
    judged_ = raised_ = lowered_ = without_ratio_ = rho_sum_ = rhos_ = model_sum_ = step_length_sum_ = step_lengths_ = 0;
  }

 private:
  AdaptiveDampingSettings s_;
  double judged_ = 0, raised_ = 0, lowered_ = 0, without_ratio_ = 0, rho_sum_ = 0, rhos_ = 0, model_sum_ = 0;
  double step_length_sum_ = 0, step_lengths_ = 0;
};

}  // namespace kb
