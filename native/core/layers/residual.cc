// A residual block (algorithm.md §18.5): the layers between a residualStart and its residualEnd compute f(x),
// and the end gives x + f(x). The start passes x on and keeps it (its input buffer); the end adds it. Backward,
// the end hands d loss / d output both to the block's last layer and, as the skipped path's share, to the start,
// which adds it to what the block's first layer gives back.
#include "token_layer.h"

namespace kb {
namespace {

class ResidualStart final : public TokenLayer {
 public:
  using TokenLayer::TokenLayer;
  const char* kind() const override { return "residualStart"; }
  void forward(const LayerPass& p, Rows out) const override {
    p.backend.copy_rows(p.own.in.data, p.own.in.ld, out.data, out.ld, rows(p), width_);
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    if (!in_grad.data) return;
    const float* skipped = p.own.saved;  // written by the block's end
    p.backend.add_rows(p.own.out_grad.data, p.own.out_grad.ld, skipped, width_, in_grad.data, in_grad.ld, rows(p), width_);
  }

 protected:
  uint64_t saved_per_row() const override { return (uint64_t)width_; }
};

class ResidualEnd final : public TokenLayer {
 public:
  ResidualEnd(int width, int tokens, int start) : TokenLayer(width, tokens), start_(start) {}
  const char* kind() const override { return "residualEnd"; }
  int skip_from() const override { return start_; }
  void forward(const LayerPass& p, Rows out) const override {
    const Rows x = p.ws.layers[start_].in;
    p.backend.add_rows(p.own.in.data, p.own.in.ld, x.data, x.ld, out.data, out.ld, rows(p), width_);
  }
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    const Rows g = p.own.out_grad;
    p.backend.copy_rows(g.data, g.ld, p.ws.layers[start_].saved, width_, rows(p), width_);
    if (in_grad.data) p.backend.copy_rows(g.data, g.ld, in_grad.data, in_grad.ld, rows(p), width_);
  }

 private:
  int start_;
};

}  // namespace

// { width, tokens }
std::unique_ptr<Layer> make_residual_start(int i, const LayerFields& f) {
  return std::make_unique<ResidualStart>(width_field(i, f), token_field(i, f));
}

// { width, tokens, start }: start is the stack index of the block's residualStart
std::unique_ptr<Layer> make_residual_end(int i, const LayerFields& f) {
  const int start = f.whole("start");
  if (start < 0 || start >= i)
    throw Error(ErrorKind::InvalidArgument, layer_name(i, "residualEnd") + ": its start " + std::to_string(start) + " is not a layer below it");
  return std::make_unique<ResidualEnd>(width_field(i, f), token_field(i, f), start);
}

}  // namespace kb
