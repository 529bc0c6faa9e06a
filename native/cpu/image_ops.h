// The image layers' data movement on the CPU (algorithm.md §12.1): im2col and its adjoint, pooling and its
// adjoint, looping so that contiguous channels are copied and added together. The sums are taken in the order
// the CUDA kernels take them (cuda/cuda_kernels.cu, rules/image_rules.h), so both backends give the same floats.
#pragma once

#include "../rules/image_geometry.h"

namespace kb::cpu {

void im2col(const PatchShape& shape, const float* x, int m, float* patches);
void col2im(const PatchShape& shape, const float* dpatches, int ld, int m, float* dx);
void pool_forward(const PoolShape& shape, const float* x, int m, float* y, int ldy);
void pool_backward(const PoolShape& shape, const float* x, const float* dy, int lddy, int m, float* dx);

}  // namespace kb::cpu
