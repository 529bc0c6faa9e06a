// What the CUDA backend's kernel files share: the block size, the grid for n elements, the launch check, the
// grid-stride loop and block-wide reductions. Internal to each file that includes it.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "../core/errors.h"

#define KB_GRID_STRIDE(i, n) \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)blockDim.x * gridDim.x)

namespace kb::cuda {
namespace {

constexpr int kThreads = 256;

int grid_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return (int)(blocks < 1 ? 1 : blocks > 8192 ? 8192 : blocks);
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw Error(ErrorKind::Device, std::string("CUDA kernel ") + kernel + ": " + cudaGetErrorString(e));
}

// Block-wide sum / max of one value per thread (blockDim.x == kThreads); every thread gets the result.
__device__ double block_sum(double v) {
  __shared__ double cell[kThreads];
  cell[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if ((int)threadIdx.x < half) cell[threadIdx.x] += cell[threadIdx.x + half];
    __syncthreads();
  }
  const double total = cell[0];
  __syncthreads();
  return total;
}
__device__ float block_max(float v) {
  __shared__ float cell[kThreads];
  cell[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if ((int)threadIdx.x < half) cell[threadIdx.x] = fmaxf(cell[threadIdx.x], cell[threadIdx.x + half]);
    __syncthreads();
  }
  const float result = cell[0];
  __syncthreads();
  return result;
}

}  // namespace
}  // namespace kb::cuda
