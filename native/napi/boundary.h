// The one exception boundary between the engine and JavaScript. Every entry point (constructors, methods,
// test ops) runs behind at_boundary; every worker-thread body behind capture_failure. Whatever the engine
// throws (kb::Error, std::bad_alloc, any std::exception) leaves as a JS error whose `code` lib/errors.ts maps
// onto a typed class; nothing escapes into node-addon-api or libuv, where it would abort the process.
#pragma once

#include <napi.h>

#include <new>
#include <optional>
#include <string>
#include <utility>

#include "../core/errors.h"
#include "convert.h"

namespace kb::napi {

struct Failure {
  std::string code;
  std::string message;
};

// What the exception being handled means for a caller. Call only inside a catch block.
inline Failure current_failure() {
  try {
    throw;
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {error_code(ErrorKind::OutOfMemory), "out of memory: a native allocation failed"};
  } catch (const std::exception& e) {
    return {error_code(ErrorKind::Internal), e.what()};
  } catch (...) {
    return {error_code(ErrorKind::Internal), "unknown native exception"};
  }
}

// Off the JS thread: runs work and returns what it threw, if anything. Never throws.
template <typename Work>
std::optional<Failure> capture_failure(Work&& work) noexcept {
  try {
    std::forward<Work>(work)();
    return std::nullopt;
  } catch (...) {
    return current_failure();
  }
}

// On the JS thread: runs fn; a Napi::Error (already a JS error) passes, anything else becomes one.
template <typename Fn>
decltype(auto) at_boundary(Napi::Env env, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const Failure f = current_failure();
    throw make_error(env, f.code.c_str(), f.message);
  }
}

// Code that calls into JS from a libuv callback (a promise settling, a progress event). While a worker or the
// process tears its environment down, every such call fails; then there is nobody left to tell, so the
// failure is swallowed and reported as false instead of escaping into libuv.
template <typename Fn>
bool call_into_js(Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
    return true;
  } catch (...) {
    return false;
  }
}

// A free function exported to JS, behind the boundary; data is what info.Data() returns.
using EntryPoint = Napi::Value (*)(const Napi::CallbackInfo&);
inline Napi::Function exported_function(Napi::Env env, const char* name, EntryPoint fn, void* data = nullptr) {
  return Napi::Function::New(
      env, [fn](const Napi::CallbackInfo& info) { return at_boundary(info.Env(), [&] { return fn(info); }); }, name,
      data);
}

}  // namespace kb::napi
