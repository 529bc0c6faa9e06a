// SGEMM on SIMD128: the classic blocked scheme. op(B) is packed in KC x NR panels, op(A) in MR x KC panels
// per MC rows, and a 4 x 8 micro-kernel keeps its tile of C in eight vector registers while it walks the
// shared dimension. The threads split the MC blocks of rows; every element of C is summed in the same order
// whatever the thread count.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include <wasm_simd128.h>

#include "cblas.h"
#include "gemm_kernel.h"
#include "threads.h"
#include "vector_ops.h"

namespace kb::wasm_blas {
namespace {

constexpr int KC = 256, MC = 96, NC = 2048;

// The element (i, p) of op(A) and (p, j) of op(B).
struct Operand {
  const float* data;
  int ld;
  bool trans;
  float at(int row, int col) const { return trans ? data[(size_t)col * ld + row] : data[(size_t)row * ld + col]; }
};

// Rows [i0, i0 + mc) and columns [p0, p0 + kc) of op(A) as MR-row panels, each p-major; rows past mc are 0.
void pack_a(const Operand& a, int i0, int mc, int p0, int kc, float* out) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int rows = std::min(MR, mc - ir);
    float* panel = out + (size_t)ir * kc;
    if (!a.trans) {
      for (int r = 0; r < MR; ++r) {
        if (r < rows) {
          const float* src = a.data + (size_t)(i0 + ir + r) * a.ld + p0;
          for (int p = 0; p < kc; ++p) panel[p * MR + r] = src[p];
        } else {
          for (int p = 0; p < kc; ++p) panel[p * MR + r] = 0.0f;
        }
      }
    } else {
      for (int p = 0; p < kc; ++p) {
        const float* src = a.data + (size_t)(p0 + p) * a.ld + i0 + ir;
        for (int r = 0; r < MR; ++r) panel[p * MR + r] = r < rows ? src[r] : 0.0f;
      }
    }
  }
}

// Rows [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) as NR-column panels, each p-major; columns past nc are 0.
void pack_b(const Operand& b, int p0, int kc, int j0, int nc, float* out) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int cols = std::min(NR, nc - jr);
    float* panel = out + (size_t)jr * kc;
    if (!b.trans) {
      for (int p = 0; p < kc; ++p) {
        const float* src = b.data + (size_t)(p0 + p) * b.ld + j0 + jr;
        if (cols == NR) {
          wasm_v128_store(panel + p * NR, wasm_v128_load(src));
          wasm_v128_store(panel + p * NR + 4, wasm_v128_load(src + 4));
        } else {
          for (int c = 0; c < NR; ++c) panel[p * NR + c] = c < cols ? src[c] : 0.0f;
        }
      }
    } else {
      for (int c = 0; c < NR; ++c) {
        if (c < cols) {
          const float* src = b.data + (size_t)(j0 + jr + c) * b.ld + p0;
          for (int p = 0; p < kc; ++p) panel[p * NR + c] = src[p];
        } else {
          for (int p = 0; p < kc; ++p) panel[p * NR + c] = 0.0f;
        }
      }
    }
  }
}

struct Buffer {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t count) {
    if (count > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64));
      if (!p) std::abort();
      n = count;
    }
    return p;
  }
  ~Buffer() { std::free(p); }
};

}  // namespace

void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
          float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  for (int i = 0; i < m; ++i) scale(n, beta, c + (size_t)i * ldc);
  if (k <= 0 || alpha == 0.0f) return;
  const Operand A{a, lda, ta}, B{b, ldb, tb};
  thread_local Buffer packed_b;
  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    const int nc_padded = (nc + NR - 1) / NR * NR;
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      float* pb = packed_b.get((size_t)nc_padded * kc);
      pack_b(B, pc, kc, jc, nc, pb);
      const int blocks = (m + MC - 1) / MC;
      run_parallel(blocks, [&](int block) {
        thread_local Buffer packed_a;
        const int ic = block * MC, mc = std::min(MC, m - ic);
        const int mc_padded = (mc + MR - 1) / MR * MR;
        float* pa = packed_a.get((size_t)mc_padded * kc);
        pack_a(A, ic, mc, pc, kc, pa);
        for (int jr = 0; jr < nc; jr += NR)
          for (int ir = 0; ir < mc; ir += MR)
            micro_kernel(kc, alpha, pa + (size_t)ir * kc, pb + (size_t)jr * kc, c + (size_t)(ic + ir) * ldc + jc + jr,
                         ldc, std::min(MR, mc - ir), std::min(NR, nc - jr));
      });
    }
  }
}

}  // namespace kb::wasm_blas

extern "C" void cblas_sgemm(CBLAS_ORDER, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                            const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  kb::wasm_blas::gemm(ta != CblasNoTrans, tb != CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
