// Layer normalization over the width of each token row (algorithm.md §18.2): y = gain ⊙ x̂ + bias with
// x̂ = (x − mean) / sqrt(var + ε). The weights are W = [gain | bias] (width x 2: the bias as the last column, as
// every kind lays out its W); the curvature methods keep no statistics for it (§18.6).
#include "token_layer.h"

namespace kb {
namespace {

class LayerNorm final : public TokenLayer {
 public:
  using TokenLayer::TokenLayer;
  const char* kind() const override { return "layerNorm"; }
  int weight_rows() const override { return width_; }
  int weight_cols() const override { return 2; }
  bool first_order_only() const override { return true; }
  void initialize(Rng&, float* w) const override {
    for (int c = 0; c < width_; ++c) w[2 * c] = 1.0f, w[2 * c + 1] = 0.0f;
  }

  // x̂ and 1/std kept for backward (saved: rows x width, then rows).
  void forward(const LayerPass& p, Rows out) const override {
    float* xhat = p.own.saved;
    p.backend.layer_norm_forward(p.own.in.data, p.own.in.ld, (int)rows(p), width_, p.weights, xhat,
                                 xhat + rows(p) * width_, out.data, out.ld);
  }
  void backward(const LayerPass& p, Rows in_grad, float* weight_grad) const override {
    const float* xhat = p.own.saved;
    p.backend.layer_norm_backward(p.own.out_grad.data, p.own.out_grad.ld, xhat, xhat + rows(p) * width_, (int)rows(p),
                                  width_, p.weights, p.ws.batch, weight_grad, in_grad.data, in_grad.ld);
  }

 protected:
  uint64_t saved_per_row() const override { return (uint64_t)width_ + 1; }  // x̂ and 1/std
};

}  // namespace

// { width, tokens }
std::unique_ptr<Layer> make_layer_norm(int i, const LayerFields& f) {
  return std::make_unique<LayerNorm>(width_field(i, f), token_field(i, f));
}

}  // namespace kb
