#include "bfgs.h"

#include <cmath>

namespace kb {

DampingResult double_damping(Backend& be, int d, float* s, float* y, float* hy, const ApplyInverse& apply_h,
                             double mu2) {
  DampingResult result;
  apply_h(y, hy);
  // 1. Powell damping on H: afterwards sᵀy = μ₁ yᵀHy.
  const double yhy = be.dot(d, y, hy);
  double sy = be.dot(d, s, y);
  if (!(yhy > 0) || !std::isfinite(yhy)) {
    result.degenerate = true;
    return result;
  }
  if (sy / yhy <= kPowellMu1) {
    const double theta1 = (1 - kPowellMu1) * yhy / (yhy - sy);
    be.axpby(d, (float)(1 - theta1), hy, (float)theta1, s);
    result.powell = true;
  }
  // 2. Powell with B = I on the new s: afterwards sᵀy = μ₂ sᵀs (μ₂ may exceed 1, then θ₂ leaves [0, 1]).
  const double ss = be.dot(d, s, s);
  sy = be.dot(d, s, y);
  if (!(ss > 0) || !std::isfinite(ss)) {
    result.degenerate = true;
    return result;
  }
  if (sy / ss <= mu2) {
    if (ss == sy) {
      result.degenerate = true;
      return result;
    }
    const double theta2 = (1 - mu2) * ss / (ss - sy);
    be.axpby(d, (float)(1 - theta2), s, (float)theta2, y);
    result.lm = true;
    apply_h(y, hy);  // y changed; otherwise hy is still H y
  }
  return result;
}

bool bfgs_inverse_update(Backend& be, float* h, int n, const float* s, const float* y, const float* hy,
                         double ref_norm) {
  const double sy = be.dot(n, s, y);
  const double ss = be.dot(n, s, s);
  if (!(sy > 0) || !std::isfinite(sy) || !std::isfinite(ss)) return false;
  if (sy <= kBfgsSkipThreshold * ss * ref_norm) return false;
  const double yhy = be.dot(n, y, hy);
  const double rho = 1.0 / sy;
  const double c_ss = rho * rho * yhy + rho;
  if (!std::isfinite(yhy) || !std::isfinite(c_ss) || !std::isfinite(rho)) return false;
  be.ger(n, n, (float)c_ss, s, s, h, n);
  be.ger(n, n, (float)-rho, s, hy, h, n);
  be.ger(n, n, (float)-rho, hy, s, h, n);
  return true;
}

}  // namespace kb
