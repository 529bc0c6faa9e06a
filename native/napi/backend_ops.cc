// Exposes each Backend operation on Float32Arrays, so test/backend.test.ts can check every op against a
// naive loop and test/cuda.test.ts every CUDA op against the CPU. Lengths are checked so a wrong call throws
// instead of reading out of bounds. On a GPU backend the arrays are copied to the device for the call and
// back afterwards; on the CPU the backend works on them in place.
#include "backend_ops.h"
#include "backend_op_args.h"

#include <vector>

#include "../core/backend.h"
#include "../core/layers/conv_passes.h"
#include "../rules/first_order_rule.h"
#include "../core/devices.h"
#include "../core/names.h"
#include "boundary.h"
#include "convert.h"
#include "js_memory.h"

namespace kb::napi {
namespace {

// gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const bool ta = a.flag(0), tb = a.flag(1);
    const int m = a.num(2), n = a.num(3), k = a.num(4), lda = a.num(7), ldb = a.num(9), ldc = a.num(12);
    const float* A = a.arr(6, ta ? span(k, m, lda) : span(m, k, lda));
    const float* B = a.arr(8, tb ? span(n, k, ldb) : span(k, n, ldb));
    a.be().gemm(ta, tb, m, n, k, a.fnum(5), A, lda, B, ldb, a.fnum(10), a.arr(11, span(m, n, ldc)), ldc);
    return none(info);
  });
}
// syrk(trans, n, k, alpha, A, lda, beta, C, ldc)
Napi::Value Syrk(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const bool t = a.flag(0);
    const int n = a.num(1), k = a.num(2), lda = a.num(5), ldc = a.num(8);
    const float* A = a.arr(4, t ? span(k, n, lda) : span(n, k, lda));
    a.be().syrk(t, n, k, a.fnum(3), A, lda, a.fnum(6), a.arr(7, span(n, n, ldc)), ldc);
    return none(info);
  });
}
// gemv(trans, m, n, alpha, A, lda, x, beta, y)
Napi::Value Gemv(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const bool t = a.flag(0);
    const int m = a.num(1), n = a.num(2), lda = a.num(5);
    a.be().gemv(t, m, n, a.fnum(3), a.arr(4, span(m, n, lda)), lda, a.arr(6, t ? m : n), a.fnum(7),
                a.arr(8, t ? n : m));
    return none(info);
  });
}
// ger(m, n, alpha, x, y, A, lda)
Napi::Value Ger(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int m = a.num(0), n = a.num(1), lda = a.num(6);
    a.be().ger(m, n, a.fnum(2), a.arr(3, m), a.arr(4, n), a.arr(5, span(m, n, lda)), lda);
    return none(info);
  });
}
// trsmUpper(trans, k, ncols, R, ldr, B, ldb)
Napi::Value TrsmUpper(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int k = a.num(1), ncols = a.num(2), ldr = a.num(4), ldb = a.num(6);
    a.be().trsm_upper(a.flag(0), k, ncols, a.arr(3, span(k, k, ldr)), ldr, a.arr(5, span(k, ncols, ldb)), ldb);
    return none(info);
  });
}
// dot(n, x, y) -> number; axpby(n, alpha, x, beta, y)
Napi::Value Dot(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    return Napi::Number::New(info.Env(), a.be().dot(n, a.arr(1, n), a.arr(2, n)));
  });
}
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    a.be().axpby(n, a.fnum(1), a.arr(2, n), a.fnum(3), a.arr(4, n));
    return none(info);
  });
}
// potrf(n, A) / potri(n, A) -> info
Napi::Value Potrf(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    return Napi::Number::New(info.Env(), a.be().potrf(n, a.arr(1, (size_t)n * n), n));
  });
}
Napi::Value Potri(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    return Napi::Number::New(info.Env(), a.be().potri(n, a.arr(1, (size_t)n * n), n));
  });
}
// symmetricEigen(n, A, w) -> info: rows of A become the eigenvectors, w the eigenvalues (ascending)
Napi::Value SymmetricEigen(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    return Napi::Number::New(info.Env(), a.be().symmetric_eigen(n, a.arr(1, (size_t)n * n), n, a.arr(2, n)));
  });
}
// potrs(n, nrhs, L, B)
Napi::Value Potrs(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0), nrhs = a.num(1);
    return Napi::Number::New(info.Env(),
                             a.be().potrs(n, nrhs, a.arr(2, (size_t)n * n), n, a.arr(3, (size_t)n * nrhs), nrhs));
  });
}
// activationForward(act, h, m, d, out) / activationBackward(act, h, m, d, g)
Activation activation_arg(Args& a, size_t i, const Napi::CallbackInfo& info) {
  const int act = a.num(i);
  if (act < 0 || act > (int)Activation::Gelu) throw_invalid(info.Env(), "unknown activation");
  return (Activation)act;
}
Loss loss_arg(Args& a, size_t i, const Napi::CallbackInfo& info) {
  const int kind = a.num(i);
  if (kind < 0 || kind > 2) throw_invalid(info.Env(), "unknown loss");
  return (Loss)kind;
}
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Activation act = activation_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    a.be().activation_forward(act, a.arr(1, (size_t)m * d), m, d, d, a.arr(4, (size_t)m * d), d);
    return none(info);
  });
}
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Activation act = activation_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    a.be().activation_backward(act, a.arr(1, (size_t)m * d), m, d, a.arr(4, (size_t)m * d), d);
    return none(info);
  });
}
// loss(kind, z, t, m, d, grad|null) -> summed loss
Napi::Value LossOp(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(3), d = a.num(4);
    const size_t n = (size_t)m * d;
    float* grad = a.optional_arr(5, n);
    return Napi::Number::New(info.Env(), a.be().loss(kind, a.arr(1, n), a.arr(2, n), m, d, grad));
  });
}
// lossSquareSum(kind, z, t, m, d) -> sum of the squared per-sample losses
Napi::Value LossSquareSum(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(3), d = a.num(4);
    const size_t n = (size_t)m * d;
    double square_sum = 0;
    a.be().loss(kind, a.arr(1, n), a.arr(2, n), m, d, nullptr, &square_sum);
    return Napi::Number::New(info.Env(), square_sum);
  });
}
// lossGradient(kind, z, t, m, d, grad)
Napi::Value LossGradient(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(3), d = a.num(4);
    const size_t n = (size_t)m * d;
    a.be().loss_gradient(kind, a.arr(1, n), a.arr(2, n), m, d, a.arr(5, n));
    return none(info);
  });
}
// link(kind, z, m, d, out)
Napi::Value Link(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    a.be().link(kind, a.arr(1, (size_t)m * d), m, d, a.arr(4, (size_t)m * d));
    return none(info);
  });
}
// sampleTargets(kind, z, m, d, seed, out)
Napi::Value SampleTargets(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    const uint64_t seed = (uint64_t)info[4].As<Napi::Number>().DoubleValue();
    a.be().sample_targets(kind, a.arr(1, (size_t)m * d), m, d, seed, 0, a.arr(5, (size_t)m * d));
    return none(info);
  });
}
// sampledGradient(kind, z, m, d, seed, out, grad)
Napi::Value SampledGradient(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    const uint64_t seed = (uint64_t)info[4].As<Napi::Number>().DoubleValue();
    const size_t n = (size_t)m * d;
    a.be().sampled_gradient(kind, a.arr(1, n), m, d, seed, 0, a.arr(5, n), a.arr(6, n));
    return none(info);
  });
}
// sampledGradientCounted(kind, z, m, d, counter[2], out, grad): the seed in the counter's bits, which advance by one
Napi::Value SampledGradientCounted(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const Loss kind = loss_arg(a, 0, info);
    const int m = a.num(2), d = a.num(3);
    const size_t n = (size_t)m * d;
    a.be().sampled_gradient_counted(kind, a.arr(1, n), m, d, a.arr(4, 2), 0, a.arr(5, n), a.arr(6, n));
    return none(info);
  });
}
// columnMean(A, m, cols, out)
Napi::Value ColumnMean(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int m = a.num(1), cols = a.num(2);
    a.be().column_mean(a.arr(0, (size_t)m * cols), m, cols, cols, a.arr(3, cols));
    return none(info);
  });
}
// The image ops' shapes: { channels, height, width, channelsFirst, kernelH, kernelW, stride, padding, bias } and
// { kind (0 none, 1 max, 2 average), channels, height, width, sizeH, sizeW, strideH, strideW }.
PatchShape patch_shape(const Napi::Value& v) {
  const Napi::Object o = v.As<Napi::Object>();
  PatchShape s;
  s.in = {(int)number_field(o, "channels", 0), (int)number_field(o, "height", 0), (int)number_field(o, "width", 0),
          o.Get("channelsFirst").ToBoolean()};
  s.kernel_h = (int)number_field(o, "kernelH", 1);
  s.kernel_w = (int)number_field(o, "kernelW", 1);
  s.stride = (int)number_field(o, "stride", 1);
  s.padding = (int)number_field(o, "padding", 0);
  s.bias = o.Get("bias").ToBoolean();
  if (s.in.channels <= 0 || s.in.height <= 0 || s.in.width <= 0 || s.stride <= 0 || s.padding < 0 ||
      s.kernel_h <= 0 || s.kernel_w <= 0 || s.out_h() <= 0 || s.out_w() <= 0)
    throw_invalid(v.Env(), "invalid patch shape");
  return s;
}
PoolShape pool_shape(const Napi::Value& v) {
  const Napi::Object o = v.As<Napi::Object>();
  PoolShape s;
  s.kind = (PoolKind)(int)number_field(o, "kind", 0);
  s.channels = (int)number_field(o, "channels", 0);
  s.height = (int)number_field(o, "height", 0);
  s.width = (int)number_field(o, "width", 0);
  s.size_h = (int)number_field(o, "sizeH", 1);
  s.size_w = (int)number_field(o, "sizeW", 1);
  s.stride_h = (int)number_field(o, "strideH", 1);
  s.stride_w = (int)number_field(o, "strideW", 1);
  if ((int)s.kind < 0 || (int)s.kind > 2 || s.channels <= 0 || s.size_h <= 0 || s.size_w <= 0 || s.stride_h <= 0 ||
      s.stride_w <= 0 || s.size_h > s.height || s.size_w > s.width)
    throw_invalid(v.Env(), "invalid pool shape");
  return s;
}
// im2col(shape, x, m, patches); col2im(shape, dpatches, ld, m, dx)
Napi::Value Im2col(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int m = a.num(2);
    a.be().im2col(s, a.arr(1, (size_t)m * s.in.size()), m, a.arr(3, (size_t)m * s.locations() * (s.patch_size() + 1)));
    return none(info);
  });
}
Napi::Value Col2im(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int ld = a.num(2), m = a.num(3);
    if (ld < s.patch_size()) throw_invalid(info.Env(), "ld is smaller than the patch");
    a.be().col2im(s, a.arr(1, span(m * s.locations(), s.patch_size(), ld)), ld, m, a.arr(4, (size_t)m * s.in.size()));
    return none(info);
  });
}
// The convolution's passes (core/layers/conv_passes.h), W d x n with n = patch + 1:
// convForward(shape, x, m, w, d, patches | null, h): the patches kept in `patches`, or with null formed in a
// scratch and dropped; convBackwardWeights(shape, g, patches, m, d, alpha, dw, x?) (with the images x a direct
// kernel may take their place);
// convBackwardWeightsFromImages(shape, g, x, m, d, alpha, dw); convBackwardData(shape, g, m, w, d, dx) (the
// scratches are allocated here)
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int m = a.num(2), d = a.num(4), n = s.patch_size() + 1;
    const size_t rows = (size_t)m * s.locations();
    float* kept = a.optional_arr(5, rows * n);
    float* patches = kept ? kept : a.scratch((size_t)conv_chunk_images(a.be(), s, m) * s.locations() * n);
    conv_forward(a.be(), s, a.arr(1, (size_t)m * s.in.size()), m, a.arr(3, (size_t)d * n), d, patches, kept != nullptr,
                 a.arr(6, rows * d));
    return none(info);
  });
}
Napi::Value ConvBackwardWeightsFromImages(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int m = a.num(3), d = a.num(4), n = s.patch_size() + 1;
    float* scratch = a.scratch((size_t)conv_chunk_images(a.be(), s, m) * s.locations() * n);
    conv_backward_weights_from_images(a.be(), s, a.arr(1, (size_t)m * s.locations() * d), a.arr(2, (size_t)m * s.in.size()),
                                      m, d, a.fnum(5), scratch, a.arr(6, (size_t)d * n));
    return none(info);
  });
}
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int m = a.num(3), d = a.num(4), n = s.patch_size() + 1;
    const size_t rows = (size_t)m * s.locations();
    conv_backward_weights(a.be(), s, a.arr(1, rows * d), a.arr(2, rows * n), a.optional_arr(7, (size_t)m * s.in.size()),
                          m, d, a.fnum(5), a.arr(6, (size_t)d * n));
    return none(info);
  });
}
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PatchShape s = patch_shape(info[0]);
    const int m = a.num(2), d = a.num(4), n = s.patch_size() + 1;
    const size_t rows = (size_t)m * s.locations();
    float* scratch = a.scratch((size_t)conv_chunk_images(a.be(), s, m) * s.locations() * (n - 1));
    conv_backward_data(a.be(), s, a.arr(1, rows * d), m, a.arr(3, (size_t)d * n), d, scratch, a.arr(5, (size_t)m * s.in.size()));
    return none(info);
  });
}
// poolForward(shape, x, m, y, ldy); poolBackward(shape, x, dy, lddy, m, dx)
Napi::Value PoolForward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PoolShape s = pool_shape(info[0]);
    const int m = a.num(2), ldy = a.num(4);
    const size_t out = s.passed_size();
    if ((size_t)ldy < out) throw_invalid(info.Env(), "ldy is smaller than the pooled image");
    a.be().pool_forward(s, a.arr(1, (size_t)m * s.in_size()), m, a.arr(3, span(m, (int)out, ldy)), ldy);
    return none(info);
  });
}
Napi::Value PoolBackward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const PoolShape s = pool_shape(info[0]);
    const int lddy = a.num(3), m = a.num(4);
    const size_t out = s.passed_size();
    if ((size_t)lddy < out) throw_invalid(info.Env(), "lddy is smaller than the pooled image");
    a.be().pool_backward(s, a.arr(1, (size_t)m * s.in_size()), a.arr(2, span(m, (int)out, lddy)), lddy, m,
                         a.arr(5, (size_t)m * s.in_size()));
    return none(info);
  });
}
// trace(A, n, lda) -> number
Napi::Value Trace(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(1), lda = a.num(2);
    return Napi::Number::New(info.Env(), a.be().trace(a.arr(0, span(n, n, lda)), n, lda));
  });
}
// sumSquares(x) -> number; firstNonFinite(x) -> index or -1
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[0], "x").ElementLength();
    return Napi::Number::New(info.Env(), a.be().sum_squares(a.arr(0, n), n));
  });
}
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[0], "x").ElementLength();
    return Napi::Number::New(info.Env(), (double)a.be().first_non_finite(a.arr(0, n), n));
  });
}
// markNonFinite(x, flag[1])
Napi::Value MarkNonFinite(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[0], "x").ElementLength();
    a.be().mark_non_finite(a.arr(0, n), n, a.arr(1, 1));
    return none(info);
  });
}
// addDiagonal(A, n, lda, value); addDiagonalFrom(A, n, lda, src, stride)
Napi::Value AddDiagonal(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(1), lda = a.num(2);
    a.be().add_diagonal(a.arr(0, span(n, n, lda)), n, lda, a.fnum(3));
    return none(info);
  });
}
Napi::Value AddDiagonalFrom(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(1), lda = a.num(2), stride = a.num(4);
    a.be().add_diagonal_from(a.arr(0, span(n, n, lda)), n, lda, a.arr(3, span(n, 1, stride)), stride);
    return none(info);
  });
}
// gatherRows(dst, ldDst, src, cols, rows: Uint32Array) ; setColumn(A, rows, ld, col, value)
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int ld = a.num(1), cols = a.num(3);
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      throw_invalid(info.Env(), "rows must be a Uint32Array");
    Napi::Uint32Array rows = info[4].As<Napi::Uint32Array>();
    const int count = (int)rows.ElementLength();
    const size_t src_len = float32_arg(info[2], "src").ElementLength();
    for (size_t i = 0; i < rows.ElementLength(); ++i)
      if ((size_t)rows[i] * cols + cols > src_len) throw_invalid(info.Env(), "row index out of range");
    a.be().gather_rows(a.arr(0, span(count, cols, ld)), ld, a.arr(2, src_len), cols, rows.Data(), count);
    return none(info);
  });
}
Napi::Value SetColumn(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int rows = a.num(1), ld = a.num(2), col = a.num(3);
    if (col < 0 || col >= ld) throw_invalid(info.Env(), "column out of range");
    a.be().set_column(a.arr(0, span(rows, ld, ld)), rows, ld, col, a.fnum(4));
    return none(info);
  });
}
// copyWithin(x, dst, src, n): Backend::copy inside one array (ranges may overlap); fill(x, value)
Napi::Value CopyWithin(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int dst = a.num(1), src = a.num(2), n = a.num(3);
    if (dst < 0 || src < 0 || n < 0) throw_invalid(info.Env(), "offsets must be non-negative");
    float* x = a.arr(0, (size_t)std::max(dst, src) + n);
    a.be().copy(x + dst, x + src, n);
    return none(info);
  });
}
Napi::Value Fill(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[0], "x").ElementLength();
    a.be().fill(a.arr(0, n), a.fnum(1), n);
    return none(info);
  });
}
// firstOrderUpdate(settings, theta, grad, m, v)
Napi::Value FirstOrder(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    Napi::Object s = info[0].As<Napi::Object>();
    FirstOrderUpdate u;
    u.kind = (FirstOrderUpdate::Kind)(int)number_field(s, "kind", 0);
    u.paper = s.Get("paper").ToBoolean();
    u.lr = (float)number_field(s, "lr", 0);
    u.momentum = (float)number_field(s, "momentum", 0);
    u.beta1 = (float)number_field(s, "beta1", 0);
    u.square_decay = (float)number_field(s, "squareDecay", 0);
    u.eps = (float)number_field(s, "eps", 0);
    u.weight_decay = (float)number_field(s, "weightDecay", 0);
    u.dampening = (float)number_field(s, "dampening", 0);
    u.nesterov = s.Get("nesterov").ToBoolean();
    u.decoupled = s.Get("decoupled").ToBoolean();
    u.first_step = s.Get("firstStep").ToBoolean();
    u.step = (int64_t)number_field(s, "step", 1);
    const size_t n = float32_arg(info[1], "theta").ElementLength();
    a.be().first_order_update(u, n, a.arr(1, n), a.arr(2, n), a.arr(3, n), a.arr(4, n));
    return none(info);
  });
}
// gradientMomentum(rho, tau, theta, grad, m); runningMeanOfSquares(j, tau, theta, grad, v)
Napi::Value GradientMomentum(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[2], "theta").ElementLength();
    a.be().gradient_momentum(n, a.fnum(0), a.fnum(1), a.arr(2, n), a.arr(3, n), a.arr(4, n));
    return none(info);
  });
}
Napi::Value RunningMeanOfSquares(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const size_t n = float32_arg(info[2], "theta").ElementLength();
    const int j = a.num(0);
    if (j < 1) throw_invalid(info.Env(), "j must be at least 1");
    a.be().running_mean_of_squares(n, j, a.fnum(1), a.arr(2, n), a.arr(3, n), a.arr(4, n));
    return none(info);
  });
}

// dampPair(d, s, y, hy, mu1, mu2, gate[1], counts[2])
Napi::Value DampPair(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int d = a.num(0);
    const double mu1 = info[4].As<Napi::Number>().DoubleValue(), mu2 = info[5].As<Napi::Number>().DoubleValue();
    a.be().damp_pair(d, a.arr(1, d), a.arr(2, d), a.arr(3, d), mu1, mu2, a.arr(6, 1), a.arr(7, 2));
    return none(info);
  });
}
// bfgsUpdate(n, H, s, y, hy, ref, threshold, gate[1]|null, skipped[1])
Napi::Value BfgsUpdate(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(0);
    const size_t ref_n = float32_arg(info[5], "ref").ElementLength();
    a.be().bfgs_update(n, a.arr(1, (size_t)n * n), a.arr(2, n), a.arr(3, n), a.arr(4, n), a.arr(5, ref_n), (int)ref_n,
                       info[6].As<Napi::Number>().DoubleValue(), a.optional_arr(7, 1), a.arr(8, 1));
    return none(info);
  });
}

// lbfgsAppend(d, memory, S (memory x d), Y, s, y, ref, threshold, gate[1]|null, size[1], skipped[1])
Napi::Value LbfgsAppend(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int d = a.num(0), memory = a.num(1);
    if (memory <= 0) throw_invalid(info.Env(), "memory must be positive");
    const size_t ref_n = float32_arg(info[6], "ref").ElementLength(), rows = (size_t)memory * d;
    a.be().lbfgs_append(d, memory, a.arr(2, rows), a.arr(3, rows), a.arr(4, d), a.arr(5, d), a.arr(6, ref_n), (int)ref_n,
                        info[7].As<Napi::Number>().DoubleValue(), a.optional_arr(8, 1), a.arr(9, 1), a.arr(10, 1));
    return none(info);
  });
}
// padDiagonal(A, n, lda, count[1], value)
Napi::Value PadDiagonal(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int n = a.num(1), lda = a.num(2);
    a.be().pad_diagonal(a.arr(0, span(n, n, lda)), n, lda, a.arr(3, 1), a.fnum(4));
    return none(info);
  });
}

}  // namespace

Napi::Object BackendOps(Napi::Env env, Backend& backend) {
  Napi::Object o = Napi::Object::New(env);
  void* data = &backend;
  auto add = [&](const char* name, EntryPoint fn) { o.Set(name, exported_function(env, name, fn, data)); };
  o.Set("name", backend.name());
  add("gemm", Gemm);
  add("syrk", Syrk);
  add("gemv", Gemv);
  add("ger", Ger);
  add("trsmUpper", TrsmUpper);
  add("dot", Dot);
  add("axpby", Axpby);
  add("potrf", Potrf);
  add("potri", Potri);
  add("potrs", Potrs);
  add("symmetricEigen", SymmetricEigen);
  add("activationForward", ActivationForward);
  add("activationBackward", ActivationBackward);
  add("loss", LossOp);
  add("lossSquareSum", LossSquareSum);
  add("lossGradient", LossGradient);
  add("link", Link);
  add("sampleTargets", SampleTargets);
  add("sampledGradient", SampledGradient);
  add("sampledGradientCounted", SampledGradientCounted);
  add("columnMean", ColumnMean);
  add("im2col", Im2col);
  add("col2im", Col2im);
  add("convForward", ConvForward);
  add("convBackwardWeights", ConvBackwardWeights);
  add("convBackwardWeightsFromImages", ConvBackwardWeightsFromImages);
  add("convBackwardData", ConvBackwardData);
  add("poolForward", PoolForward);
  add("poolBackward", PoolBackward);
  add("sumSquares", SumSquares);
  add("trace", Trace);
  add("firstNonFinite", FirstNonFinite);
  add("markNonFinite", MarkNonFinite);
  add("addDiagonal", AddDiagonal);
  add("addDiagonalFrom", AddDiagonalFrom);
  add("gatherRows", GatherRows);
  add("setColumn", SetColumn);
  add("copyWithin", CopyWithin);
  add("fill", Fill);
  add("firstOrderUpdate", FirstOrder);
  add("gradientMomentum", GradientMomentum);
  add("runningMeanOfSquares", RunningMeanOfSquares);
  add("dampPair", DampPair);
  add("bfgsUpdate", BfgsUpdate);
  add("lbfgsAppend", LbfgsAppend);
  add("padDiagonal", PadDiagonal);
  add_token_ops(add);
  return o;
}

// backendOps('cpu' | 'cuda', tf32?): the ops of that backend. The CUDA one is made once per mode and kept
// for the life of the process (its handles are not torn down while the driver shuts down).
Napi::Value BackendOpsFor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string device = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (device == kCpuDevice) return BackendOps(env, cpu_backend());
  if (device != kCudaDevice) throw_invalid(env, "device must be one of " + name_list(kDeviceNames));
  const bool tf32 = info.Length() > 1 && info[1].ToBoolean();
  static Backend* kept[2] = {nullptr, nullptr};
  if (!kept[tf32]) kept[tf32] = make_cuda_backend(tf32).release();
  return BackendOps(env, *kept[tf32]);
}

}  // namespace kb::napi
