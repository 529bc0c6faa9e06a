// cuBLAS and cuSOLVER, loaded at run time (dlopen) so one binary runs on machines with and without them.
//
// The build machines have nvcc and the CUDA runtime but no cuBLAS/cuSOLVER headers, so the few entry points
// used here are declared by hand from their documented C signatures: opaque handles, int enums with
// the documented values, int status (0 = success). Only the stable legacy 32-bit-index API is used; it is the
// same in CUDA 12 and 13.
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "../core/devices.h"

namespace kb::cuda {

using BlasHandle = struct BlasContext*;      // cublasHandle_t
using SolverHandle = struct SolverContext*;  // cusolverDnHandle_t

enum BlasOp : int { kNoTrans = 0, kTrans = 1 };  // cublasOperation_t
enum BlasFill : int { kLower = 0, kUpper = 1 };  // cublasFillMode_t
enum BlasSide : int { kLeft = 0, kRight = 1 };   // cublasSideMode_t
enum EigenMode : int { kEigenvaluesOnly = 0, kEigenvectors = 1 };  // cusolverEigMode_t
enum BlasDiag : int { kNonUnit = 0 };            // cublasDiagType_t
enum BlasMath : int { kDefaultMath = 0, kTf32Math = 3 };  // cublasMath_t

struct Api {
  // cuBLAS
  int (*blas_create)(BlasHandle*);
  int (*blas_destroy)(BlasHandle);
  int (*blas_set_stream)(BlasHandle, cudaStream_t);
  int (*blas_set_math_mode)(BlasHandle, int);
  int (*blas_get_property)(int, int*);
  int (*blas_set_workspace)(BlasHandle, void*, size_t);  // optional: null when the library lacks it
  int (*sgemm)(BlasHandle, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
               float*, int);
  // cublasSgemmStridedBatched: batchCount products, each operand advancing by its stride (long long) per product
  int (*sgemm_strided_batched)(BlasHandle, int, int, int, int, int, const float*, const float*, int, long long,
                               const float*, int, long long, const float*, float*, int, long long, int);
  int (*sgemv)(BlasHandle, int, int, int, const float*, const float*, int, const float*, int, const float*, float*,
               int);
  int (*sger)(BlasHandle, int, int, const float*, const float*, int, const float*, int, float*, int);
  int (*strsm)(BlasHandle, int, int, int, int, int, int, const float*, const float*, int, float*, int);
  // cuSOLVER (dense)
  int (*solver_create)(SolverHandle*);
  int (*solver_destroy)(SolverHandle);
  int (*solver_set_stream)(SolverHandle, cudaStream_t);
  int (*solver_get_property)(int, int*);
  int (*spotrf_buffer_size)(SolverHandle, int, int, float*, int, int*);
  int (*spotrf)(SolverHandle, int, int, float*, int, float*, int, int*);
  int (*spotrs)(SolverHandle, int, int, int, const float*, int, float*, int, int*);
  int (*ssyevd_buffer_size)(SolverHandle, int, int, int, const float*, int, const float*, int*);
  int (*ssyevd)(SolverHandle, int, int, int, float*, int, float*, float*, int, int*);
};

// Loads the libraries once (later calls return the first result); dirs are searched after the dynamic
// loader's own search (LD_LIBRARY_PATH, the system's cache). Thread-safe.
const DeviceReport& load(const std::vector<std::string>& dirs);
// The loaded entry points; only valid when load(...).available.
const Api& api();

}  // namespace kb::cuda
