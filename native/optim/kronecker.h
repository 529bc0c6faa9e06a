// The two Kronecker-factored operations K-BFGS and KFAC share (algorithm.md §3.3 items 2-3, §5): a factor
// damped by √λ on its diagonal, and the direction left · M · right for a layer's d x n gradient matrix M.
#pragma once

#include "../core/backend.h"

namespace kb {

// dst = A + √λ I for the n x n factor A.
inline void damped_factor(Backend& be, const float* a, int n, float sqrt_lambda, float* dst) {
  be.copy(dst, a, (size_t)n * n);
  be.add_diagonal(dst, n, n, sqrt_lambda);
}

// out = x · right, x d x n, right n x n.
inline void right_product(Backend& be, int d, int n, const float* x, const float* right, float* out) {
  be.gemm(false, false, d, n, n, 1.0f, x, n, right, n, 0.0f, out, n);
}

// out = left · m · right (left d x d), through tmp (d x n).
inline void kronecker_direction(Backend& be, int d, int n, const float* left, const float* m, const float* right,
                                float* tmp, float* out) {
  be.gemm(false, false, d, n, d, 1.0f, left, d, m, n, 0.0f, tmp, n);
  right_product(be, d, n, tmp, right, out);
}

}  // namespace kb
