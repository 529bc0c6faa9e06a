// Exposes the curvature building blocks of optim/ (BFGS update, double damping, the L-BFGS operator) on
// Float32Arrays, so test/curvature.test.ts can check their algebra directly.
#include "curvature_ops.h"

#include <vector>

#include "../optim/bfgs.h"
#include "../optim/lbfgs.h"
#include "boundary.h"
#include "convert.h"
#include "js_memory.h"

namespace kb::napi {
namespace {

Backend& be() { return cpu_backend(); }

float* vec(const Napi::CallbackInfo& info, size_t i, size_t need, const char* what) {
  Napi::Float32Array a = float32_arg(info[i], what);
  if (a.ElementLength() != need)
    throw_invalid(info.Env(), std::string(what) + " must have " + std::to_string(need) + " values");
  return a.Data();
}

// bfgsUpdate(H, n, s, y, refNorm) -> updated; H (n x n) is updated in place.
Napi::Value BfgsUpdate(const Napi::CallbackInfo& info) {
  const int n = int_arg(info, 1, "n");
  float* h = vec(info, 0, (size_t)n * n, "H");
  const float* s = vec(info, 2, n, "s");
  const float* y = vec(info, 3, n, "y");
  std::vector<float> hy(n);
  be().gemv(false, n, n, 1.0f, h, n, y, 0.0f, hy.data());
  const float ref = (float)info[4].As<Napi::Number>().DoubleValue();  // ‖ref‖ of a one-element ref vector
  float skipped = 0;
  be().bfgs_update(n, h, s, y, hy.data(), &ref, 1, kBfgsSkipThreshold, nullptr, &skipped);
  publish(info[0]);
  return Napi::Boolean::New(info.Env(), skipped == 0);
}

// doubleDamping(H, d, s, y, mu2) -> { powell, lm, degenerate }; s and y are damped in place.
Napi::Value DoubleDamping(const Napi::CallbackInfo& info) {
  const int d = int_arg(info, 1, "d");
  const float* h = vec(info, 0, (size_t)d * d, "H");
  float* s = vec(info, 2, d, "s");
  float* y = vec(info, 3, d, "y");
  std::vector<float> hy(d);
  be().gemv(false, d, d, 1.0f, h, d, y, 0.0f, hy.data());
  float gate = 0, counts[2] = {0, 0};
  be().damp_pair(d, s, y, hy.data(), kPowellMu1, info[4].As<Napi::Number>().DoubleValue(), &gate, counts);
  publish(info[2]);
  publish(info[3]);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("powell", counts[0] > 0);
  o.Set("lm", counts[1] > 0);
  o.Set("degenerate", gate != 0);
  return o;
}

// lbfgsApply(d, memory, S (k x d), Y (k x d), k, refNorm, V (d x ncols), ncols, fixedShape) -> { out, size }:
// appends the k pairs in order, then returns H V (the products over all memory rows with fixedShape, as on a GPU).
Napi::Value LbfgsApply(const Napi::CallbackInfo& info) {
  const int d = int_arg(info, 0, "d"), memory = int_arg(info, 1, "memory"), k = int_arg(info, 4, "k");
  const int ncols = int_arg(info, 7, "ncols");
  if (d <= 0 || memory <= 0 || k < 0 || ncols <= 0) throw_invalid(info.Env(), "sizes must be positive");
  const float* s = vec(info, 2, (size_t)k * d, "S");
  const float* y = vec(info, 3, (size_t)k * d, "Y");
  const float* v = vec(info, 6, (size_t)d * ncols, "V");
  LbfgsOperator op;
  op.init(be(), d, memory, ncols, info[8].ToBoolean());
  const float ref = (float)info[5].As<Napi::Number>().DoubleValue();  // a one-value reference of norm |refNorm|
  float skipped = 0;
  for (int i = 0; i < k; ++i) op.append(s + (size_t)i * d, y + (size_t)i * d, &ref, 1, nullptr, &skipped);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)d * ncols);
  op.apply(v, ncols, out.Data());
  publish(out);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("out", out);
  o.Set("size", op.size());
  return o;
}

}  // namespace

Napi::Object CurvatureOps(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bfgsUpdate", exported_function(env, "bfgsUpdate", BfgsUpdate));
  o.Set("doubleDamping", exported_function(env, "doubleDamping", DoubleDamping));
  o.Set("lbfgsApply", exported_function(env, "lbfgsApply", LbfgsApply));
  return o;
}

}  // namespace kb::napi
