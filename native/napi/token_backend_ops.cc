// backendOps' wrappers of the token layers' operations (core/backend.h; algorithm.md §18), for the op checks of
// test/backend.test.ts and the CPU-against-GPU parity suite (test/parity/cuda-parity.js). Sizes and ids are
// checked first, so a wrong call throws instead of reading out of bounds.
#include "backend_op_args.h"

namespace kb::napi {
namespace {

EmbeddingShape embedding_shape(const Napi::Value& v) {
  const Napi::Object o = v.As<Napi::Object>();
  EmbeddingShape s{(int)number_field(o, "vocabulary", 0), (int)number_field(o, "tokens", 0),
                   (int)number_field(o, "width", 0), o.Get("positional").ToBoolean()};
  if (s.vocabulary <= 0 || s.tokens <= 0 || s.width <= 0) throw_invalid(v.Env(), "invalid embedding shape");
  return s;
}
AttentionShape attention_shape(const Napi::Value& v) {
  const Napi::Object o = v.As<Napi::Object>();
  AttentionShape s{(int)number_field(o, "tokens", 0), (int)number_field(o, "heads", 0), (int)number_field(o, "headWidth", 0)};
  if (s.tokens <= 0 || s.heads <= 0 || s.head_width <= 0) throw_invalid(v.Env(), "invalid attention shape");
  return s;
}

// copyRows(src, ldSrc, dst, ldDst, rows, width)
Napi::Value CopyRows(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int ld_src = a.num(1), ld_dst = a.num(3), rows = a.num(4), width = a.num(5);
    a.be().copy_rows(a.arr(0, span(rows, width, ld_src)), ld_src, a.arr(2, span(rows, width, ld_dst)), ld_dst, rows, width);
    return none(info);
  });
}
// addRows / multiplyRows(a, lda, b, ldb, out, ldo, rows, width)
template <bool add>
Napi::Value CombineRows(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int lda = a.num(1), ldb = a.num(3), ldo = a.num(5), rows = a.num(6), width = a.num(7);
    const float* x = a.arr(0, span(rows, width, lda));
    const float* y = a.arr(2, span(rows, width, ldb));
    float* out = a.arr(4, span(rows, width, ldo));
    if (add) a.be().add_rows(x, lda, y, ldb, out, ldo, rows, width);
    else a.be().multiply_rows(x, lda, y, ldb, out, ldo, rows, width);
    return none(info);
  });
}
// firstBadId(ids, rows, cols, ld, classes) -> index or -1
Napi::Value FirstBadId(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int rows = a.num(1), cols = a.num(2), ld = a.num(3), classes = a.num(4);
    return Napi::Number::New(info.Env(), (double)a.be().first_bad_id(a.arr(0, span(rows, cols, ld)), rows, cols, ld, classes));
  });
}
// Throws unless the rows x cols ids (stride ld) are valid for `classes`: the ops below index with them.
void require_ids(const Napi::CallbackInfo& info, size_t i, int rows, int cols, int ld, int classes) {
  const Napi::Float32Array ids = float32_arg(info[i], "ids");
  if (ids.ElementLength() < span(rows, cols, ld)) throw_invalid(info.Env(), "too few ids");
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      if (!valid_token_id(ids[(size_t)r * ld + c], classes)) throw_invalid(info.Env(), "an id is out of range");
}
// oneHot(ids, classes, out)
Napi::Value OneHot(const Napi::CallbackInfo& info) {
  const size_t count = float32_arg(info[0], "ids").ElementLength();
  const int classes = int_arg(info, 1, "classes");
  require_ids(info, 0, 1, (int)count, (int)count, classes);
  return run(info, [&](Args& a) {
    a.be().one_hot(a.arr(0, count), count, classes, a.arr(2, count * classes));
    return none(info);
  });
}
// embeddingForward(shape, ids, ldIds, m, W, abar, h, out, ldo)
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  const EmbeddingShape s = embedding_shape(info[0]);
  require_ids(info, 1, int_arg(info, 3, "m"), s.tokens, int_arg(info, 2, "ldIds"), s.vocabulary);
  return run(info, [&](Args& a) {
    const int ld_ids = a.num(2), m = a.num(3), ldo = a.num(8), n = s.cols();
    const size_t rows = (size_t)m * s.tokens;
    a.be().embedding_forward(s, a.arr(1, span(m, s.tokens, ld_ids)), ld_ids, m, a.arr(4, (size_t)s.width * n),
                             a.arr(5, rows * n), a.arr(6, rows * s.width), a.arr(7, span((int)rows, s.width, ldo)), ldo);
    return none(info);
  });
}
// embeddingWeightGradient(shape, ids, ldIds, m, abar, g, ldg, scale, weightGrad)
Napi::Value EmbeddingWeightGradient(const Napi::CallbackInfo& info) {
  const EmbeddingShape s = embedding_shape(info[0]);
  require_ids(info, 1, int_arg(info, 3, "m"), s.tokens, int_arg(info, 2, "ldIds"), s.vocabulary);
  return run(info, [&](Args& a) {
    const int ld_ids = a.num(2), m = a.num(3), ldg = a.num(6), n = s.cols(), rows = m * s.tokens;
    a.be().embedding_weight_gradient(s, a.arr(1, span(m, s.tokens, ld_ids)), ld_ids, m, a.arr(4, (size_t)rows * n),
                                     a.arr(5, span(rows, s.width, ldg)), ldg, a.fnum(7), a.arr(8, (size_t)s.width * n));
    return none(info);
  });
}
// layerNormForward(x, ldx, rows, width, W, xhat, invStd, y, ldy)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int ldx = a.num(1), rows = a.num(2), width = a.num(3), ldy = a.num(8);
    a.be().layer_norm_forward(a.arr(0, span(rows, width, ldx)), ldx, rows, width, a.arr(4, 2 * (size_t)width),
                              a.arr(5, (size_t)rows * width), a.arr(6, rows), a.arr(7, span(rows, width, ldy)), ldy);
    return none(info);
  });
}
// layerNormBackward(g, ldg, xhat, invStd, rows, width, W, batch, weightGrad | null, dx | null, lddx)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const int ldg = a.num(1), rows = a.num(4), width = a.num(5), batch = a.num(7), lddx = a.num(10);
    if (batch <= 0) throw_invalid(info.Env(), "batch must be positive");
    a.be().layer_norm_backward(a.arr(0, span(rows, width, ldg)), ldg, a.arr(2, (size_t)rows * width), a.arr(3, rows), rows,
                               width, a.arr(6, 2 * (size_t)width), batch, a.optional_arr(8, 2 * (size_t)width),
                               a.optional_arr(9, span(rows, width, lddx)), lddx);
    return none(info);
  });
}
// attentionForward(shape, qkv, ld, m, P, out, ldo)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  const AttentionShape s = attention_shape(info[0]);
  return run(info, [&](Args& a) {
    const int ld = a.num(2), m = a.num(3), ldo = a.num(6), rows = m * s.tokens;
    if (ld < 3 * s.width() || ldo < s.width()) throw_invalid(info.Env(), "a row stride is smaller than its row");
    a.be().attention_forward(s, a.arr(1, span(rows, 3 * s.width(), ld)), ld, m, a.arr(4, (size_t)m * s.weights_per_sample()),
                             a.arr(5, span(rows, s.width(), ldo)), ldo);
    return none(info);
  });
}
// attentionBackward(shape, qkv, ld, P, dout, lddout, m, dqkv, lddqkv)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const AttentionShape s = attention_shape(info[0]);
  return run(info, [&](Args& a) {
    const int ld = a.num(2), lddout = a.num(5), m = a.num(6), lddqkv = a.num(8), rows = m * s.tokens;
    if (ld < 3 * s.width() || lddqkv < 3 * s.width() || lddout < s.width())
      throw_invalid(info.Env(), "a row stride is smaller than its row");
    const size_t weights = (size_t)m * s.weights_per_sample();
    a.be().attention_backward(s, a.arr(1, span(rows, 3 * s.width(), ld)), ld, a.arr(3, weights),
                              a.arr(4, span(rows, s.width(), lddout)), lddout, m, a.scratch(weights),
                              a.arr(7, span(rows, 3 * s.width(), lddqkv)), lddqkv);
    return none(info);
  });
}
// dropoutMask(rate, seed, counter[2], first, mask)
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    const double rate = info[0].As<Napi::Number>().DoubleValue();
    if (!(rate >= 0 && rate < 1)) throw_invalid(info.Env(), "rate must be in [0, 1)");
    const uint64_t seed = (uint64_t)info[1].As<Napi::Number>().DoubleValue();
    const uint64_t first = (uint64_t)info[3].As<Napi::Number>().DoubleValue();
    const size_t count = float32_arg(info[4], "mask").ElementLength();
    a.be().dropout_mask(rate, seed, a.arr(2, 2), first, count, a.arr(4, count));
    return none(info);
  });
}
// advanceCounter(counter[2])
Napi::Value AdvanceCounter(const Napi::CallbackInfo& info) {
  return run(info, [&](Args& a) {
    a.be().advance_counter(a.arr(0, 2));
    return none(info);
  });
}

}  // namespace

void add_token_ops(const std::function<void(const char*, EntryPoint)>& add) {
  add("copyRows", CopyRows);
  add("addRows", CombineRows<true>);
  add("multiplyRows", CombineRows<false>);
  add("firstBadId", FirstBadId);
  add("oneHot", OneHot);
  add("embeddingForward", EmbeddingForward);
  add("embeddingWeightGradient", EmbeddingWeightGradient);
  add("layerNormForward", LayerNormForward);
  add("layerNormBackward", LayerNormBackward);
  add("attentionForward", AttentionForward);
  add("attentionBackward", AttentionBackward);
  add("dropoutMask", DropoutMask);
  add("advanceCounter", AdvanceCounter);
}

}  // namespace kb::napi
