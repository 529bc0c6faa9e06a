// Dropout (algorithm.md §18.5): in training passes each value is kept with probability 1 − rate and then scaled
// by 1/(1 − rate), so that its expectation is the input; evaluation passes copy the input. The mask is drawn
// from the layer's seed, the count of training passes (kept in backend memory, §18.9) and the value's place in
// the whole batch (the same on every rank of a data-parallel fit), and K-BFGS's second pass reuses it.
#include "token_layer.h"

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
    const size_t count = rows(p) * width_;
    if (!p.ws.training) {
      p.backend.fill(mask, 1.0f, count);
      p.backend.copy_rows(p.own.in.data, p.own.in.ld, out.data, out.ld, rows(p), width_);
      return;
    }
    // The pass count is read where it lives (backend memory), so a GPU can record a pass that draws.
    if (!p.second_pass)
      p.backend.dropout_mask(rate_, seed_, p.ws.pass_counter, (uint64_t)p.ws.first * per_sample_ * width_, count, mask);
    p.backend.multiply_rows(p.own.in.data, p.own.in.ld, mask, width_, out.data, out.ld, rows(p), width_);
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    if (!in_grad.data) return;
    p.backend.multiply_rows(p.own.out_grad.data, p.own.out_grad.ld, p.own.saved, width_, in_grad.data, in_grad.ld,
                            rows(p), width_);
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
