#pragma once
#include <napi.h>
namespace kb::napi {
// binding.probeCuda(dirs): loads the CUDA libraries once and reports what was found (lib/devices.ts).
Napi::Value ProbeCuda(const Napi::CallbackInfo& info);
// binding.blasKernels(): the BLAS library and the kernel family the CPU backend runs (native/cpu/blas_kernels.h).
Napi::Value BlasKernels(const Napi::CallbackInfo& info);
// binding.useBlasKernels(family): runs that kernel family from now on (benchmarks, tests).
Napi::Value UseBlasKernels(const Napi::CallbackInfo& info);
// binding.chooseBlasKernels(cpu, version, openblasChoice): the choice rule on a recorded CPU, for tests.
Napi::Value ChooseBlasKernels(const Napi::CallbackInfo& info);
}  // namespace kb::napi
