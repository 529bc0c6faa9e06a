// Conversions between JS values and engine types, and the one way errors cross into JS.
#pragma once

#include <napi.h>

#include <string>

#include "../core/errors.h"

namespace kb::napi {

inline Napi::Error make_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

[[noreturn]] inline void throw_invalid(Napi::Env env, const std::string& message) {
  throw make_error(env, error_code(ErrorKind::InvalidArgument), message);
}

inline Napi::Float32Array float32_arg(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(value.Env(), std::string(what) + " must be a Float32Array");
  return value.As<Napi::Float32Array>();
}

inline double number_field(const Napi::Object& object, const char* key, double fallback) {
  Napi::Value v = object.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw_invalid(object.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A number the caller must give (the TypeScript layer holds every default).
inline double required_number(const Napi::Object& object, const char* key) {
  Napi::Value v = object.Get(key);
  if (!v.IsNumber()) throw_invalid(object.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline bool required_boolean(const Napi::Object& object, const char* key) {
  Napi::Value v = object.Get(key);
  if (!v.IsBoolean()) throw_invalid(object.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline int int_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw_invalid(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

}  // namespace kb::napi
