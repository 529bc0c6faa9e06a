// The scalar rules of a curvature pair update: double damping (algorithm.md §3.4) and the guarded BFGS inverse
// update (algorithm.md §3.5), from the dot products they need. Both backends run these same functions (the CUDA
// backend on the device, so no decision needs a host round trip); the vector work is each backend's own.
#pragma once

#include "host_device.h"

namespace kb {

// One damping step: when apply, the damped vector becomes (1 − θ) other + θ itself.
struct DampingStep {
  bool degenerate = false;  // the formula is singular (a zero or non-finite denominator): drop the pair
  bool apply = false;
  double theta = 0;
};

// Powell damping on H (step 1 of algorithm.md §3.4): afterwards sᵀy = μ₁ yᵀHy; s ← (1 − θ₁) Hy + θ₁ s.
KB_HOST_DEVICE inline DampingStep powell_step(double yhy, double sy, double mu1) {
  DampingStep step;
  if (!(yhy > 0) || !is_finite(yhy)) step.degenerate = true;
  else if (sy / yhy <= mu1) step = {false, true, (1 - mu1) * yhy / (yhy - sy)};
  return step;
}

// Powell with B = I (step 2, "Levenberg-Marquardt"): afterwards sᵀy = μ₂ sᵀs; y ← (1 − θ₂) s + θ₂ y.
// μ₂ may exceed 1; then θ₂ leaves [0, 1].
KB_HOST_DEVICE inline DampingStep lm_step(double ss, double sy, double mu2) {
  DampingStep step;
  if (!(ss > 0) || !is_finite(ss)) step.degenerate = true;
  else if (sy / ss <= mu2) {
    if (ss == sy) step.degenerate = true;
    else step = {false, true, (1 - mu2) * ss / (ss - sy)};
  }
  return step;
}

// H ← H + c_ss s sᵀ − ρ (s (Hy)ᵀ + (Hy) sᵀ) with ρ = 1/sᵀy and c_ss = ρ² yᵀHy + ρ. Not applied when sᵀy ≤ 0,
// sᵀy ≤ threshold · sᵀs · ‖ref‖, or a term is not finite (the reference checks the result for inf; checking
// the terms rejects the same updates before anything is written).
struct BfgsCoefficients {
  bool apply = false;
  double c_ss = 0;
  double rho = 0;
};

KB_HOST_DEVICE inline BfgsCoefficients bfgs_coefficients(double sy, double ss, double yhy, double ref_norm,
                                                         double threshold) {
  BfgsCoefficients c;
  if (!(sy > 0) || !is_finite(sy) || !is_finite(ss) || sy <= threshold * ss * ref_norm) return c;
  const double rho = 1.0 / sy;
  const double c_ss = rho * rho * yhy + rho;
  if (is_finite(yhy) && is_finite(c_ss) && is_finite(rho)) c = {true, c_ss, rho};
  return c;
}

// K-BFGS(L)'s memory keeps a pair when sᵀs is finite and yᵀs > threshold · sᵀs · ‖ref‖ (algorithm.md §4).
KB_HOST_DEVICE inline bool lbfgs_keeps_pair(double ss, double ys, double ref_norm, double threshold) {
  return is_finite(ss) && ys > threshold * ss * ref_norm;
}

}  // namespace kb
