// LAPACK's SPOTRF and SPOTRI for uplo 'U' on a column-major matrix, which is the lower triangle of the same
// array read row-major (cpu_backend.cc's convention): A = L L^T with L lower, row-major. Only that triangle
// is read or written.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cblas.h"
#include "vector_ops.h"

namespace {

using kb::wasm_blas::axpy;
using kb::wasm_blas::dot;

constexpr int kBlock = 64;

// Row i of the solution of X L^T = A for the n x n lower L, in place over a's row: forward substitution with
// dot products over contiguous rows of L.
void solve_row(int n, const float* l, int ldl, float* row) {
  for (int j = 0; j < n; ++j) {
    const float* lj = l + (size_t)j * ldl;
    row[j] = (row[j] - dot(j, row, lj)) / lj[j];
  }
}

// Unblocked Cholesky of the n x n block at a. Returns 0, or the 1-based order of the first minor that is not
// positive definite.
int factor_block(int n, float* a, int lda) {
  for (int i = 0; i < n; ++i) {
    float* ri = a + (size_t)i * lda;
    solve_row(i, a, lda, ri);
    const float d = ri[i] - dot(i, ri, ri);
    if (!(d > 0.0f)) {  // NaN included
      ri[i] = d;
      return i + 1;
    }
    ri[i] = std::sqrt(d);
  }
  return 0;
}

// Right-looking blocked Cholesky: factor a diagonal block, solve the block column under it, update the
// trailing lower triangle with SYRK.
int factor(int n, float* a, int lda) {
  for (int k0 = 0; k0 < n; k0 += kBlock) {
    const int w = std::min(kBlock, n - k0);
    float* diag = a + (size_t)k0 * lda + k0;
    if (const int info = factor_block(w, diag, lda)) return k0 + info;
    const int rest = n - k0 - w;
    if (rest == 0) break;
    float* below = diag + (size_t)w * lda;  // rows under the block, its columns: X L11^T = A21
    for (int r = 0; r < rest; ++r) solve_row(w, diag, lda, below + (size_t)r * lda);
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, rest, w, -1.0f, below, lda, 1.0f, below + w, lda);
  }
  return 0;
}

// inv(A) = L^-T L^-1: W = L^-1 row by row (row i of W is -(1/L_ii) Σ_k<i L_ik W_k, plus 1/L_ii on the
// diagonal), then the lower triangle of W^T W by SYRK.
void invert(int n, float* a, int lda) {
  std::vector<float> w((size_t)n * n, 0.0f), row(n);
  for (int i = 0; i < n; ++i) {
    const float* li = a + (size_t)i * lda;
    std::fill(row.begin(), row.begin() + i, 0.0f);
    for (int k = 0; k < i; ++k) axpy(k + 1, li[k], w.data() + (size_t)k * n, row.data());
    const float inv = 1.0f / li[i];
    float* wi = w.data() + (size_t)i * n;
    for (int j = 0; j < i; ++j) wi[j] = -inv * row[j];
    wi[i] = inv;
  }
  cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, n, n, 1.0f, w.data(), n, 0.0f, a, lda);
}

}  // namespace

extern "C" void spotrf_(const char*, const int* n, float* a, const int* lda, int* info) {
  *info = *n > 0 ? factor(*n, a, *lda) : 0;
}

extern "C" void spotri_(const char*, const int* n, float* a, const int* lda, int* info) {
  *info = 0;
  for (int i = 0; i < *n; ++i)
    if (a[(size_t)i * *lda + i] == 0.0f) {
      *info = i + 1;  // a singular factor, as LAPACK's STRTRI reports it
      return;
    }
  if (*n > 0) invert(*n, a, *lda);
}
