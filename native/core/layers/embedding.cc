// Token and position embeddings (algorithm.md §18.1): the first layer of a token model. Each sample is `tokens`
// ids; token t of id v becomes the row E_v + P_t + b. Written as one dense map on the two-hot input
// [one-hot(v) | one-hot(t) | 1], W = [E^T | P^T | b] is width x (vocabulary + tokens + 1) with the bias as its
// last column like every kind's W, and W's column v is token v's embedding. The curvature methods see it as
// that dense map over tokens: its ā rows are the two-hot inputs, so KFAC's and K-BFGS's A holds the token and
// position frequencies (§18.6).
#include "token_layer.h"

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

  // The ids are checked once per batch, where a pass may wait for the answer (not in K-BFGS's second pass,
  // which a GPU may record: its ids are the first pass's).
  void forward(const LayerPass& p, Rows out) const override {
    if (!p.second_pass) check_ids(p);
    p.backend.embedding_forward(shape(), p.own.in.data, p.own.in.ld, p.ws.m, p.weights, p.own.abar, p.own.h, out.data,
                                out.ld);
  }
  void backward(const LayerPass& p, Rows, float* weight_grad) const override {
    if (!weight_grad) return;
    p.backend.embedding_weight_gradient(shape(), p.own.in.data, p.own.in.ld, p.ws.m, p.own.abar, p.own.out_grad.data,
                                        p.own.out_grad.ld, 1.0f / p.ws.batch, weight_grad);
  }

 private:
  EmbeddingShape shape() const { return {vocabulary_, tokens_, width_, positional_}; }
  // An id outside the vocabulary is an error naming it (lib/tokens.ts checks data first).
  void check_ids(const LayerPass& p) const {
    const int64_t bad = p.backend.first_bad_id(p.own.in.data, p.ws.m, tokens_, p.own.in.ld, vocabulary_);
    if (bad < 0) return;
    const int i = (int)(bad / tokens_), t = (int)(bad % tokens_);
    float id = 0;
    p.backend.to_host(&id, p.own.in.data + (size_t)i * p.own.in.ld + t, 1);
    throw Error(ErrorKind::InvalidData, "token id " + std::to_string(id) + " (sample " + std::to_string(p.ws.first + i) +
                                            " of the batch, position " + std::to_string(t) + ") is not in [0, " +
                                            std::to_string(vocabulary_) + ")");
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
