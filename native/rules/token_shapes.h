// The shapes the token layers' backend operations take (algorithm.md §18): the embedding's two-hot map and the
// causal attention's heads, and what a valid token id is. Usable in CUDA kernels as in host code.
#pragma once

#include "host_device.h"

namespace kb {

// A token id as the engine receives it (a float, §18.1): a whole number in [0, classes).
KB_HOST_DEVICE inline bool valid_token_id(float id, int classes) {
  return id >= 0 && id < (float)classes && id == (float)(int)id;  // the cast only after the range check
}

// Token ids of one sample (`tokens` of them) to rows of `width` values through W = [Eᵀ | Pᵀ | b] (§18.1):
// W is width x cols(), the positional columns present when `positional`.
struct EmbeddingShape {
  int vocabulary = 0, tokens = 0, width = 0;
  bool positional = false;
  KB_HOST_DEVICE int cols() const { return vocabulary + (positional ? tokens : 0) + 1; }
};

// Causal self-attention over `tokens` rows per sample (§18.4): each input row holds [q | k | v] of width()
// values each, head h owning columns h·head_width .. (h+1)·head_width − 1 of each part.
struct AttentionShape {
  int tokens = 0, heads = 0, head_width = 0;
  KB_HOST_DEVICE int width() const { return heads * head_width; }
  // Floats of P per sample: a T x T matrix per head.
  KB_HOST_DEVICE long long weights_per_sample() const { return (long long)heads * tokens * tokens; }
};

}  // namespace kb
