// STRSM on the left, non-unit diagonal: B (m x n, row-major) = alpha op(T)^-1 B by substitution over the rows
// of B, each step a SIMD128 row update.
#include <cstdlib>

#include "cblas.h"
#include "vector_ops.h"

using kb::wasm_blas::axpy;
using kb::wasm_blas::scale;

extern "C" void cblas_strsm(CBLAS_ORDER, CBLAS_SIDE side, CBLAS_UPLO uplo, CBLAS_TRANSPOSE trans, CBLAS_DIAG diag,
                            int m, int n, float alpha, const float* t, int ldt, float* b, int ldb) {
  if (side != CblasLeft || diag != CblasNonUnit) std::abort();  // the only kind the backend calls
  if (m <= 0 || n <= 0) return;
  for (int i = 0; i < m; ++i) scale(n, alpha, b + (size_t)i * ldb);
  // op(T) is upper triangular for (Upper, NoTrans) and (Lower, Trans): backward substitution; else forward.
  // op(T)(r, i) below is T[r][i] without the transpose and T[i][r] with it.
  const bool tr = trans != CblasNoTrans;
  auto op = [&](int r, int i) { return tr ? t[(size_t)i * ldt + r] : t[(size_t)r * ldt + i]; };
  float* row_i;
  if ((uplo == CblasUpper) != tr) {
    for (int i = m - 1; i >= 0; --i) {
      row_i = b + (size_t)i * ldb;
      scale(n, 1.0f / op(i, i), row_i);
      for (int r = 0; r < i; ++r) axpy(n, -op(r, i), row_i, b + (size_t)r * ldb);
    }
  } else {
    for (int i = 0; i < m; ++i) {
      row_i = b + (size_t)i * ldb;
      scale(n, 1.0f / op(i, i), row_i);
      for (int r = i + 1; r < m; ++r) axpy(n, -op(r, i), row_i, b + (size_t)r * ldb);
    }
  }
}
