// What the layers over token rows share (algorithm.md §18): `tokens` rows per sample (tokens 0: one row per
// sample, a vector) of `width` output values, and their own input and output-gradient buffers. Their passes are
// Backend operations (the token layers' section of core/backend.h).
#pragma once

#include <algorithm>
#include <string>

#include "../errors.h"
#include "../layer.h"
#include "../network.h"

namespace kb {

class TokenLayer : public Layer {
 public:
  TokenLayer(int width, int tokens, int in_width = 0)
      : width_(width), in_width_(in_width ? in_width : width), tokens_(tokens), per_sample_(std::max(1, tokens)) {}
  size_t input_size() const override { return (size_t)in_width_ * per_sample_; }
  size_t output_size() const override { return (size_t)width_ * per_sample_; }
  DataKind output_kind() const override { return tokens_ ? DataKind::Tokens : DataKind::Vector; }
  int tokens() const override { return tokens_; }
  void check_below(int i, const Layer* below) const override {
    if (!below || below->tokens() != tokens_ || below->output_kind() == DataKind::Image)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " takes the " + std::to_string(tokens_) +
                                                  " token rows per sample of a layer below it");
  }
  // The memory check counts the device scratch on every backend (it is not told which).
  LayerMemory memory(uint64_t m, bool) const override {
    const uint64_t rows = m * per_sample_;
    return {rows * ((uint64_t)in_width_ + width_ + saved_per_row()) + m * (saved_per_sample() + device_scratch_per_sample()),
            0, 0, std::to_string(rows) + " rows of " + std::to_string(width_) + " values"};
  }
  void bind(Backend& backend, int capacity, LayerBuffers& own, const std::function<float*(size_t)>& take) const override {
    const size_t rows = (size_t)capacity * per_sample_;
    own.in = {take(rows * in_width_), in_width_};
    own.out_grad = {take(rows * width_), width_};
    const size_t scratch = backend.host_memory() ? 0 : device_scratch_per_sample();
    const size_t saved = rows * saved_per_row() + (size_t)capacity * (saved_per_sample() + scratch);
    if (saved) own.saved = take(saved);
  }

 protected:
  // Floats kept for backward (LayerBuffers::saved), per token row and per sample.
  virtual uint64_t saved_per_row() const { return 0; }
  virtual uint64_t saved_per_sample() const { return 0; }
  // Floats per sample after those that only a backend off the host takes, for its backward's intermediates.
  virtual uint64_t device_scratch_per_sample() const { return 0; }
  size_t rows(const LayerPass& p) const { return (size_t)p.ws.m * per_sample_; }

  int width_, in_width_;  // values per output and per input row
  int tokens_, per_sample_;
};

// The "width" setting of a token layer (Error InvalidArgument naming layer i when out of range).
inline int width_field(int i, const LayerFields& f, const char* key = "width") {
  const int width = f.whole(key);
  if (width <= 0 || width > (1 << 20)) throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an invalid " + key);
  return width;
}

}  // namespace kb
