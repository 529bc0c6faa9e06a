// The CUDA backend's own kernels: element-wise work, per-row losses, deterministic reductions.
// Each launcher enqueues on the given stream and checks the launch; none synchronizes. The element-wise
// formulas are those of rules/elementwise_rules.h, which the CPU backend uses too, built with --fmad=false so
// they round alike. Only the reductions are the GPU's own: block sums in double in a fixed order, and for
// sigmoid cross-entropy log1pf per element where the CPU takes the log of running products (one log per 16
// elements); the two agree to float rounding, which the parity suite checks.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../core/backend.h"

namespace kb::cuda {

void launch_fill(cudaStream_t s, float* x, float value, size_t n);
void launch_gather_rows(cudaStream_t s, float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows,
                        int count);
void launch_set_column(cudaStream_t s, float* a, int rows, int ld, int col, float value);
void launch_activation_forward(cudaStream_t s, Activation act, const float* h, int m, int d, int ldh, float* out,
                               int ldo);
void launch_activation_backward(cudaStream_t s, Activation act, const float* h, int m, int d, float* g, int ldg);
// Per-row summed losses into row_totals[m] (double); grad as Backend::loss.
void launch_row_losses(cudaStream_t s, Loss loss, const float* z, const float* t, int m, int d, float* grad,
                       double* row_totals);
void launch_link(cudaStream_t s, Loss loss, const float* z, int m, int d, float* out);
// The seed is `seed`, or, when seed_counter is not null, splitmix64_mix of the counter there (rules/rng.h).
void launch_sample_targets(cudaStream_t s, Loss loss, const float* z, int m, int d, uint64_t seed,
                           const float* seed_counter, uint64_t first, float* out);
void launch_advance_counter(cudaStream_t s, float* counter);  // the counter += 1
void launch_axpby(cudaStream_t s, size_t n, float alpha, const float* x, float beta, float* y);
void launch_add_diagonal(cudaStream_t s, float* a, int n, int lda, float value);
void launch_add_diagonal_from(cudaStream_t s, float* a, int n, int lda, const float* src, int stride);
void launch_mirror_lower(cudaStream_t s, float* a, int n, int lda);  // row-major lower triangle onto the upper
void launch_identity(cudaStream_t s, float* a, int n, int lda);
// bias1/bias2 are the host-computed bias corrections 1 - beta^step (as the CPU computes them).
void launch_first_order_update(cudaStream_t s, const FirstOrderUpdate& u, float bias1, float bias2, size_t n,
                               float* theta, const float* grad, float* m, float* v);
void launch_gradient_momentum(cudaStream_t s, size_t n, float rho, float tau, const float* theta, const float* grad,
                              float* m);
void launch_running_mean_of_squares(cudaStream_t s, size_t n, int j, float tau, const float* theta,
                                    const float* grad, float* v);

// Backend::damp_pair in one block (the vectors are layer widths, the work is a few dot products).
void launch_damp_pair(cudaStream_t s, int d, float* sv, float* y, const float* hy, double mu1, double mu2, float* gate,
                      float* counts);
// Backend::bfgs_update: one block decides (coefficients[3] = c_ss, −ρ, apply), then a grid applies the
// rank-two update reading them, so the host never waits.
void launch_bfgs_update(cudaStream_t s, int n, float* h, const float* sv, const float* y, const float* hy,
                        const float* ref, int ref_n, double threshold, const float* gate, float* skipped,
                        float* coefficients);
// Backend::lbfgs_append in one block: the decision from block-wide sums, then the rows moved and the pair copied.
void launch_lbfgs_append(cudaStream_t s, int d, int memory, float* s_rows, float* y_rows, const float* sv,
                         const float* y, const float* ref, int ref_n, double threshold, const float* gate, float* size,
                         float* skipped);
void launch_pad_diagonal(cudaStream_t s, float* a, int n, int lda, const float* count, float value);

// The image layers (Backend::im2col, col2im, pool_forward, pool_backward).
void launch_im2col(cudaStream_t s, const PatchShape& shape, const float* x, int m, float* patches);
void launch_col2im(cudaStream_t s, const PatchShape& shape, const float* dpatches, int ld, int m, float* dx);
void launch_pool_forward(cudaStream_t s, const PoolShape& shape, const float* x, int m, float* y, int ldy);
void launch_pool_backward(cudaStream_t s, const PoolShape& shape, const float* x, const float* dy, int lddy, int m,
                          float* dx);

// Reductions: out[0] receives the result in device memory. partials needs reduce_partials() doubles.
constexpr int kReduceBlocks = 256;
void launch_dot(cudaStream_t s, size_t n, const float* x, const float* y, double* partials, double* out);
void launch_trace(cudaStream_t s, const float* a, int n, int lda, double* out);
// Fixed order (deterministic); square_out, when not null, receives the sum of the squares.
void launch_sum(cudaStream_t s, const double* values, int n, double* out, double* square_out = nullptr);
// out[0] = index of the first non-finite entry, or UINT64_MAX; out must be set to UINT64_MAX first.
void launch_first_non_finite(cudaStream_t s, const float* x, size_t n, unsigned long long* out);
void launch_mark_non_finite(cudaStream_t s, const float* x, size_t n, float* flag);

}  // namespace kb::cuda
