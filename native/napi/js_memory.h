// Writes the engine makes into a JS typed array, made visible to JS. Natively Data() is the array's own memory
// and there is nothing to do. On WebAssembly (emnapi) a typed array made in JS lives outside the module's
// memory: Data() is a copy inside it, refreshed from JS each time the array is fetched, and what the engine
// wrote there reaches JS only through publish(). It takes the plain value: fetching the array again (As<...>())
// would first refresh the copy from JS, over what the engine wrote.
#pragma once

#include <napi.h>

#ifdef __EMSCRIPTEN__
#include <emnapi.h>
#endif

namespace kb::napi {

inline void publish(const Napi::Value& array) {
#ifdef __EMSCRIPTEN__
  napi_value value = array;
  if (emnapi_sync_memory(array.Env(), false, &value, 0, NAPI_AUTO_LENGTH) != napi_ok)
    throw Napi::Error::New(array.Env(), "could not copy the engine's result into the JS array");
#else
  (void)array;
#endif
}

}  // namespace kb::napi
