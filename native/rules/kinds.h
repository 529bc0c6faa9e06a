// The activation and loss kinds every backend computes (algorithm.md §1, §7.1), numbered as lib/ passes them.
#pragma once

namespace kb {

enum class Activation : int { Linear = 0, Relu = 1, Sigmoid = 2, Tanh = 3, Gelu = 4 };

// Per-sample losses, summed over outputs, averaged over the batch by the caller (algorithm.md §7.1).
enum class Loss : int {
  SigmoidCrossEntropy = 0,  // BCE on logits z with targets t in [0,1]
  HalfSquaredError = 1,     // 0.5 * sum (z - t)^2
  SoftmaxCrossEntropy = 2,  // -sum t * log softmax(z)
};

}  // namespace kb
