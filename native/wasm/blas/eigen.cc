// LAPACK's DSYEV (jobz 'V') for the WebAssembly build, where no LAPACK exists: the eigenvalues and
// eigenvectors of a symmetric column-major matrix by cyclic Jacobi rotations in float64 (algorithm.md §17.2).
// Each sweep zeroes every off-diagonal pair once, at about 6n³ flops; the off-diagonal mass falls
// quadratically once small, so a few sweeps reach float64 accuracy. Jacobi is slower than LAPACK's
// tridiagonal QR but short and accurate for small eigenvalues, the ones Shampoo's inverse roots amplify.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cblas.h"

namespace {

constexpr int kMaxSweeps = 60;

// Rotates columns p and q of the n x n row-major x: (x_p, x_q) ← (c x_p − s x_q, s x_p + c x_q).
void rotate_columns(std::vector<double>& x, int n, int p, int q, double c, double s) {
  for (int k = 0; k < n; ++k) {
    double* row = x.data() + (size_t)k * n;
    const double xp = row[p], xq = row[q];
    row[p] = c * xp - s * xq;
    row[q] = s * xp + c * xq;
  }
}

// The same rotation applied to rows p and q.
void rotate_rows(std::vector<double>& x, int n, int p, int q, double c, double s) {
  double* rp = x.data() + (size_t)p * n;
  double* rq = x.data() + (size_t)q * n;
  for (int k = 0; k < n; ++k) {
    const double xp = rp[k], xq = rq[k];
    rp[k] = c * xp - s * xq;
    rq[k] = s * xp + c * xq;
  }
}

double off_diagonal_squares(const std::vector<double>& a, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) sum += a[(size_t)i * n + j] * a[(size_t)i * n + j];
  return sum;
}

// a (n x n, symmetric, row-major) is diagonalized in place; v accumulates the rotations, so that on return
// the columns of v are the eigenvectors. Returns false if kMaxSweeps did not suffice.
bool jacobi(std::vector<double>& a, std::vector<double>& v, int n) {
  double total = 0;
  for (double x : a) total += x * x;
  const double target = total * 1e-32;  // (1e-16 relative)² of the Frobenius norm
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    if (off_diagonal_squares(a, n) <= target) return true;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[(size_t)p * n + q];
        if (apq == 0) continue;
        // The angle φ with cot 2φ = (a_qq − a_pp) / (2 a_pq) zeroes a_pq; t = tan φ is the smaller root.
        const double theta = (a[(size_t)q * n + q] - a[(size_t)p * n + p]) / (2 * apq);
        const double t = std::abs(theta) > 1e150 ? 0.5 / theta
                                                 : (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        rotate_columns(a, n, p, q, c, s);
        rotate_rows(a, n, p, q, c, s);
        a[(size_t)p * n + q] = a[(size_t)q * n + p] = 0;
        rotate_columns(v, n, p, q, c, s);
      }
  }
  return off_diagonal_squares(a, n) <= target;
}

}  // namespace

// Reads the 'U' triangle (column-major), i.e. a[i + j·lda] for i ≤ j. A workspace query (lwork −1) answers
// one element: the work array is not used.
extern "C" void dsyev_(const char*, const char* uplo, const int* n_ptr, double* a, const int* lda_ptr, double* w,
                       double* work, const int* lwork, int* info) {
  *info = 0;
  if (*lwork == -1) {
    work[0] = 1;
    return;
  }
  const int n = *n_ptr, lda = *lda_ptr;
  const bool upper = *uplo == 'U' || *uplo == 'u';
  std::vector<double> m((size_t)n * n), v((size_t)n * n, 0.0);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i <= j; ++i) {
      const double x = upper ? a[i + (size_t)j * lda] : a[j + (size_t)i * lda];
      m[(size_t)i * n + j] = m[(size_t)j * n + i] = x;
    }
  for (int i = 0; i < n; ++i) v[(size_t)i * n + i] = 1;
  if (!jacobi(m, v, n)) {
    *info = 1;
    return;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return m[(size_t)x * n + x] < m[(size_t)y * n + y]; });
  for (int i = 0; i < n; ++i) {
    w[i] = m[(size_t)order[i] * n + order[i]];
    for (int k = 0; k < n; ++k) a[k + (size_t)i * lda] = v[(size_t)k * n + order[i]];  // column i
  }
}
