// Multi-head causal self-attention (algorithm.md §18.4): the scaled dot-product between the projections that
// the per-token dense layer below computed. Each token row holds [q | k | v] (3 x width); head h owns columns
// h·dh .. (h+1)·dh − 1 of each, dh = width / heads. Position t attends to positions s ≤ t only (the causal
// mask): P_ts = softmax_s(q_t·k_s / sqrt(dh)), out_t = Σ_s P_ts v_s. The output projection is the dense layer
// above. No weights of its own.
#include "token_layer.h"
#include "../../cpu/parallel_rows.h"

#include <cmath>
#include <vector>

namespace kb {
namespace {

class CausalAttention final : public TokenLayer {
 public:
  CausalAttention(int width, int tokens, int heads) : TokenLayer(width, tokens, 3 * width), heads_(heads), head_width_(width / heads) {}
  const char* kind() const override { return "causalSelfAttention"; }
  // Each (sample, head) pair writes only its own P and its head's columns of the sample's rows, so the pairs go
  // to the backend's threads whole and the result does not depend on the thread count (§18.8).
  void forward(const LayerPass& p, Rows out) const override {
    for_each_pair(p, [&](int i, int h) { forward_pair(p, out, i, h); });
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    if (!in_grad.data) return;
    for_each_pair(p, [&](int i, int h) { backward_pair(p, in_grad, i, h); });
  }

 protected:
  uint64_t saved_per_sample() const override { return (uint64_t)heads_ * per_sample_ * per_sample_; }

 private:
  // fn(i, h) for every sample i of the batch and head h, over the backend's threads.
  template <class Fn>
  void for_each_pair(const LayerPass& p, Fn&& fn) const {
    const size_t work_per_pair = (size_t)per_sample_ * per_sample_ * head_width_ / 2;  // multiply-adds under the mask
    cpu::parallel_rows(p.ws.m * heads_, work_per_pair, p.backend.threads(), [&](int begin, int end) {
      for (int pair = begin; pair < end; ++pair) fn(pair / heads_, pair % heads_);
    });
  }

  void forward_pair(const LayerPass& p, Rows out, int i, int h) const {
    const float scale = 1.0f / std::sqrt((float)head_width_);
    const int T = per_sample_;
    float* P = weights_of(p, i, h);
    for (int t = 0; t < T; ++t) {
      const float* q = row(p.own.in, i, t) + h * head_width_;
      float top = -INFINITY;
      for (int s = 0; s < T; ++s) {
        if (!visible(t, s)) { P[t * T + s] = 0; continue; }
        const float* k = row(p.own.in, i, s) + width_ + h * head_width_;
        float dot = 0;
        for (int d = 0; d < head_width_; ++d) dot += q[d] * k[d];
        P[t * T + s] = dot * scale;
        top = std::max(top, P[t * T + s]);
      }
      double sum = 0;
      for (int s = 0; s < T; ++s)
        if (visible(t, s)) sum += P[t * T + s] = std::exp(P[t * T + s] - top);
      for (int s = 0; s < T; ++s) P[t * T + s] = (float)(P[t * T + s] / sum);
      float* o = out.data + ((size_t)i * T + t) * out.ld + h * head_width_;
      std::fill(o, o + head_width_, 0.0f);
      for (int s = 0; s < T; ++s) {
        if (!visible(t, s)) continue;
        const float* v = row(p.own.in, i, s) + 2 * width_ + h * head_width_;
        for (int d = 0; d < head_width_; ++d) o[d] += P[t * T + s] * v[d];
      }
    }
  }

  void backward_pair(const LayerPass& p, Rows in_grad, int i, int h) const {
    const float scale = 1.0f / std::sqrt((float)head_width_);
    const int T = per_sample_;
    for (int t = 0; t < T; ++t)
      for (int part = 0; part < 3; ++part) {
        float* g = row(in_grad, i, t) + part * width_ + h * head_width_;
        std::fill(g, g + head_width_, 0.0f);
      }
    thread_local std::vector<double> dP;
    dP.resize(T);
    const float* P = weights_of(p, i, h);
    for (int t = 0; t < T; ++t) {
      const float* dout = row(p.own.out_grad, i, t) + h * head_width_;
      // dP_ts = dout_t · v_s; dv_s += P_ts dout_t; dS_ts = P_ts (dP_ts − Σ_s' P_ts' dP_ts')  (§18.4)
      double mean = 0;
      for (int s = 0; s < T; ++s) {
        if (!visible(t, s)) continue;
        const float* v = row(p.own.in, i, s) + 2 * width_ + h * head_width_;
        float* dv = row(in_grad, i, s) + 2 * width_ + h * head_width_;
        double dot = 0;
        for (int d = 0; d < head_width_; ++d) dot += dout[d] * v[d], dv[d] += P[t * T + s] * dout[d];
        dP[s] = dot;
        mean += P[t * T + s] * dot;
      }
      const float* q = row(p.own.in, i, t) + h * head_width_;
      float* dq = row(in_grad, i, t) + h * head_width_;
      for (int s = 0; s < T; ++s) {
        if (!visible(t, s)) continue;
        const float dS = (float)(P[t * T + s] * (dP[s] - mean)) * scale;
        const float* k = row(p.own.in, i, s) + width_ + h * head_width_;
        float* dk = row(in_grad, i, s) + width_ + h * head_width_;
        for (int d = 0; d < head_width_; ++d) dq[d] += dS * k[d], dk[d] += dS * q[d];
      }
    }
  }

  static bool visible(int t, int s) { return s <= t; }  // the causal mask
  float* row(Rows r, int i, int t) const { return r.data + ((size_t)i * per_sample_ + t) * r.ld; }
  // P of sample i, head h: T x T
  float* weights_of(const LayerPass& p, int i, int h) const {
    return p.own.saved + (((size_t)i * heads_ + h) * per_sample_) * per_sample_;
  }

  int heads_, head_width_;
};

}  // namespace

// { width, tokens, heads }: heads divides width
std::unique_ptr<Layer> make_causal_attention(int i, const LayerFields& f) {
  const int width = width_field(i, f), tokens = token_field(i, f), heads = f.whole("heads");
  if (heads <= 0 || width % heads != 0)
    throw Error(ErrorKind::InvalidArgument, layer_name(i, "causalSelfAttention") + ": " + std::to_string(heads) +
                                                " heads do not divide the width " + std::to_string(width));
  if (tokens <= 0) throw Error(ErrorKind::InvalidArgument, layer_name(i, "causalSelfAttention") + " takes token rows (tokens > 0)");
  return std::make_unique<CausalAttention>(width, tokens, heads);
}

}  // namespace kb
