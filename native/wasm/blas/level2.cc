// SGEMV and SGER, row-major, unit strides (the only ones the backend passes): each a loop of SIMD128 dot
// products or row updates.
#include <cstdlib>

#include "cblas.h"
#include "vector_ops.h"

using kb::wasm_blas::axpy;
using kb::wasm_blas::dot;
using kb::wasm_blas::scale;

extern "C" void cblas_sgemv(CBLAS_ORDER, CBLAS_TRANSPOSE trans, int m, int n, float alpha, const float* a, int lda,
                            const float* x, int incx, float beta, float* y, int incy) {
  if (incx != 1 || incy != 1) std::abort();  // not used by the engine
  if (trans == CblasNoTrans) {  // y (m) = alpha A x + beta y
    for (int i = 0; i < m; ++i) {
      const float s = n > 0 ? alpha * dot(n, a + (size_t)i * lda, x) : 0.0f;
      y[i] = beta == 0.0f ? s : beta * y[i] + s;
    }
  } else {  // y (n) = alpha A^T x + beta y: the rows of A, each scaled by its x, summed into y
    scale(n, beta, y);
    if (alpha == 0.0f) return;
    for (int i = 0; i < m; ++i) axpy(n, alpha * x[i], a + (size_t)i * lda, y);
  }
}

extern "C" void cblas_sger(CBLAS_ORDER, int m, int n, float alpha, const float* x, int incx, const float* y, int incy,
                           float* a, int lda) {
  if (incx != 1 || incy != 1) std::abort();
  for (int i = 0; i < m; ++i) axpy(n, alpha * x[i], y, a + (size_t)i * lda);
}
