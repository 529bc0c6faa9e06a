// The CUDA search report as a plain object for lib/devices.ts.
#include "devices_ops.h"

#include <string>
#include <vector>

#include "../core/devices.h"

namespace kb::napi {
namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array a = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) a.Set((uint32_t)i, values[i]);
  return a;
}

Napi::Value library(Napi::Env env, const LibraryInfo& lib) {
  if (lib.path.empty()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", lib.path);
  o.Set("version", lib.version);
  return o;
}

}  // namespace

// probeCuda(dirs: string[]) -> { compiled, available, reason, runtimeVersion, driverVersion, devices, cublas,
//   cusolver, searched, missing }
Napi::Value ProbeCuda(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> dirs;
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString()) dirs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  const DeviceReport& r = probe_cuda(dirs);
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", r.compiled);
  o.Set("available", r.available);
  o.Set("reason", r.reason);
  o.Set("runtimeVersion", r.runtime_version);
  o.Set("driverVersion", r.driver_version);
  Napi::Array devices = Napi::Array::New(env, r.devices.size());
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const DeviceInfo& d = r.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("memoryBytes", d.memory_bytes);
    dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    devices.Set((uint32_t)i, dev);
  }
  o.Set("devices", devices);
  o.Set("cublas", library(env, r.cublas));
  o.Set("cusolver", library(env, r.cusolver));
  o.Set("searched", strings(env, r.searched));
  o.Set("missing", strings(env, r.missing));
  return o;
}

}  // namespace kb::napi
