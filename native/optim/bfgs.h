// The BFGS inverse update with the reference safeguards (spec §3.5) and the double damping of the G-side
// pair (spec §3.4). Shared by K-BFGS (dense H_g and H_a) and K-BFGS(L) (H_a, and the damping of its pairs).
#pragma once

#include <functional>

#include "../core/backend.h"

namespace kb {

constexpr double kPowellMu1 = 0.2;         // μ₁, hard-coded in the reference (spec §3.4)
constexpr double kBfgsSkipThreshold = 1e-4;  // spec §3.5

// out = H v for a d-vector v; H is a dense matrix or an L-BFGS operator.
using ApplyInverse = std::function<void(const float* v, float* out)>;

struct DampingResult {
  bool powell = false;      // step 1 replaced s by θ₁ s + (1 − θ₁) H y
  bool lm = false;          // step 2 replaced y by θ₂ y + (1 − θ₂) s
  bool degenerate = false;  // yᵀHy = 0 or sᵀs = sᵀy: the formulas are singular; the pair must be dropped
};

// Double damping in place on (s, y), both d-vectors (spec §3.4): Powell on H with μ₁ = 0.2, then Powell
// with B = I ("Levenberg-Marquardt") with μ₂. On return hy = H y for the final y.
DampingResult double_damping(Backend& be, int d, float* s, float* y, float* hy, const ApplyInverse& apply_h,
                             double mu2);

// H ← H + (ρ² yᵀHy + ρ) s sᵀ − ρ (s (Hy)ᵀ + (Hy) sᵀ), ρ = 1/sᵀy (spec §3.5), with hy = H y given.
// Skipped (returns false) when sᵀy ≤ 0, sᵀy ≤ 1e-4 · sᵀs · ref_norm, or a coefficient or vector is not
// finite (the reference checks the result for inf; checking the terms rejects the same updates before
// they are written).
bool bfgs_inverse_update(Backend& be, float* h, int n, const float* s, const float* y, const float* hy,
                         double ref_norm);

}  // namespace kb
