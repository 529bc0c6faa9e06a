// Marks functions that compile both for the host and, in native/cuda, as CUDA device code, so both backends
// run the same scalar rules and draws.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define KB_HOST_DEVICE __host__ __device__
#else
#define KB_HOST_DEVICE
#endif

namespace kb {

KB_HOST_DEVICE inline bool is_finite(double x) {
#ifdef __CUDA_ARCH__
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

}  // namespace kb
