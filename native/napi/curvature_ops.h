#pragma once
#include <napi.h>
namespace kb::napi {
// The object behind `binding.curvature` (lib/binding.ts): BFGS, double damping and L-BFGS on Float32Arrays.
Napi::Object CurvatureOps(Napi::Env env);
}  // namespace kb::napi
