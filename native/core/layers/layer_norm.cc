// Layer normalization over the width of each token row (algorithm.md §18.2): y = gain ⊙ x̂ + bias with
// x̂ = (x − mean) / sqrt(var + ε). The weights are W = [gain | bias] (width x 2: the bias as the last column, as
// every kind lays out its W); the curvature methods keep no statistics for it (§18.6).
#include "token_layer.h"
#include "../../cpu/parallel_rows.h"

#include <cmath>

namespace kb {
namespace {

constexpr double kEpsilon = 1e-5;

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

  // Rows are independent: they go to the backend's threads in ranges, each row computed the same way whichever
  // thread takes it. The weight gradient sums over the rows and stays on one thread, in row order (§18.8).
  void forward(const LayerPass& p, Rows out) const override {
    float* xhat = p.own.saved;
    float* inv_std = xhat + rows(p) * width_;
    cpu::parallel_rows((int)rows(p), width_, p.backend.threads(), [&](int begin, int end) {
      for (int r = begin; r < end; ++r) {
        const float* x = p.own.in.data + (size_t)r * p.own.in.ld;
        double mean = 0, var = 0;
        for (int c = 0; c < width_; ++c) mean += x[c];
        mean /= width_;
        for (int c = 0; c < width_; ++c) var += (x[c] - mean) * (x[c] - mean);
        inv_std[r] = (float)(1.0 / std::sqrt(var / width_ + kEpsilon));
        float* y = out.data + (size_t)r * out.ld;
        for (int c = 0; c < width_; ++c) {
          xhat[(size_t)r * width_ + c] = (float)((x[c] - mean) * inv_std[r]);
          y[c] = p.weights[2 * c] * xhat[(size_t)r * width_ + c] + p.weights[2 * c + 1];
        }
      }
    });
  }
  void backward(const LayerPass& p, Rows in_grad, float* weight_grad) const override {
    const float* xhat = p.own.saved;
    const float* inv_std = xhat + rows(p) * width_;
    if (weight_grad) {  // the mean-loss gradient: sums over the rows / batch
      std::fill(weight_grad, weight_grad + 2 * width_, 0.0f);
      for (size_t r = 0; r < rows(p); ++r) {
        const float* g = p.own.out_grad.data + r * p.own.out_grad.ld;
        const float* xr = xhat + r * width_;
        for (int c = 0; c < width_; ++c) {
          weight_grad[2 * c] += g[c] * xr[c] / p.ws.batch;
          weight_grad[2 * c + 1] += g[c] / p.ws.batch;
        }
      }
    }
    if (!in_grad.data) return;
    cpu::parallel_rows((int)rows(p), width_, p.backend.threads(), [&](int begin, int end) {
      for (int r = begin; r < end; ++r) {
        const float* g = p.own.out_grad.data + (size_t)r * p.own.out_grad.ld;
        const float* xr = xhat + (size_t)r * width_;
        // dx = inv_std (dx̂ − mean(dx̂) − x̂ mean(dx̂ ⊙ x̂)), dx̂ = gain ⊙ g  (§18.2)
        double mean_d = 0, mean_dx = 0;
        for (int c = 0; c < width_; ++c) {
          const double d = p.weights[2 * c] * g[c];
          mean_d += d;
          mean_dx += d * xr[c];
        }
        mean_d /= width_, mean_dx /= width_;
        float* dx = in_grad.data + (size_t)r * in_grad.ld;
        for (int c = 0; c < width_; ++c)
          dx[c] = (float)(inv_std[r] * (p.weights[2 * c] * g[c] - mean_d - xr[c] * mean_dx));
      }
    });
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
