// Exposes each Backend operation on Float32Arrays, so test/backend.test.ts can check every op against a
// naive loop (and, later, every backend against the CPU). Lengths are checked so a wrong call throws
// instead of reading out of bounds.
#include "backend_ops.h"

#include "../core/backend.h"
#include "convert.h"

namespace kb::napi {
namespace {

Backend& be() { return cpu_backend(); }

float* arr(const Napi::CallbackInfo& info, size_t i, size_t need) {
  Napi::Float32Array a = float32_arg(info[i], "argument");
  if (a.ElementLength() < need)
    throw_invalid(info.Env(), "argument " + std::to_string(i) + " has " + std::to_string(a.ElementLength()) +
                                  " values, needs " + std::to_string(need));
  return a.Data();
}
int num(const Napi::CallbackInfo& info, size_t i) { return int_arg(info, i, "size"); }
float fnum(const Napi::CallbackInfo& info, size_t i) { return (float)info[i].As<Napi::Number>().DoubleValue(); }
bool flag(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean(); }
size_t span(int rows, int cols, int ld) { return rows == 0 ? 0 : (size_t)(rows - 1) * ld + cols; }

// gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
void Gemm(const Napi::CallbackInfo& info) {
  const bool ta = flag(info, 0), tb = flag(info, 1);
  const int m = num(info, 2), n = num(info, 3), k = num(info, 4), lda = num(info, 7), ldb = num(info, 9),
            ldc = num(info, 12);
  const float* a = arr(info, 6, ta ? span(k, m, lda) : span(m, k, lda));
  const float* b = arr(info, 8, tb ? span(n, k, ldb) : span(k, n, ldb));
  float* c = arr(info, 11, span(m, n, ldc));
  be().gemm(ta, tb, m, n, k, fnum(info, 5), a, lda, b, ldb, fnum(info, 10), c, ldc);
}
// syrk(trans, n, k, alpha, A, lda, beta, C, ldc)
void Syrk(const Napi::CallbackInfo& info) {
  const bool t = flag(info, 0);
  const int n = num(info, 1), k = num(info, 2), lda = num(info, 5), ldc = num(info, 8);
  const float* a = arr(info, 4, t ? span(k, n, lda) : span(n, k, lda));
  be().syrk(t, n, k, fnum(info, 3), a, lda, fnum(info, 6), arr(info, 7, span(n, n, ldc)), ldc);
}
// gemv(trans, m, n, alpha, A, lda, x, beta, y)
void Gemv(const Napi::CallbackInfo& info) {
  const bool t = flag(info, 0);
  const int m = num(info, 1), n = num(info, 2), lda = num(info, 5);
  be().gemv(t, m, n, fnum(info, 3), arr(info, 4, span(m, n, lda)), lda, arr(info, 6, t ? m : n), fnum(info, 7),
            arr(info, 8, t ? n : m));
}
// ger(m, n, alpha, x, y, A, lda)
void Ger(const Napi::CallbackInfo& info) {
  const int m = num(info, 0), n = num(info, 1), lda = num(info, 6);
  be().ger(m, n, fnum(info, 2), arr(info, 3, m), arr(info, 4, n), arr(info, 5, span(m, n, lda)), lda);
}
// potrf(n, A) / potri(n, A) -> info
Napi::Value Potrf(const Napi::CallbackInfo& info) {
  const int n = num(info, 0);
  return Napi::Number::New(info.Env(), be().potrf(n, arr(info, 1, (size_t)n * n), n));
}
Napi::Value Potri(const Napi::CallbackInfo& info) {
  const int n = num(info, 0);
  return Napi::Number::New(info.Env(), be().potri(n, arr(info, 1, (size_t)n * n), n));
}
// potrs(n, nrhs, L, B)
Napi::Value Potrs(const Napi::CallbackInfo& info) {
  const int n = num(info, 0), nrhs = num(info, 1);
  return Napi::Number::New(info.Env(),
                           be().potrs(n, nrhs, arr(info, 2, (size_t)n * n), n, arr(info, 3, (size_t)n * nrhs), nrhs));
}
// activationForward(act, h, m, d, out) / activationBackward(act, h, m, d, g)
void ActivationForward(const Napi::CallbackInfo& info) {
  const int act = num(info, 0), m = num(info, 2), d = num(info, 3);
  if (act < 0 || act > 3) throw_invalid(info.Env(), "unknown activation");
  be().activation_forward((Activation)act, arr(info, 1, (size_t)m * d), m, d, d, arr(info, 4, (size_t)m * d), d);
}
void ActivationBackward(const Napi::CallbackInfo& info) {
  const int act = num(info, 0), m = num(info, 2), d = num(info, 3);
  if (act < 0 || act > 3) throw_invalid(info.Env(), "unknown activation");
  be().activation_backward((Activation)act, arr(info, 1, (size_t)m * d), m, d, arr(info, 4, (size_t)m * d), d);
}
// loss(kind, z, t, m, d, grad|null) -> summed loss
Napi::Value LossOp(const Napi::CallbackInfo& info) {
  const int kind = num(info, 0), m = num(info, 3), d = num(info, 4);
  if (kind < 0 || kind > 2) throw_invalid(info.Env(), "unknown loss");
  const size_t n = (size_t)m * d;
  float* grad = info[5].IsNull() || info[5].IsUndefined() ? nullptr : arr(info, 5, n);
  return Napi::Number::New(info.Env(), be().loss((Loss)kind, arr(info, 1, n), arr(info, 2, n), m, d, grad));
}
// columnMean(A, m, cols, out)
void ColumnMean(const Napi::CallbackInfo& info) {
  const int m = num(info, 1), cols = num(info, 2);
  be().column_mean(arr(info, 0, (size_t)m * cols), m, cols, cols, arr(info, 3, cols));
}
// firstOrderUpdate(settings, theta, grad, m, v)
void FirstOrder(const Napi::CallbackInfo& info) {
  Napi::Object s = info[0].As<Napi::Object>();
  FirstOrderUpdate u;
  u.kind = (FirstOrderUpdate::Kind)(int)number_field(s, "kind", 0);
  u.paper = s.Get("paper").ToBoolean();
  u.lr = (float)number_field(s, "lr", 0);
  u.beta1 = (float)number_field(s, "beta1", 0);
  u.beta2 = (float)number_field(s, "beta2", 0);
  u.eps = (float)number_field(s, "eps", 0);
  u.weight_decay = (float)number_field(s, "weightDecay", 0);
  u.dampening = (float)number_field(s, "dampening", 0);
  u.rms_momentum = (float)number_field(s, "rmsMomentum", 0);
  u.nesterov = s.Get("nesterov").ToBoolean();
  u.first_step = s.Get("firstStep").ToBoolean();
  u.step = (int64_t)number_field(s, "step", 1);
  const size_t n = float32_arg(info[1], "theta").ElementLength();
  be().first_order_update(u, n, arr(info, 1, n), arr(info, 2, n), arr(info, 3, n), arr(info, 4, n));
}

}  // namespace

Napi::Object BackendOps(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", be().name());
  o.Set("gemm", Napi::Function::New(env, Gemm));
  o.Set("syrk", Napi::Function::New(env, Syrk));
  o.Set("gemv", Napi::Function::New(env, Gemv));
  o.Set("ger", Napi::Function::New(env, Ger));
  o.Set("potrf", Napi::Function::New(env, Potrf));
  o.Set("potri", Napi::Function::New(env, Potri));
  o.Set("potrs", Napi::Function::New(env, Potrs));
  o.Set("activationForward", Napi::Function::New(env, ActivationForward));
  o.Set("activationBackward", Napi::Function::New(env, ActivationBackward));
  o.Set("loss", Napi::Function::New(env, LossOp));
  o.Set("columnMean", Napi::Function::New(env, ColumnMean));
  o.Set("firstOrderUpdate", Napi::Function::New(env, FirstOrder));
  return o;
}

}  // namespace kb::napi
