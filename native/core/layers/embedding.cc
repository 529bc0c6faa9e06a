// Token and position embeddings (algorithm.md §18.1): the first layer of a token model. Each sample is `tokens`
// ids; token t of id v becomes the row E_v + P_t + b. Written as one dense map on the two-hot input
// [one-hot(v) | one-hot(t) | 1], W = [E^T | P^T | b] is width x (vocabulary + tokens + 1) with the bias as its
// last column like every kind's W, and W's column v is token v's embedding. The curvature methods see it as
// that dense map over tokens: its ā rows are the two-hot inputs, so KFAC's and K-BFGS's A holds the token and
// position frequencies (§18.6).
#include "token_layer.h"
#include "../../cpu/parallel_rows.h"

#include <cmath>

namespace kb {
namespace {

class Embedding final : public TokenLayer {
 public:
  Embedding(int vocabulary, int width, int tokens, bool positional)
      : TokenLayer(width, tokens), vocabulary_(vocabulary), positional_(positional) {}
  const char* kind() const override { return "embedding"; }
  size_t input_size() const override { return (size_t)tokens_; }
  void check_below(int i, const Layer* below) const override {
    if (below) throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " must be the first layer (its inputs are token ids)");
  }
  int weight_rows() const override { return width_; }
  int weight_cols() const override { return vocabulary_ + (positional_ ? tokens_ : 0) + 1; }
  int locations() const override { return tokens_; }
  void initialize(Rng& rng, float* w) const override { initialize_uniform(rng, w, width_, weight_cols(), false); }

  LayerMemory memory(uint64_t m, bool) const override {
    const uint64_t rows = m * tokens_;
    return {rows * (1 + (uint64_t)weight_cols() + 2 * (uint64_t)width_), 0, 0,
            std::to_string(rows) + " token ids, their two-hot rows, outputs and gradient rows"};
  }
  void bind(Backend&, int capacity, LayerBuffers& own, const std::function<float*(size_t)>& take) const override {
    const size_t rows = (size_t)capacity * tokens_;
    own.in = {take(rows), tokens_};  // one row of ids per sample, as the data loader writes it
    own.abar = take(rows * weight_cols());
    own.h = take(rows * width_);
    own.g = take(rows * width_);
    own.out_grad = {own.g, width_};
  }

  // The token rows go to the backend's threads in ranges (the ids are checked first, on the calling thread, so
  // that a bad one is an error and not an exception in a worker). The weight gradient's rows (one per output
  // column c) go to the threads too, each summing over the tokens in the same order whatever the thread count
  // (§18.8).
  void forward(const LayerPass& p, Rows out) const override {
    const int n = weight_cols();
    for (int i = 0; i < p.ws.m; ++i)
      for (int t = 0; t < tokens_; ++t) token(p, i, t);
    cpu::parallel_rows(p.ws.m * tokens_, n + 2 * width_, p.backend.threads(), [&](int begin, int end) {
      for (int r = begin; r < end; ++r) {
        const int t = r % tokens_, v = token(p, r / tokens_, t);
        float* abar = p.own.abar + (size_t)r * n;  // the two-hot input row with its homogeneous 1, for the curvature methods
        std::fill(abar, abar + n, 0.0f);
        abar[v] = 1.0f;
        if (positional_) abar[vocabulary_ + t] = 1.0f;
        abar[n - 1] = 1.0f;
        float* h = p.own.h + (size_t)r * width_;
        for (int c = 0; c < width_; ++c) {
          const float* wc = p.weights + (size_t)c * n;
          h[c] = wc[v] + (positional_ ? wc[vocabulary_ + t] : 0.0f) + wc[n - 1];
        }
        std::copy(h, h + width_, out.data + (size_t)r * out.ld);
      }
    });
  }
  void backward(const LayerPass& p, Rows, float* weight_grad) const override {
    if (!weight_grad) return;
    const int n = weight_cols(), rows = p.ws.m * tokens_;
    const float scale = 1.0f / p.ws.batch;
    cpu::parallel_rows(width_, (size_t)n + 3 * rows, p.backend.threads(), [&](int begin, int end) {
      std::fill(weight_grad + (size_t)begin * n, weight_grad + (size_t)end * n, 0.0f);
      for (int r = 0; r < rows; ++r) {
        const int t = r % tokens_, v = token(p, r / tokens_, t);
        const float* g = p.own.out_grad.data + (size_t)r * p.own.out_grad.ld;
        for (int c = begin; c < end; ++c) {
          float* dc = weight_grad + (size_t)c * n;
          dc[v] += scale * g[c];
          if (positional_) dc[vocabulary_ + t] += scale * g[c];
          dc[n - 1] += scale * g[c];
        }
      }
    });
  }

 private:
  // Token t of sample i; an id outside the vocabulary is an error naming it (lib/tokens.ts checks data first).
  int token(const LayerPass& p, int i, int t) const {
    const float id = p.own.in.data[(size_t)i * p.own.in.ld + t];
    if (!(id >= 0 && id < vocabulary_ && id == std::floor(id)))
      throw Error(ErrorKind::InvalidData, "token id " + std::to_string(id) + " (sample " + std::to_string(p.ws.first + i) +
                                              " of the batch, position " + std::to_string(t) + ") is not in [0, " +
                                              std::to_string(vocabulary_) + ")");
    return (int)id;
  }

  int vocabulary_;
  bool positional_;
};

}  // namespace

// { vocabulary, width, tokens, positional }
std::unique_ptr<Layer> make_embedding(int i, const LayerFields& f) {
  const int vocabulary = f.whole("vocabulary"), width = width_field(i, f), tokens = token_field(i, f);
  if (vocabulary < 2 || vocabulary > (1 << 20))
    throw Error(ErrorKind::InvalidArgument, layer_name(i, "embedding") + " has a vocabulary of " + std::to_string(vocabulary) +
                                                " (2 to " + std::to_string(1 << 20) + " tokens)");
  if (tokens <= 0) throw Error(ErrorKind::InvalidArgument, layer_name(i, "embedding") + " needs a sequence length (tokens > 0)");
  return std::make_unique<Embedding>(vocabulary, width, tokens, f.flag("positional"));
}

}  // namespace kb
