// A dense layer (algorithm.md §1): h = W abar per sample, then the activation; one row of statistics per sample.
// Over token rows (algorithm.md §18.3) the same map applies to every token: m·tokens rows, `tokens` per sample.
#include "kinds.h"

#include <algorithm>

#include "../errors.h"
#include "../network.h"

namespace kb {
namespace {

class Dense final : public Layer {
 public:
  Dense(int in, int out, Activation activation, int tokens)
      : in_(in), out_(out), activation_(activation), tokens_(tokens), per_sample_(std::max(1, tokens)) {}
  const char* kind() const override { return "dense"; }
  size_t input_size() const override { return (size_t)in_ * per_sample_; }
  size_t output_size() const override { return (size_t)out_ * per_sample_; }
  DataKind output_kind() const override { return tokens_ ? DataKind::Tokens : DataKind::Vector; }
  int tokens() const override { return tokens_; }
  int locations() const override { return per_sample_; }
  void check_below(int i, const Layer* below) const override {
    if (below && below->output_kind() == DataKind::Image)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " takes a vector: flatten the image before it");
    // token rows come from an embedding below (the data loader writes one row of values per sample)
    if (!below && tokens_)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " over tokens needs the token rows of a layer below it (an embedding)");
    if (below && below->tokens() != tokens_)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " is applied to " + std::to_string(tokens_) +
                                                  " tokens per sample but the layer below gives " + std::to_string(below->tokens()));
  }
  int weight_rows() const override { return out_; }
  int weight_cols() const override { return in_ + 1; }
  void initialize(Rng& rng, float* w) const override { initialize_uniform(rng, w, out_, in_ + 1, true); }
  bool output_is_h() const override { return activation_ == Activation::Linear; }

  LayerMemory memory(uint64_t samples, bool) const override {
    const uint64_t m = samples * per_sample_;
    return {m * (in_ + 1 + 2 * out_), 0, 0,
            std::to_string(m) + " rows of " + std::to_string(in_ + 1) + " inputs and 2 x " + std::to_string(out_) + " outputs"};
  }
  void bind(Backend& backend, int capacity, LayerBuffers& own, const std::function<float*(size_t)>& take) const override {
    const size_t m = (size_t)capacity * per_sample_;
    own.abar = take(m * (in_ + 1));
    backend.set_column(own.abar, (int)m, in_ + 1, in_, 1.0f);  // the homogeneous coordinate, set once
    own.h = take(m * out_);
    own.g = take(m * out_);
    own.in = {own.abar, in_ + 1};
    own.out_grad = {own.g, out_};
  }

  void forward(const LayerPass& p, Rows out) const override {
    const int m = p.ws.m * per_sample_, d = out_, n = in_ + 1;
    // h = abar W^T  (algorithm.md §1: h_l = W_l abar_{l-1}, one row per sample)
    p.backend.gemm(false, true, m, d, n, 1.0f, p.own.abar, n, p.weights, n, 0.0f, p.own.h, d);
    if (out.data != p.own.h) p.backend.activation_forward(activation_, p.own.h, m, d, d, out.data, out.ld);
  }
  void backward(const LayerPass& p, Rows in_grad, float* weight_grad) const override {
    const int m = p.ws.m * per_sample_, d = out_, n = in_ + 1;
    p.backend.activation_backward(activation_, p.own.h, m, d, p.own.g, d);  // g = d loss / d h
    if (weight_grad)  // dW = (1/batch) g^T abar
      p.backend.gemm(true, false, d, n, m, 1.0f / p.ws.batch, p.own.g, d, p.own.abar, n, 0.0f, weight_grad, n);
    if (in_grad.data)  // d loss / d input = g W[:, :n-1]
      p.backend.gemm(false, false, m, n - 1, d, 1.0f, p.own.g, d, p.weights, n, 0.0f, in_grad.data, in_grad.ld);
  }

 private:
  int in_, out_;  // per token row for token rows
  Activation activation_;
  int tokens_, per_sample_;
};

}  // namespace

// { in, out, activation, tokens }: tokens 0 for a vector, else in and out per token row
std::unique_ptr<Layer> make_dense(int i, const LayerFields& f) {
  const int in = f.whole("in"), out = f.whole("out"), tokens = token_field(i, f);
  if (in <= 0 || out <= 0 || in > (1 << 20) || out > (1 << 20))
    throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an invalid width");
  return std::make_unique<Dense>(in, out, activation_field(i, f), tokens);
}

}  // namespace kb
