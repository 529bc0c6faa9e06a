// Kernels of the CUDA backend. Grid-stride loops over flat or (row, column) index spaces; one block per row
// where a row needs a reduction (losses, softmax). Reductions accumulate in double and combine in a fixed
// order, so a result does not change from run to run.
#include "cuda_kernels.h"

#include <cmath>
#include <string>

#include "../rules/curvature_rules.h"
#include "../rules/elementwise_rules.h"
#include "../rules/image_rules.h"
#include "../core/errors.h"
#include "../rules/first_order_rule.h"
#include "../rules/rng.h"
#include "kernel_helpers.cuh"

namespace kb::cuda {
namespace {

// Σ x[i] y[i] over n values by the whole block, in double; every thread gets the sum.
__device__ double block_dot(int n, const float* x, const float* y) {
  double acc = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) acc += (double)x[i] * y[i];
  return block_sum(acc);
}

// One block. Every branch depends only on block-wide sums, so all threads take it together.
__global__ void damp_pair_kernel(int d, float* s, float* y, const float* hy, double mu1, double mu2, float* gate,
                                 float* counts) {
  const bool lead = threadIdx.x == 0;
  if (lead) gate[0] = 1;
  const DampingStep powell = powell_step(block_dot(d, y, hy), block_dot(d, s, y), mu1);
  if (powell.degenerate) return;
  if (powell.apply) {
    const float a = (float)(1 - powell.theta), b = (float)powell.theta;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s[i] = a * hy[i] + b * s[i];
    __syncthreads();
    if (lead) counts[0] += 1;
  }
  const DampingStep lm = lm_step(block_dot(d, s, s), block_dot(d, s, y), mu2);
  if (lm.degenerate) return;
  if (lm.apply) {
    const float a = (float)(1 - lm.theta), b = (float)lm.theta;
    for (int i = threadIdx.x; i < d; i += blockDim.x) y[i] = a * s[i] + b * y[i];
    if (lead) counts[1] += 1;
  }
  if (lead) gate[0] = 0;
}

__global__ void bfgs_coefficients_kernel(int n, const float* s, const float* y, const float* hy, const float* ref,
                                         int ref_n, double threshold, const float* gate, float* skipped,
                                         float* coefficients) {
  BfgsCoefficients c;
  if (!gate || gate[0] == 0) {
    const double sy = block_dot(n, s, y), ss = block_dot(n, s, s), yhy = block_dot(n, y, hy);
    c = bfgs_coefficients(sy, ss, yhy, sqrt(block_dot(ref_n, ref, ref)), threshold);
  }
  if (threadIdx.x == 0) {
    coefficients[0] = (float)c.c_ss;
    coefficients[1] = (float)-c.rho;
    coefficients[2] = c.apply ? 1.0f : 0.0f;
    if (!c.apply) skipped[0] += 1;
  }
}

// H += c_ss s sᵀ − ρ s hyᵀ − ρ hy sᵀ, the three rank-one terms added in the CPU backend's order.
__global__ void bfgs_rank_two_kernel(int n, float* h, const float* s, const float* hy, const float* coefficients) {
  if (coefficients[2] == 0) return;
  const float c_ss = coefficients[0], minus_rho = coefficients[1];
  KB_GRID_STRIDE(e, (size_t)n * n) {
    const size_t i = e / n, j = e % n;
    float v = h[e];
    v += c_ss * s[i] * s[j];
    v += minus_rho * s[i] * hy[j];
    v += minus_rho * hy[i] * s[j];
    h[e] = v;
  }
}

// One block. The rows move up in chunks of one value per thread, each chunk read before any of it is written,
// so a row may overwrite the one above it without a race.
__global__ void lbfgs_append_kernel(int d, int memory, float* s_rows, float* y_rows, const float* s, const float* y,
                                    const float* ref, int ref_n, double threshold, const float* gate, float* size,
                                    float* skipped) {
  const bool lead = threadIdx.x == 0;
  const bool gated = gate && gate[0] != 0;
  if (gated || !lbfgs_keeps_pair(block_dot(d, s, s), block_dot(d, y, s), sqrt(block_dot(ref_n, ref, ref)), threshold)) {
    if (lead) skipped[0] += 1;
    return;
  }
  int k = (int)size[0];
  __syncthreads();  // every thread has read the size before the lead writes it
  if (k == memory) {
    const size_t moved = (size_t)(memory - 1) * d;
    for (size_t base = 0; base < moved; base += blockDim.x) {
      const size_t e = base + threadIdx.x;
      float sv = 0, yv = 0;
      if (e < moved) {
        sv = s_rows[e + d];
        yv = y_rows[e + d];
      }
      __syncthreads();
      if (e < moved) {
        s_rows[e] = sv;
        y_rows[e] = yv;
      }
      __syncthreads();
    }
    --k;
  }
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    s_rows[(size_t)k * d + i] = s[i];
    y_rows[(size_t)k * d + i] = y[i];
  }
  if (lead) size[0] = (float)(k + 1);
}

__global__ void pad_diagonal_kernel(float* a, int n, int lda, const float* count, float value) {
  const int first = count[0] > 0 ? (int)count[0] : 0;
  KB_GRID_STRIDE(i, (size_t)n) if ((int)i >= first) a[i * lda + i] = value;
}

__global__ void fill_kernel(float* x, float value, size_t n) {
  KB_GRID_STRIDE(i, n) x[i] = value;
}

__global__ void gather_rows_kernel(float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows,
                                   int count) {
  KB_GRID_STRIDE(e, (size_t)count * cols) {
    const size_t r = e / cols, c = e % cols;
    dst[r * ld_dst + c] = src[(size_t)rows[r] * cols + c];
  }
}

__global__ void set_column_kernel(float* a, int rows, int ld, int col, float value) {
  KB_GRID_STRIDE(i, (size_t)rows) a[i * ld + col] = value;
}

__global__ void activation_forward_kernel(Activation act, const float* h, int m, int d, int ldh, float* out,
                                          int ldo) {
  KB_GRID_STRIDE(e, (size_t)m * d) {
    const size_t i = e / d, j = e % d;
    out[i * ldo + j] = activate(act, h[i * ldh + j]);
  }
}

__global__ void activation_backward_kernel(Activation act, const float* h, int m, int d, float* g, int ldg) {
  KB_GRID_STRIDE(e, (size_t)m * d) {
    const size_t i = e / d, j = e % d;
    float& gij = g[i * ldg + j];
    gij = activation_gradient(act, h[e], gij);
  }
}

// One block per row: the row's summed loss (double) and, if grad, the per-sample output gradient.
__global__ void row_losses_kernel(Loss loss, const float* z, const float* t, int d, float* grad, double* totals) {
  const size_t row = blockIdx.x;
  const float* zi = z + row * d;
  const float* ti = t + row * d;
  float* gi = grad ? grad + row * d : nullptr;
  double acc = 0;
  if (loss == Loss::SigmoidCrossEntropy) {
    for (int j = threadIdx.x; j < d; j += blockDim.x) {  // log1pf per element: threads need no running product
      const SigmoidCrossEntropyTerm term = sigmoid_cross_entropy(zi[j], ti[j]);
      acc += (double)term.linear + (double)log1pf(term.e);
      if (gi) gi[j] = term.gradient;
    }
  } else if (loss == Loss::HalfSquaredError) {
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
      const float r = squared_error_residual(zi[j], ti[j]);
      acc += 0.5 * (double)r * r;
      if (gi) gi[j] = r;
    }
  } else {  // softmax cross-entropy through the log-sum-exp
    float local_max = -INFINITY;
    for (int j = threadIdx.x; j < d; j += blockDim.x) local_max = fmaxf(local_max, zi[j]);
    const float zmax = block_max(local_max);
    double denom = 0;
    for (int j = threadIdx.x; j < d; j += blockDim.x) denom += exp((double)zi[j] - zmax);
    const double lse = zmax + log(block_sum(denom));
    double tsum = 0;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
      acc += (double)ti[j] * (lse - zi[j]);
      tsum += ti[j];
    }
    tsum = block_sum(tsum);
    if (gi)
      for (int j = threadIdx.x; j < d; j += blockDim.x) gi[j] = (float)(exp(zi[j] - lse) * tsum - ti[j]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) totals[row] = acc;
}

__global__ void sigmoid_kernel(const float* z, size_t n, float* out) {
  KB_GRID_STRIDE(i, n) out[i] = sigmoid(z[i]);
}

// One block per row: softmax with double sums, as the CPU's link().
__global__ void softmax_rows_kernel(const float* z, int d, float* out) {
  const size_t row = blockIdx.x;
  const float* zi = z + row * d;
  float* oi = out + row * d;
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < d; j += blockDim.x) local_max = fmaxf(local_max, zi[j]);
  const float zmax = block_max(local_max);
  double denom = 0;
  for (int j = threadIdx.x; j < d; j += blockDim.x) denom += exp((double)zi[j] - zmax);
  denom = block_sum(denom);
  for (int j = threadIdx.x; j < d; j += blockDim.x) oi[j] = (float)(exp((double)zi[j] - zmax) / denom);
}

// A draw's seed: the argument, or the counter in device memory (a recorded step's draws, rules/rng.h).
__device__ uint64_t draw_seed(uint64_t seed, const float* counter) {
  return counter ? splitmix64_mix(load_counter(counter)) : seed;
}

__global__ void bernoulli_kernel(const float* z, size_t n, uint64_t seed, const float* counter, uint64_t first,
                                 float* out) {
  seed = draw_seed(seed, counter);
  KB_GRID_STRIDE(i, n) out[i] = bernoulli_target(seed, first + i, sigmoid(z[i]));
}

__global__ void normal_kernel(const float* z, size_t n, uint64_t seed, const float* counter, uint64_t first, float* out) {
  seed = draw_seed(seed, counter);
  KB_GRID_STRIDE(i, n) out[i] = normal_target(seed, first + i, z[i]);
}

// One thread per row: inverse CDF of the row's softmax (already in out) with the row's first uniform.
__global__ void categorical_kernel(int m, int d, uint64_t seed, const float* counter, uint64_t first, float* out) {
  seed = draw_seed(seed, counter);
  KB_GRID_STRIDE(r, (size_t)m) {
    float* p = out + r * d;
    const int pick = categorical_target(p, d, uniform_at(seed, 2 * (first + r * d)));
    for (int j = 0; j < d; ++j) p[j] = j == pick ? 1.0f : 0.0f;
  }
}

__global__ void advance_counter_kernel(float* counter) { store_counter(counter, load_counter(counter) + 1); }

__global__ void axpby_kernel(size_t n, float alpha, const float* x, float beta, float* y) {
  KB_GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta * y[i];
}

__global__ void add_diagonal_kernel(float* a, int n, int lda, float value) {
  KB_GRID_STRIDE(i, (size_t)n) a[i * lda + i] += value;
}

__global__ void add_diagonal_from_kernel(float* a, int n, int lda, const float* src, int stride) {
  KB_GRID_STRIDE(i, (size_t)n) a[i * lda + i] += src[i * stride];
}

__global__ void mirror_lower_kernel(float* a, int n, int lda) {
  KB_GRID_STRIDE(e, (size_t)n * n) {
    const size_t i = e / n, j = e % n;
    if (j > i) a[i * lda + j] = a[j * lda + i];
  }
}

__global__ void identity_kernel(float* a, int n, int lda) {
  KB_GRID_STRIDE(e, (size_t)n * n) {
    const size_t i = e / n, j = e % n;
    a[i * lda + j] = i == j ? 1.0f : 0.0f;
  }
}

__global__ void first_order_kernel(FirstOrderUpdate u, float bias1, float bias2, size_t n, float* theta,
                                   const float* grad, float* m, float* v) {
  KB_GRID_STRIDE(i, n) first_order_element(u, bias1, bias2, theta[i], grad[i], m[i], v[i]);
}

__global__ void gradient_momentum_kernel(size_t n, float rho, float tau, const float* theta, const float* grad,
                                         float* m) {
  KB_GRID_STRIDE(i, n) m[i] = gradient_momentum(rho, tau, theta[i], grad[i], m[i]);
}

__global__ void running_mean_of_squares_kernel(size_t n, float keep, float add, float tau, const float* theta,
                                               const float* grad, float* v) {
  KB_GRID_STRIDE(i, n) v[i] = running_mean_of_squares(keep, add, tau, theta[i], grad[i], v[i]);
}

// Stage one of a dot product: block b sums its grid-stride share into partials[b].
__global__ void dot_partials_kernel(size_t n, const float* x, const float* y, double* partials) {
  double acc = 0;
  KB_GRID_STRIDE(i, n) acc += (double)x[i] * y[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// One block adds n doubles in a fixed order (and, when square_out is not null, their squares).
__global__ void sum_kernel(const double* values, int n, double* out, double* square_out) {
  double acc = 0, squares = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    acc += values[i];
    squares += values[i] * values[i];
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[0] = acc;
  if (!square_out) return;
  squares = block_sum(squares);
  if (threadIdx.x == 0) square_out[0] = squares;
}

__global__ void first_non_finite_kernel(const float* x, size_t n, unsigned long long* out) {
  KB_GRID_STRIDE(i, n) {
    if (!isfinite(x[i])) {
      atomicMin(out, (unsigned long long)i);
      return;  // later entries of this thread's share cannot be first
    }
  }
}

__global__ void mark_non_finite_kernel(const float* x, size_t n, float* flag) {
  KB_GRID_STRIDE(i, n) {
    if (!isfinite(x[i])) {
      flag[0] = 1.0f;  // every writer stores the same value
      return;
    }
  }
}


// ---- image layers: one thread per output element; the rules and sum orders of rules/image_rules.h -----------

__global__ void im2col_kernel(PatchShape sh, const float* x, int m, float* patches) {
  const int n = sh.patch_size() + 1, C = sh.in.channels, ow = sh.out_w(), T = sh.locations();
  KB_GRID_STRIDE(e, (size_t)m * T * n) {
    const size_t r = e / n;
    const int j = (int)(e % n);
    if (j == n - 1) {
      patches[e] = sh.bias ? 1.0f : 0.0f;
      continue;
    }
    const int i = (int)(r / T), t = (int)(r % T), c = j % C, k = j / C;
    const int iy = (t / ow) * sh.stride - sh.padding + k / sh.kernel_w;
    const int ix = (t % ow) * sh.stride - sh.padding + k % sh.kernel_w;
    const bool inside = iy >= 0 && iy < sh.in.height && ix >= 0 && ix < sh.in.width;
    patches[e] = inside ? x[(size_t)i * sh.in.size() + sh.in.at(c, iy, ix)] : 0.0f;
  }
}

// Element e of dx in the input's own layout; the window entries that copied it are summed kernel offsets
// descending (the CPU's scatter order).
__global__ void col2im_kernel(PatchShape sh, const float* dpatches, int ld, int m, float* dx) {
  const size_t image = sh.in.size();
  const int C = sh.in.channels, ow = sh.out_w(), T = sh.locations();
  KB_GRID_STRIDE(e, (size_t)m * image) {
    const int i = (int)(e / image);
    const size_t p = e % image;
    int c, y, x;
    if (sh.in.channels_first) {
      c = (int)(p / ((size_t)sh.in.height * sh.in.width));
      y = (int)(p / sh.in.width % sh.in.height);
      x = (int)(p % sh.in.width);
    } else {
      c = (int)(p % C);
      y = (int)(p / C / sh.in.width);
      x = (int)(p / C % sh.in.width);
    }
    const float* di = dpatches + (size_t)i * T * ld;
    float sum = 0.0f;
    for (int ky = sh.kernel_h - 1; ky >= 0; --ky) {  // descending: the order of the CPU's scatter
      int oy;
      if (!window_origin(y, ky, sh.stride, sh.padding, sh.out_h(), &oy)) continue;
      for (int kx = sh.kernel_w - 1; kx >= 0; --kx) {
        int ox;
        if (!window_origin(x, kx, sh.stride, sh.padding, ow, &ox)) continue;
        sum += di[(size_t)(oy * ow + ox) * ld + (ky * sh.kernel_w + kx) * C + c];
      }
    }
    dx[e] = sum;
  }
}

__global__ void pool_forward_kernel(PoolShape sh, const float* x, int m, float* y, int ldy) {
  const size_t in = sh.in_size(), out = sh.passed_size();
  KB_GRID_STRIDE(e, (size_t)m * out) {
    const size_t i = e / out, k = e % out;
    const float* xi = x + i * in;
    y[i * ldy + k] = sh.kind == PoolKind::None ? xi[k] : pooled_value(sh, xi, k);
  }
}

__global__ void pool_backward_kernel(PoolShape sh, const float* x, const float* dy, int lddy, int m, float* dx) {
  const size_t in = sh.in_size();
  KB_GRID_STRIDE(e, (size_t)m * in) {
    const size_t i = e / in, k = e % in;
    dx[e] = sh.kind == PoolKind::None ? dy[i * lddy + k] : pooled_gradient(sh, x + i * in, dy + i * lddy, k);
  }
}

}  // namespace

void launch_fill(cudaStream_t s, float* x, float value, size_t n) {
  fill_kernel<<<grid_for(n), kThreads, 0, s>>>(x, value, n);
  check_launch("fill");
}
void launch_gather_rows(cudaStream_t s, float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows,
                        int count) {
  gather_rows_kernel<<<grid_for((size_t)count * cols), kThreads, 0, s>>>(dst, ld_dst, src, cols, rows, count);
  check_launch("gather_rows");
}
void launch_set_column(cudaStream_t s, float* a, int rows, int ld, int col, float value) {
  set_column_kernel<<<grid_for(rows), kThreads, 0, s>>>(a, rows, ld, col, value);
  check_launch("set_column");
}
void launch_activation_forward(cudaStream_t s, Activation act, const float* h, int m, int d, int ldh, float* out,
                               int ldo) {
  activation_forward_kernel<<<grid_for((size_t)m * d), kThreads, 0, s>>>(act, h, m, d, ldh, out, ldo);
  check_launch("activation_forward");
}
void launch_activation_backward(cudaStream_t s, Activation act, const float* h, int m, int d, float* g, int ldg) {
  if (act == Activation::Linear) return;
  activation_backward_kernel<<<grid_for((size_t)m * d), kThreads, 0, s>>>(act, h, m, d, g, ldg);
  check_launch("activation_backward");
}
void launch_row_losses(cudaStream_t s, Loss loss, const float* z, const float* t, int m, int d, float* grad,
                       double* row_totals) {
  if (m == 0) return;
  row_losses_kernel<<<m, kThreads, 0, s>>>(loss, z, t, d, grad, row_totals);
  check_launch("loss");
}
void launch_link(cudaStream_t s, Loss loss, const float* z, int m, int d, float* out) {
  const size_t n = (size_t)m * d;
  if (n == 0) return;
  if (loss == Loss::HalfSquaredError) {
    if (out != z && cudaMemcpyAsync(out, z, n * sizeof(float), cudaMemcpyDeviceToDevice, s) != cudaSuccess)
      check_launch("link copy");
  } else if (loss == Loss::SigmoidCrossEntropy) {
    sigmoid_kernel<<<grid_for(n), kThreads, 0, s>>>(z, n, out);
  } else {
    softmax_rows_kernel<<<m, kThreads, 0, s>>>(z, d, out);
  }
  check_launch("link");
}
void launch_sample_targets(cudaStream_t s, Loss loss, const float* z, int m, int d, uint64_t seed,
                           const float* seed_counter, uint64_t first, float* out) {
  const size_t n = (size_t)m * d;
  if (n == 0) return;
  if (loss == Loss::SigmoidCrossEntropy) {
    bernoulli_kernel<<<grid_for(n), kThreads, 0, s>>>(z, n, seed, seed_counter, first, out);
  } else if (loss == Loss::HalfSquaredError) {
    normal_kernel<<<grid_for(n), kThreads, 0, s>>>(z, n, seed, seed_counter, first, out);
  } else {
    softmax_rows_kernel<<<m, kThreads, 0, s>>>(z, d, out);
    categorical_kernel<<<grid_for(m), kThreads, 0, s>>>(m, d, seed, seed_counter, first, out);
  }
  check_launch("sample_targets");
}
void launch_advance_counter(cudaStream_t s, float* counter) {
  advance_counter_kernel<<<1, 1, 0, s>>>(counter);
  check_launch("advance_counter");
}
void launch_axpby(cudaStream_t s, size_t n, float alpha, const float* x, float beta, float* y) {
  axpby_kernel<<<grid_for(n), kThreads, 0, s>>>(n, alpha, x, beta, y);
  check_launch("axpby");
}
void launch_add_diagonal(cudaStream_t s, float* a, int n, int lda, float value) {
  add_diagonal_kernel<<<grid_for(n), kThreads, 0, s>>>(a, n, lda, value);
  check_launch("add_diagonal");
}
void launch_add_diagonal_from(cudaStream_t s, float* a, int n, int lda, const float* src, int stride) {
  add_diagonal_from_kernel<<<grid_for(n), kThreads, 0, s>>>(a, n, lda, src, stride);
  check_launch("add_diagonal_from");
}
void launch_mirror_lower(cudaStream_t s, float* a, int n, int lda) {
  mirror_lower_kernel<<<grid_for((size_t)n * n), kThreads, 0, s>>>(a, n, lda);
  check_launch("mirror_lower");
}
void launch_identity(cudaStream_t s, float* a, int n, int lda) {
  identity_kernel<<<grid_for((size_t)n * n), kThreads, 0, s>>>(a, n, lda);
  check_launch("identity");
}
void launch_first_order_update(cudaStream_t s, const FirstOrderUpdate& u, float bias1, float bias2, size_t n,
                               float* theta, const float* grad, float* m, float* v) {
  first_order_kernel<<<grid_for(n), kThreads, 0, s>>>(u, bias1, bias2, n, theta, grad, m, v);
  check_launch("first_order_update");
}
void launch_gradient_momentum(cudaStream_t s, size_t n, float rho, float tau, const float* theta, const float* grad,
                              float* m) {
  gradient_momentum_kernel<<<grid_for(n), kThreads, 0, s>>>(n, rho, tau, theta, grad, m);
  check_launch("gradient_momentum");
}
void launch_running_mean_of_squares(cudaStream_t s, size_t n, int j, float tau, const float* theta,
                                    const float* grad, float* v) {
  const float keep = (float)(j - 1) / j, add = 1.0f / j;
  running_mean_of_squares_kernel<<<grid_for(n), kThreads, 0, s>>>(n, keep, add, tau, theta, grad, v);
  check_launch("running_mean_of_squares");
}
void launch_damp_pair(cudaStream_t s, int d, float* sv, float* y, const float* hy, double mu1, double mu2, float* gate,
                      float* counts) {
  damp_pair_kernel<<<1, kThreads, 0, s>>>(d, sv, y, hy, mu1, mu2, gate, counts);
  check_launch("damp_pair");
}
void launch_bfgs_update(cudaStream_t s, int n, float* h, const float* sv, const float* y, const float* hy,
                        const float* ref, int ref_n, double threshold, const float* gate, float* skipped,
                        float* coefficients) {
  bfgs_coefficients_kernel<<<1, kThreads, 0, s>>>(n, sv, y, hy, ref, ref_n, threshold, gate, skipped, coefficients);
  bfgs_rank_two_kernel<<<grid_for((size_t)n * n), kThreads, 0, s>>>(n, h, sv, hy, coefficients);
  check_launch("bfgs_update");
}
void launch_lbfgs_append(cudaStream_t s, int d, int memory, float* s_rows, float* y_rows, const float* sv,
                         const float* y, const float* ref, int ref_n, double threshold, const float* gate, float* size,
                         float* skipped) {
  lbfgs_append_kernel<<<1, kThreads, 0, s>>>(d, memory, s_rows, y_rows, sv, y, ref, ref_n, threshold, gate, size, skipped);
  check_launch("lbfgs_append");
}
void launch_pad_diagonal(cudaStream_t s, float* a, int n, int lda, const float* count, float value) {
  pad_diagonal_kernel<<<grid_for(n), kThreads, 0, s>>>(a, n, lda, count, value);
  check_launch("pad_diagonal");
}
void launch_dot(cudaStream_t s, size_t n, const float* x, const float* y, double* partials, double* out) {
  dot_partials_kernel<<<kReduceBlocks, kThreads, 0, s>>>(n, x, y, partials);
  sum_kernel<<<1, kThreads, 0, s>>>(partials, kReduceBlocks, out, nullptr);
  check_launch("dot");
}
// One block adds the diagonal's n entries: a few hundred to a few thousand, read once per inversion.
__global__ void trace_kernel(const float* a, int n, int lda, double* out) {
  double acc = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) acc += a[(size_t)i * lda + i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[0] = acc;
}
void launch_trace(cudaStream_t s, const float* a, int n, int lda, double* out) {
  trace_kernel<<<1, kThreads, 0, s>>>(a, n, lda, out);
  check_launch("trace");
}
void launch_sum(cudaStream_t s, const double* values, int n, double* out, double* square_out) {
  sum_kernel<<<1, kThreads, 0, s>>>(values, n, out, square_out);
  check_launch("sum");
}
void launch_mark_non_finite(cudaStream_t s, const float* x, size_t n, float* flag) {
  if (n == 0) return;
  mark_non_finite_kernel<<<grid_for(n), kThreads, 0, s>>>(x, n, flag);
  check_launch("mark_non_finite");
}
void launch_first_non_finite(cudaStream_t s, const float* x, size_t n, unsigned long long* out) {
  if (n == 0) return;
  first_non_finite_kernel<<<grid_for(n), kThreads, 0, s>>>(x, n, out);
  check_launch("first_non_finite");
}

void launch_im2col(cudaStream_t s, const PatchShape& shape, const float* x, int m, float* patches) {
  im2col_kernel<<<grid_for((size_t)m * shape.locations() * (shape.patch_size() + 1)), kThreads, 0, s>>>(shape, x, m, patches);
  check_launch("im2col");
}
void launch_col2im(cudaStream_t s, const PatchShape& shape, const float* dpatches, int ld, int m, float* dx) {
  col2im_kernel<<<grid_for((size_t)m * shape.in.size()), kThreads, 0, s>>>(shape, dpatches, ld, m, dx);
  check_launch("col2im");
}
void launch_pool_forward(cudaStream_t s, const PoolShape& shape, const float* x, int m, float* y, int ldy) {
  pool_forward_kernel<<<grid_for((size_t)m * shape.in_size()), kThreads, 0, s>>>(shape, x, m, y, ldy);
  check_launch("pool_forward");
}
void launch_pool_backward(cudaStream_t s, const PoolShape& shape, const float* x, const float* dy, int lddy, int m,
                          float* dx) {
  pool_backward_kernel<<<grid_for((size_t)m * shape.in_size()), kThreads, 0, s>>>(shape, x, dy, lddy, m, dx);
  check_launch("pool_backward");
}

}  // namespace kb::cuda
