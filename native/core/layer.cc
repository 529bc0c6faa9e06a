// What the layer kinds share: names in messages, the activation setting, the initial weights.
#include "layer.h"

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "names.h"
#include "../rules/rng.h"

namespace kb {

std::string layer_name(int i, const char* kind) { return "layer " + std::to_string(i) + " (" + kind + ")"; }

Activation activation_field(int i, const LayerFields& fields) {
  const std::string name = fields.text("activation");
  Activation activation;
  if (!from_name(kActivationNames, name, &activation))
    throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an unknown activation '" + name +
                                                "' (" + name_list(kActivationNames) + ")");
  return activation;
}

int token_field(int i, const LayerFields& fields) {
  const int tokens = fields.whole("tokens");
  if (tokens < 0 || tokens > kMaxTokens)
    throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has a sequence length of " + std::to_string(tokens) +
                                                " (at most " + std::to_string(kMaxTokens) + ")");
  return tokens;
}

void initialize_uniform(Rng& rng, float* w, int rows, int cols, bool bias) {
  const double bound = 1.0 / std::sqrt((double)(cols - 1));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols - 1; ++j) w[(size_t)i * cols + j] = (float)((2 * rng.uniform() - 1) * bound);
  if (!bias) return;  // b stays 0 (its input is 0)
  for (int i = 0; i < rows; ++i) w[(size_t)i * cols + cols - 1] = (float)((2 * rng.uniform() - 1) * bound);
}

}  // namespace kb
