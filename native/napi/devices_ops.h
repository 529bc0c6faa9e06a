#pragma once
#include <napi.h>
namespace kb::napi {
// binding.probeCuda(dirs): loads the CUDA libraries once and reports what was found (lib/devices.ts).
Napi::Value ProbeCuda(const Napi::CallbackInfo& info);
}  // namespace kb::napi
