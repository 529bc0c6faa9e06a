// Module entry: the only place that lists what the addon exports (typed in lib/binding.ts).
#include <napi.h>

#include "../core/backend.h"
#include "backend_ops.h"
#include "boundary.h"
#include "curvature_ops.h"
#include "devices_ops.h"
#include "distributed_ops.h"
#include "geometry_ops.h"
#include "model.h"

namespace {

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsNumber()) kb::cpu_backend().set_threads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), kb::cpu_backend().threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using kb::napi::exported_function;
  exports.Set("NativeModel", kb::napi::Model::Define(env));
  exports.Set("backend", kb::napi::BackendOps(env, kb::cpu_backend()));
  exports.Set("backendOps", exported_function(env, "backendOps", kb::napi::BackendOpsFor));
  exports.Set("probeCuda", exported_function(env, "probeCuda", kb::napi::ProbeCuda));
  exports.Set("blasKernels", exported_function(env, "blasKernels", kb::napi::BlasKernels));
  exports.Set("useBlasKernels", exported_function(env, "useBlasKernels", kb::napi::UseBlasKernels));
  exports.Set("chooseBlasKernels", exported_function(env, "chooseBlasKernels", kb::napi::ChooseBlasKernels));
  exports.Set("convGeometry", exported_function(env, "convGeometry", kb::napi::ConvGeometry));
  exports.Set("poolGeometry", exported_function(env, "poolGeometry", kb::napi::PoolGeometry));
  exports.Set("curvature", kb::napi::CurvatureOps(env));
  exports.Set("threads", exported_function(env, "threads", SetThreads));
  exports.Set("distributedInit", exported_function(env, "distributedInit", kb::napi::DistributedInit));
  exports.Set("distributedFinalize", exported_function(env, "distributedFinalize", kb::napi::DistributedFinalize));
  return exports;
}

}  // namespace

NODE_API_MODULE(kbfgs_native, Init)
