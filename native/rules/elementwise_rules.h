// The element-wise rules of both backends, written once: activations and their derivatives, the per-element
// terms of the losses and their output gradients, the sampled targets of KFAC's Fisher, the gradient momentum
// and the running mean of squares (algorithm.md §1, §2, §5, §6). The CPU backend calls them in its loops, the
// CUDA kernels call the same functions compiled for the device (KB_HOST_DEVICE, no fused multiply-add), so
// both compute the same floats. The backends keep only how they loop and how they reduce.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>

#include "host_device.h"
#include "kinds.h"
#include "rng.h"

namespace kb {

// exp(−|z|): the one exponential from which sigmoid(z) and sigmoid cross-entropy are both formed.
KB_HOST_DEVICE inline float exp_neg_abs(float z) { return expf(-fabsf(z)); }

// sigmoid(z) from e = exp(−|z|): 1/(1 + e) for z ≥ 0, e/(1 + e) otherwise (no overflow on either side).
KB_HOST_DEVICE inline float sigmoid_from(float z, float e) { return (z >= 0 ? 1.0f : e) / (1.0f + e); }
KB_HOST_DEVICE inline float sigmoid(float z) { return sigmoid_from(z, exp_neg_abs(z)); }

// GELU in its tanh form (algorithm.md §18.3): ½ h (1 + tanh u), u = sqrt(2/π) (h + 0.044715 h³).
constexpr float kGeluScale = 0.7978845608028654f, kGeluCubic = 0.044715f;
KB_HOST_DEVICE inline float gelu_tanh(float h) { return tanhf(kGeluScale * (h + kGeluCubic * h * h * h)); }

KB_HOST_DEVICE inline float activate(Activation act, float h) {
  switch (act) {
    case Activation::Gelu: return 0.5f * h * (1 + gelu_tanh(h));
    case Activation::Relu: return h > 0 ? h : 0.0f;
    case Activation::Sigmoid: return sigmoid(h);
    case Activation::Tanh: return tanhf(h);
    case Activation::Linear: break;
  }
  return h;
}

// g · φ'(h): the backward pass through the activation at pre-activation h.
KB_HOST_DEVICE inline float activation_gradient(Activation act, float h, float g) {
  switch (act) {
    case Activation::Gelu: {  // ½ (1 + t) + ½ h (1 − t²) u'(h)
      const float t = gelu_tanh(h);
      return g * (0.5f * (1 + t) + 0.5f * h * (1 - t * t) * kGeluScale * (1 + 3 * kGeluCubic * h * h));
    }
    case Activation::Relu: return h > 0 ? g : 0.0f;
    case Activation::Sigmoid: { const float s = sigmoid(h); return g * (s * (1 - s)); }
    case Activation::Tanh: { const float t = tanhf(h); return g * (1 - t * t); }
    case Activation::Linear: break;
  }
  return g;
}

// Sigmoid cross-entropy on the logit z with target t: ℓ = max(z, 0) − z t + log1p(e) with e = exp(−|z|), and
// ∂ℓ/∂z = sigmoid(z) − t. The caller adds log1p(e) as its reduction allows (the backends say how).
struct SigmoidCrossEntropyTerm {
  float linear;    // max(z, 0) − z t (NaN stays NaN)
  float e;         // exp(−|z|)
  float gradient;  // sigmoid(z) − t
};
KB_HOST_DEVICE inline SigmoidCrossEntropyTerm sigmoid_cross_entropy(float z, float t) {
  const float e = exp_neg_abs(z);
  return {(z < 0.0f ? 0.0f : z) - z * t, e, sigmoid_from(z, e) - t};
}

// Half squared error: ℓ = ½ r², ∂ℓ/∂z = r with r = z − t (the caller squares r in double).
KB_HOST_DEVICE inline float squared_error_residual(float z, float t) { return z - t; }

// KFAC's sampled targets (algorithm.md §5), element i of a call with its seed: Bernoulli(p) from uniform 2i;
// N(z, 1) by Box-Muller from uniforms 2i and 2i + 1; for softmax, the class whose cumulative probability
// first exceeds the row's first uniform u (the last class if rounding leaves u above the total).
KB_HOST_DEVICE inline float bernoulli_target(uint64_t seed, size_t i, float p) {
  return uniform_at(seed, 2 * i) < (double)p ? 1.0f : 0.0f;
}
KB_HOST_DEVICE inline float normal_target(uint64_t seed, size_t i, float z) {
  const double u1 = uniform_at(seed, 2 * i), u2 = uniform_at(seed, 2 * i + 1);
  return (float)(z + sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2));
}
KB_HOST_DEVICE inline int categorical_target(const float* p, int d, double u) {
  double cdf = 0;
  for (int j = 0; j < d; ++j) {
    cdf += p[j];
    if (u < cdf) return j;
  }
  return d - 1;
}

// M ← ρM + (1 − ρ)(∇ + τθ): the gradient momentum every method of the paper's protocol receives (§2 step 4).
KB_HOST_DEVICE inline float gradient_momentum(float rho, float tau, float theta, float grad, float m) {
  return rho * m + (1 - rho) * (grad + tau * theta);
}

// v ← keep·v + add·(∇ + τθ)²: the running mean behind RMSprop's warm start (§6), keep = (j−1)/j, add = 1/j.
KB_HOST_DEVICE inline float running_mean_of_squares(float keep, float add, float tau, float theta, float grad, float v) {
  const float g = grad + tau * theta;
  return keep * v + add * g * g;
}

}  // namespace kb
