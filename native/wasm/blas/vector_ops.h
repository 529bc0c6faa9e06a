// The SIMD128 loops the level-2 and level-3 routines share: y += a x, x *= a, and a dot product, each over a
// contiguous run of floats. Sums run in float, as in a float BLAS.
#pragma once

#include <wasm_simd128.h>

namespace kb::wasm_blas {

inline void axpy(int n, float a, const float* x, float* y) {
  const v128_t va = wasm_f32x4_splat(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t y0 = wasm_v128_load(y + i), y1 = wasm_v128_load(y + i + 4);
    y0 = wasm_f32x4_add(y0, wasm_f32x4_mul(va, wasm_v128_load(x + i)));
    y1 = wasm_f32x4_add(y1, wasm_f32x4_mul(va, wasm_v128_load(x + i + 4)));
    wasm_v128_store(y + i, y0);
    wasm_v128_store(y + i + 4, y1);
  }
  for (; i + 4 <= n; i += 4)
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
  for (; i < n; ++i) y[i] += a * x[i];
}

inline void scale(int n, float a, float* x) {
  if (a == 1.0f) return;
  if (a == 0.0f) {  // BLAS semantics: beta = 0 overwrites, whatever x held (NaN included)
    for (int i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  const v128_t va = wasm_f32x4_splat(a);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(va, wasm_v128_load(x + i)));
  for (; i < n; ++i) x[i] *= a;
}

inline float dot(int n, const float* x, const float* y) {
  v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(x + i), wasm_v128_load(y + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(x + i + 4), wasm_v128_load(y + i + 4)));
  }
  for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(x + i), wasm_v128_load(y + i)));
  const v128_t s = wasm_f32x4_add(s0, s1);
  float sum = (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
              (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

}  // namespace kb::wasm_blas
