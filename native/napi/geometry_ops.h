#pragma once
#include <napi.h>
namespace kb::napi {
// binding.convGeometry(where, [channels, height, width], kernelH, kernelW, stride, padding) -> [height, width]
// of the output, or the engine's InvalidArgument error: lib/layers.ts plans layers by the engine's own rule.
Napi::Value ConvGeometry(const Napi::CallbackInfo& info);
// binding.poolGeometry(where, [channels, height, width], sizeH, sizeW, strideH, strideW) -> [height, width].
Napi::Value PoolGeometry(const Napi::CallbackInfo& info);
}  // namespace kb::napi
