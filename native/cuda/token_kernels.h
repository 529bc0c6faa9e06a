// The CUDA backend's kernels for the token layers (algorithm.md §18.9): row copies, sums and products, ids checked
// and expanded, the embedding's two-hot rows, layer norm, attention's causal softmax and its backward, and
// dropout masks. The attention's products are strided-batched GEMMs, queued by the backend (cuda_backend.cu).
// Each launcher enqueues on the stream and checks the launch; none synchronizes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../rules/token_shapes.h"

namespace kb::cuda {

enum class RowOp { Copy, Add, Multiply };
// out = a (Copy), a + b, a ⊙ b over rows x width values with their own row strides.
void launch_row_op(cudaStream_t s, RowOp op, const float* a, int lda, const float* b, int ldb, float* out, int ldo,
                   size_t rows, int width);
// out[0] = min(out[0], r·cols + c) over the invalid ids (valid_token_id); out must be UINT64_MAX first.
void launch_first_bad_id(cudaStream_t s, const float* ids, int rows, int cols, int ld, int classes,
                         unsigned long long* out);
void launch_one_hot(cudaStream_t s, const float* ids, size_t count, int classes, float* out);
// Backend::embedding_forward: abar's two-hot rows and h = out = W abar, read as the three columns it sums.
void launch_embedding_forward(cudaStream_t s, const EmbeddingShape& shape, const float* ids, int ld_ids, int m,
                              const float* w, float* abar, float* h, float* out, int ldo);
// Backend::layer_norm_forward: one block per row, its mean and variance summed in double.
void launch_layer_norm_forward(cudaStream_t s, const float* x, int ldx, int rows, int width, const float* w,
                               float* xhat, float* inv_std, float* y, int ldy);
// Backend::layer_norm_backward: the weight gradient one column per thread over the rows in order (as the CPU
// sums), dx one block per row.
void launch_layer_norm_backward(cudaStream_t s, const float* g, int ldg, const float* xhat, const float* inv_std,
                                int rows, int width, const float* w, int batch, float* weight_grad, float* dx,
                                int lddx);
// P (m·heads·T rows of T scores q·k/√dh, masked entries ignored) → the causal softmax in place, masked
// entries 0 (§18.4).
void launch_causal_softmax(cudaStream_t s, int rows, int tokens, float* P);
// dS = P ⊙ (dP − Σ_s' P dP) · scale on the visible entries, 0 elsewhere, written over dP.
void launch_causal_softmax_backward(cudaStream_t s, int rows, int tokens, float scale, const float* P, float* dP);
// Backend::dropout_mask, its pass count read from counter.
void launch_dropout_mask(cudaStream_t s, double rate, uint64_t seed, const float* counter, uint64_t first,
                         size_t count, float* mask);

}  // namespace kb::cuda
