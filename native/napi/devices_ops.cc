// The CUDA search report as a plain object for lib/devices.ts.
#include "devices_ops.h"

#include <string>
#include <vector>

#include "../core/devices.h"
#include "../cpu/blas_kernels.h"
#include "../cpu/onednn_conv.h"

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

Napi::Object cpu_description(Napi::Env env, const cpu::CpuDescription& cpu) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", cpu.arch);
  o.Set("vendor", cpu.vendor);
  o.Set("family", cpu.family);
  o.Set("model", cpu.model);
  o.Set("features", strings(env, cpu.features));
  return o;
}

std::string string_field(const Napi::Object& o, const char* key) {
  const Napi::Value value = o.Get(key);
  if (!value.IsString()) throw Napi::TypeError::New(o.Env(), std::string("cpu.") + key + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Value BlasKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cpu::BlasReport& r = cpu::use_best_blas_kernels();
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", r.library);
  o.Set("version", r.version);
  o.Set("config", r.config);
  o.Set("switchable", r.switchable);
  o.Set("kernels", r.kernels);
  o.Set("openblasChoice", r.openblas_choice);
  o.Set("chosenBy", r.chosen_by);
  o.Set("reason", r.reason);
  o.Set("cpu", cpu_description(env, r.cpu));
  o.Set("executable", strings(env, r.executable));
  o.Set("convolutions", cpu::onednn_conv_status());  // whether oneDNN's direct kernels are used (§12.7)
  return o;
}

Napi::Value UseBlasKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "useBlasKernels(family: string)");
  const std::string family = info[0].As<Napi::String>().Utf8Value();
  return Napi::String::New(env, cpu::use_blas_kernels(family));
}

Napi::Value ChooseBlasKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsString() || !info[2].IsString())
    throw Napi::TypeError::New(env, "chooseBlasKernels(cpu, version, openblasChoice)");
  const Napi::Object in = info[0].As<Napi::Object>();
  cpu::CpuDescription cpu;
  cpu.arch = string_field(in, "arch");
  cpu.vendor = string_field(in, "vendor");
  const Napi::Value features = in.Get("features");
  if (!features.IsArray()) throw Napi::TypeError::New(env, "cpu.features must be an array of strings");
  const Napi::Array list = features.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsString()) throw Napi::TypeError::New(env, "cpu.features must be an array of strings");
    cpu.features.push_back(list.Get(i).As<Napi::String>().Utf8Value());
  }
  const std::string version = info[1].As<Napi::String>().Utf8Value();
  const cpu::KernelChoice choice = cpu::choose_kernel_family(cpu, version, info[2].As<Napi::String>().Utf8Value());
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernels", choice.family);
  o.Set("replaces", choice.replaces);
  o.Set("reason", choice.reason);
  o.Set("executable", strings(env, cpu::executable_kernel_families(cpu, version)));
  return o;
}

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
