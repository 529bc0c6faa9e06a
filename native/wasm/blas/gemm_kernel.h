// The GEMM micro-kernel and the entry the other level-3 routines call.
#pragma once

#include <wasm_simd128.h>

namespace kb::wasm_blas {

constexpr int MR = 4, NR = 8;

// C[0:rows, 0:cols] += alpha * Σ_p a[p] b[p]^T over kc steps, a packed MR-wide and b NR-wide per step.
inline void micro_kernel(int kc, float alpha, const float* a, const float* b, float* c, int ldc, int rows, int cols) {
  v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; ++p) {
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t av = wasm_v128_load32_splat(a);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(av, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(av, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(av, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(av, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(av, b1));
    a += MR;
    b += NR;
  }
  const v128_t va = wasm_f32x4_splat(alpha);
  const v128_t acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  if (rows == MR && cols == NR) {
    for (int r = 0; r < MR; ++r) {
      float* row = c + (size_t)r * ldc;
      wasm_v128_store(row, wasm_f32x4_add(wasm_v128_load(row), wasm_f32x4_mul(va, acc[r][0])));
      wasm_v128_store(row + 4, wasm_f32x4_add(wasm_v128_load(row + 4), wasm_f32x4_mul(va, acc[r][1])));
    }
    return;
  }
  alignas(16) float tile[MR][NR];
  for (int r = 0; r < MR; ++r) {
    wasm_v128_store(&tile[r][0], wasm_f32x4_mul(va, acc[r][0]));
    wasm_v128_store(&tile[r][4], wasm_f32x4_mul(va, acc[r][1]));
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) c[(size_t)r * ldc + j] += tile[r][j];
}

// C = alpha op(A) op(B) + beta C, row-major (gemm.cc).
void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
          float beta, float* c, int ldc);

}  // namespace kb::wasm_blas
