// Dropout (algorithm.md §18.5): in training passes each value is kept with probability 1 − rate and then scaled
// by 1/(1 − rate), so that its expectation is the input; evaluation passes copy the input. The mask is drawn
// from the layer's seed, the count of training passes and the value's place in the whole batch (the same on
// every rank of a data-parallel fit), and K-BFGS's second pass reuses it.
#include "token_layer.h"

#include "../../rules/rng.h"

namespace kb {
namespace {

class Dropout final : public TokenLayer {
 public:
  Dropout(int width, int tokens, double rate, uint64_t seed) : TokenLayer(width, tokens), rate_(rate), seed_(seed) {}
  const char* kind() const override { return "dropout"; }
  void check_below(int i, const Layer* below) const override {
    if (tokens_) TokenLayer::check_below(i, below);
    else if (below && below->output_kind() != DataKind::Vector)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " takes a vector or token rows");
  }
  void forward(const LayerPass& p, Rows out) const override {
    float* mask = p.own.saved;
    if (!p.ws.training) {
      std::fill(mask, mask + rows(p) * width_, 1.0f);
      copy_token_rows(p.own.in.data, p.own.in.ld, out.data, out.ld, rows(p), width_);
      return;
    }
    if (!p.second_pass) {
      const uint64_t pass_seed = splitmix64_mix(seed_ + p.ws.training_passes * 0x9E3779B97F4A7C15ull);
      const uint64_t first = (uint64_t)p.ws.first * per_sample_ * width_;
      for (size_t k = 0; k < rows(p) * width_; ++k)
        mask[k] = uniform_at(pass_seed, first + k) < rate_ ? 0.0f : (float)(1.0 / (1.0 - rate_));
    }
    for (size_t r = 0; r < rows(p); ++r)
      for (int c = 0; c < width_; ++c) out.data[r * out.ld + c] = p.own.in.data[r * p.own.in.ld + c] * mask[r * width_ + c];
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    if (!in_grad.data) return;
    const float* mask = p.own.saved;
    for (size_t r = 0; r < rows(p); ++r)
      for (int c = 0; c < width_; ++c)
        in_grad.data[r * in_grad.ld + c] = p.own.out_grad.data[r * p.own.out_grad.ld + c] * mask[r * width_ + c];
  }

 protected:
  uint64_t saved_per_row() const override { return (uint64_t)width_; }

 private:
  double rate_;
  uint64_t seed_;
};

}  // namespace

// { width, tokens, rate, seed }
std::unique_ptr<Layer> make_dropout(int i, const LayerFields& f) {
  const int width = width_field(i, f), tokens = token_field(i, f);
  const double rate = f.number("rate");
  if (!(rate >= 0 && rate < 1))
    throw Error(ErrorKind::InvalidArgument, layer_name(i, "dropout") + ": rate must be in [0, 1), got " + std::to_string(rate));
  return std::make_unique<Dropout>(width, tokens, rate, (uint64_t)f.whole("seed"));
}

}  // namespace kb
