#pragma once
#include <napi.h>
namespace kb::napi {
// The object behind `binding.backend` (lib/binding.ts): every Backend op on Float32Arrays.
Napi::Object BackendOps(Napi::Env env);
}  // namespace kb::napi
