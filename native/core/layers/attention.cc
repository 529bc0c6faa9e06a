// Multi-head causal self-attention (algorithm.md §18.4): the scaled dot-product between the projections that
// the per-token dense layer below computed. Each token row holds [q | k | v] (3 x width); head h owns columns
// h·dh .. (h+1)·dh − 1 of each, dh = width / heads. Position t attends to positions s ≤ t only (the causal
// mask): P_ts = softmax_s(q_t·k_s / sqrt(dh)), out_t = Σ_s P_ts v_s. The output projection is the dense layer
// above. No weights of its own.
#include "token_layer.h"

namespace kb {
namespace {

class CausalAttention final : public TokenLayer {
 public:
  CausalAttention(int width, int tokens, int heads)
      : TokenLayer(width, tokens, 3 * width), shape_{tokens, heads, width / heads} {}
  const char* kind() const override { return "causalSelfAttention"; }
  // saved: P for the m samples, then (off the host) as much again for the GPU's ∂ℓ/∂P (algorithm.md §18.9).
  void forward(const LayerPass& p, Rows out) const override {
    p.backend.attention_forward(shape_, p.own.in.data, p.own.in.ld, p.ws.m, p.own.saved, out.data, out.ld);
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    if (!in_grad.data) return;
    p.backend.attention_backward(shape_, p.own.in.data, p.own.in.ld, p.own.saved, p.own.out_grad.data,
                                 p.own.out_grad.ld, p.ws.m, p.own.saved + p.ws.m * shape_.weights_per_sample(),
                                 in_grad.data, in_grad.ld);
  }

 protected:
  uint64_t saved_per_sample() const override { return (uint64_t)shape_.weights_per_sample(); }
  uint64_t device_scratch_per_sample() const override { return (uint64_t)shape_.weights_per_sample(); }

 private:
  AttentionShape shape_;
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
