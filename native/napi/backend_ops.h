#pragma once
#include <napi.h>

#include "../core/backend.h"
namespace kb::napi {
// The object behind `binding.backend` (lib/binding.ts): every Backend op on Float32Arrays.
Napi::Object BackendOps(Napi::Env env, Backend& backend);
// binding.backendOps(device, tf32): the same for the named backend ('cpu' or 'cuda').
Napi::Value BackendOpsFor(const Napi::CallbackInfo& info);
}  // namespace kb::napi
