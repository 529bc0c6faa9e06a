// Kernels of the token layers (algorithm.md §18.9) on the CUDA backend. Where the CPU sums in double
// (cpu/token_ops.cc) these sum in double too, by block-wide reductions in a fixed order, so a result does not
// change from run to run; the sums over rows of the layer norm's weight gradient run in the CPU's row order.
#include "token_kernels.h"

#include "../rules/rng.h"
#include "kernel_helpers.cuh"

namespace kb::cuda {
namespace {

__global__ void row_op_kernel(RowOp op, const float* a, int lda, const float* b, int ldb, float* out, int ldo,
                              size_t rows, int width) {
  KB_GRID_STRIDE(i, rows * width) {
    const size_t r = i / width, c = i % width;
    const float x = a[r * lda + c];
    out[r * ldo + c] = op == RowOp::Copy ? x : op == RowOp::Add ? x + b[r * ldb + c] : x * b[r * ldb + c];
  }
}

__global__ void first_bad_id_kernel(const float* ids, int rows, int cols, int ld, int classes, unsigned long long* out) {
  KB_GRID_STRIDE(i, (size_t)rows * cols) {
    if (!valid_token_id(ids[(i / cols) * ld + i % cols], classes)) {
      atomicMin(out, (unsigned long long)i);
      return;  // later entries of this thread's share cannot be first
    }
  }
}

__global__ void one_hot_kernel(const float* ids, size_t count, int classes, float* out) {
  KB_GRID_STRIDE(i, count * classes) out[i] = (int)(i % classes) == (int)ids[i / classes] ? 1.0f : 0.0f;
}

// Thread per (token row r, column j) of abar, and per (r, output c) of h: c < width.
__global__ void embedding_forward_kernel(EmbeddingShape s, const float* ids, int ld_ids, int m, const float* w,
                                         float* abar, float* h, float* out, int ldo) {
  const int n = s.cols();
  const size_t rows = (size_t)m * s.tokens, per_row = (size_t)n + s.width;
  KB_GRID_STRIDE(i, rows * per_row) {
    const size_t r = i / per_row;
    const int j = (int)(i % per_row), t = (int)(r % s.tokens), v = (int)ids[(r / s.tokens) * ld_ids + t];
    if (j < n) {
      abar[r * n + j] = j == v || j == n - 1 || (s.positional && j == s.vocabulary + t) ? 1.0f : 0.0f;
    } else {
      const int c = j - n;
      const float* wc = w + (size_t)c * n;
      const float value = wc[v] + (s.positional ? wc[s.vocabulary + t] : 0.0f) + wc[n - 1];  // the CPU's order
      h[r * s.width + c] = value;
      out[r * ldo + c] = value;
    }
  }
}

constexpr double kLayerNormEpsilon = 1e-5;

__global__ void layer_norm_forward_kernel(const float* x, int ldx, int width, const float* w, float* xhat,
                                          float* inv_std, float* y, int ldy) {
  const int r = blockIdx.x;
  const float* xr = x + (size_t)r * ldx;
  double part = 0;
  for (int c = threadIdx.x; c < width; c += blockDim.x) part += xr[c];
  const double mean = block_sum(part) / width;
  part = 0;
  for (int c = threadIdx.x; c < width; c += blockDim.x) part += (xr[c] - mean) * (xr[c] - mean);
  const double var = block_sum(part);
  const float inv = (float)(1.0 / sqrt(var / width + kLayerNormEpsilon));
  if (threadIdx.x == 0) inv_std[r] = inv;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    const float xh = (float)((xr[c] - mean) * inv);
    xhat[(size_t)r * width + c] = xh;
    y[(size_t)r * ldy + c] = w[2 * c] * xh + w[2 * c + 1];
  }
}

__global__ void layer_norm_weight_gradient_kernel(const float* g, int ldg, const float* xhat, int rows, int width,
                                                  int batch, float* weight_grad) {
  KB_GRID_STRIDE(c, (size_t)width) {
    float gain = 0, bias = 0;
    for (int r = 0; r < rows; ++r) {
      const float gr = g[(size_t)r * ldg + c];
      gain += gr * xhat[(size_t)r * width + c] / batch;
      bias += gr / batch;
    }
    weight_grad[2 * c] = gain;
    weight_grad[2 * c + 1] = bias;
  }
}

// dx = inv_std (dx̂ − mean(dx̂) − x̂ mean(dx̂ ⊙ x̂)), dx̂ = γ ⊙ g (§18.2)
__global__ void layer_norm_input_gradient_kernel(const float* g, int ldg, const float* xhat, const float* inv_std,
                                                 int width, const float* w, float* dx, int lddx) {
  const int r = blockIdx.x;
  const float* gr = g + (size_t)r * ldg;
  const float* xr = xhat + (size_t)r * width;
  double d_part = 0, dx_part = 0;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    const double d = w[2 * c] * gr[c];
    d_part += d;
    dx_part += d * xr[c];
  }
  const double mean_d = block_sum(d_part) / width, mean_dx = block_sum(dx_part) / width;
  for (int c = threadIdx.x; c < width; c += blockDim.x)
    dx[(size_t)r * lddx + c] = (float)(inv_std[r] * (w[2 * c] * gr[c] - mean_d - xr[c] * mean_dx));
}

// One block per row of P: row t of a (sample, head) pair sees positions 0..t (§18.4).
__global__ void causal_softmax_kernel(int tokens, float* P) {
  const size_t row = blockIdx.x;
  const int t = (int)(row % tokens);
  float* p = P + row * tokens;
  float top = -INFINITY;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) top = fmaxf(top, p[u]);
  top = block_max(top);
  double part = 0;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) part += p[u] = expf(p[u] - top);
  const double sum = block_sum(part);
  for (int u = threadIdx.x; u < tokens; u += blockDim.x) p[u] = u <= t ? (float)(p[u] / sum) : 0.0f;
}

__global__ void causal_softmax_backward_kernel(int tokens, float scale, const float* P, float* dP) {
  const size_t row = blockIdx.x;
  const int t = (int)(row % tokens);
  const float* p = P + row * tokens;
  float* d = dP + row * tokens;
  double part = 0;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) part += (double)p[u] * d[u];
  const double mean = block_sum(part);
  for (int u = threadIdx.x; u < tokens; u += blockDim.x) d[u] = u <= t ? (float)(p[u] * (d[u] - mean)) * scale : 0.0f;
}

__global__ void dropout_mask_kernel(double rate, uint64_t seed, const float* counter, uint64_t first, size_t count,
                                    float* mask) {
  const uint64_t pass_seed = splitmix64_mix(seed + load_counter(counter) * 0x9E3779B97F4A7C15ull);
  KB_GRID_STRIDE(k, count) mask[k] = uniform_at(pass_seed, first + k) < rate ? 0.0f : (float)(1.0 / (1.0 - rate));
}

}  // namespace

void launch_row_op(cudaStream_t s, RowOp op, const float* a, int lda, const float* b, int ldb, float* out, int ldo,
                   size_t rows, int width) {
  if (rows == 0 || width == 0) return;
  row_op_kernel<<<grid_for(rows * width), kThreads, 0, s>>>(op, a, lda, b, ldb, out, ldo, rows, width);
  check_launch("row_op");
}
void launch_first_bad_id(cudaStream_t s, const float* ids, int rows, int cols, int ld, int classes,
                         unsigned long long* out) {
  if (rows <= 0 || cols <= 0) return;
  first_bad_id_kernel<<<grid_for((size_t)rows * cols), kThreads, 0, s>>>(ids, rows, cols, ld, classes, out);
  check_launch("first_bad_id");
}
void launch_one_hot(cudaStream_t s, const float* ids, size_t count, int classes, float* out) {
  if (count == 0) return;
  one_hot_kernel<<<grid_for(count * classes), kThreads, 0, s>>>(ids, count, classes, out);
  check_launch("one_hot");
}
void launch_embedding_forward(cudaStream_t s, const EmbeddingShape& shape, const float* ids, int ld_ids, int m,
                              const float* w, float* abar, float* h, float* out, int ldo) {
  const size_t n = (size_t)m * shape.tokens * (shape.cols() + shape.width);
  if (n == 0) return;
  embedding_forward_kernel<<<grid_for(n), kThreads, 0, s>>>(shape, ids, ld_ids, m, w, abar, h, out, ldo);
  check_launch("embedding_forward");
}
void launch_layer_norm_forward(cudaStream_t s, const float* x, int ldx, int rows, int width, const float* w,
                               float* xhat, float* inv_std, float* y, int ldy) {
  if (rows == 0) return;
  layer_norm_forward_kernel<<<rows, kThreads, 0, s>>>(x, ldx, width, w, xhat, inv_std, y, ldy);
  check_launch("layer_norm_forward");
}
void launch_layer_norm_backward(cudaStream_t s, const float* g, int ldg, const float* xhat, const float* inv_std,
                                int rows, int width, const float* w, int batch, float* weight_grad, float* dx,
                                int lddx) {
  if (weight_grad) {
    layer_norm_weight_gradient_kernel<<<grid_for(width), kThreads, 0, s>>>(g, ldg, xhat, rows, width, batch, weight_grad);
    check_launch("layer_norm_weight_gradient");
  }
  if (dx && rows > 0) {
    layer_norm_input_gradient_kernel<<<rows, kThreads, 0, s>>>(g, ldg, xhat, inv_std, width, w, dx, lddx);
    check_launch("layer_norm_input_gradient");
  }
}
void launch_causal_softmax(cudaStream_t s, int rows, int tokens, float* P) {
  if (rows == 0) return;
  causal_softmax_kernel<<<rows, kThreads, 0, s>>>(tokens, P);
  check_launch("causal_softmax");
}
void launch_causal_softmax_backward(cudaStream_t s, int rows, int tokens, float scale, const float* P, float* dP) {
  if (rows == 0) return;
  causal_softmax_backward_kernel<<<rows, kThreads, 0, s>>>(tokens, scale, P, dP);
  check_launch("causal_softmax_backward");
}
void launch_dropout_mask(cudaStream_t s, double rate, uint64_t seed, const float* counter, uint64_t first,
                         size_t count, float* mask) {
  if (count == 0) return;
  dropout_mask_kernel<<<grid_for(count), kThreads, 0, s>>>(rate, seed, counter, first, count, mask);
  check_launch("dropout_mask");
}

}  // namespace kb::cuda
