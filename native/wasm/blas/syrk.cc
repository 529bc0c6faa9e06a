// SSYRK, lower triangle: the strictly lower blocks are GEMM calls; each diagonal block is computed whole in a
// scratch tile and only its lower triangle written, so the upper triangle of C is never touched.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "cblas.h"
#include "gemm_kernel.h"

namespace {
constexpr int kBlock = 128;
}

extern "C" void cblas_ssyrk(CBLAS_ORDER, CBLAS_UPLO uplo, CBLAS_TRANSPOSE trans, int n, int k, float alpha,
                            const float* a, int lda, float beta, float* c, int ldc) {
  if (uplo != CblasLower) std::abort();  // the backend asks for the lower triangle only
  const bool t = trans != CblasNoTrans;  // C = alpha A^T A (A k x n) or alpha A A^T (A n x k)
  // The rows [i, i + len) of op(A) as GEMM's left operand, and the same rows as its right operand op(A)^T.
  auto rows = [&](int i) { return t ? a + i : a + (size_t)i * lda; };
  std::vector<float> tile((size_t)kBlock * kBlock);
  for (int i0 = 0; i0 < n; i0 += kBlock) {
    const int len = std::min(kBlock, n - i0);
    if (i0 > 0)  // C[i0:i0+len, 0:i0] = alpha op(A)[i0:, :] op(A)[0:i0, :]^T + beta C
      kb::wasm_blas::gemm(t, !t, len, i0, k, alpha, rows(i0), lda, rows(0), lda, beta, c + (size_t)i0 * ldc, ldc);
    kb::wasm_blas::gemm(t, !t, len, len, k, alpha, rows(i0), lda, rows(i0), lda, 0.0f, tile.data(), kBlock);
    for (int r = 0; r < len; ++r) {
      float* row = c + (size_t)(i0 + r) * ldc + i0;
      for (int j = 0; j <= r; ++j) row[j] = (beta == 0.0f ? 0.0f : beta * row[j]) + tile[(size_t)r * kBlock + j];
    }
  }
}
