// The token layers' passes on the CPU (algorithm.md §18), split over `threads` so that every value is computed
// by the same operations whatever the thread count (§18.8). The CUDA backend's kernels
// (cuda/token_kernels.cu) compute the same quantities; test/parity/cuda-parity.js compares the two.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../rules/token_shapes.h"

namespace kb::cpu {

void embedding_forward(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float* w, float* abar,
                       float* h, float* out, int ldo, int threads);
void embedding_weight_gradient(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float* g,
                               int ldg, float scale, float* weight_grad, int threads);
void layer_norm_forward(const float* x, int ldx, int rows, int width, const float* w, float* xhat, float* inv_std,
                        float* y, int ldy, int threads);
void layer_norm_backward(const float* g, int ldg, const float* xhat, const float* inv_std, int rows, int width,
                         const float* w, int batch, float* weight_grad, float* dx, int lddx, int threads);
void attention_forward(const AttentionShape& shape, const float* qkv, int ld, int m, float* P, float* out, int ldo,
                       int threads);
void attention_backward(const AttentionShape& shape, const float* qkv, int ld, const float* P, const float* dout,
                        int lddout, int m, float* dqkv, int lddqkv, int threads);
void dropout_mask(double rate, uint64_t seed, uint64_t passes, uint64_t first, size_t count, float* mask);

}  // namespace kb::cpu
