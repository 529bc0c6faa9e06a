// One parameter's first-order update (algorithm.md §2, §6, §15.1): SGD with momentum, Adam, AdamW, RMSprop, in the
// paper's protocol or with PyTorch semantics. Both backends apply this same function element by element (the CUDA backend as
// device code), so their results round alike.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace kb {

// The settings of one fused first-order update, one meaning per field.
struct FirstOrderUpdate {
  enum Kind : int { Sgd = 0, Adam = 1, RmsProp = 2 } kind = Sgd;
  // The paper's protocol (algorithm.md §2, §6): M ← ρM + (1 − ρ)(g + τθ), then the method acts on M.
  // Otherwise PyTorch's definitions: the method acts on g + weight_decay·θ with its own buffers.
  bool paper = false;
  float lr = 0.01f;
  // Paper: ρ of M, for every method. PyTorch SGD: heavy-ball momentum; PyTorch RMSprop: momentum of the update
  // buffer; unused by PyTorch Adam.
  float momentum = 0.0f;
  float beta1 = 0.0f;          // PyTorch Adam: decay of the first moment
  float square_decay = 0.0f;   // decay of the running mean of squares: Adam's β₂, RMSprop's α
  float eps = 0.0f;
  float weight_decay = 0.0f;   // τ in the paper's protocol, the L2 coefficient otherwise (decoupled: AdamW's λ)
  // PyTorch semantics only: the decay shrinks θ by lr·weight_decay beside the step instead of entering the
  // gradient (AdamW, algorithm.md §15.1).
  bool decoupled = false;
  float dampening = 0.0f;      // PyTorch SGD
  bool nesterov = false;       // PyTorch SGD
  bool first_step = false;     // PyTorch SGD: the momentum buffer starts at the first gradient
  int64_t step = 1;            // 1-based step number (bias corrections)
};

// Adam's bias corrections 1 − β^step of the first moment (paper: ρ) and of the mean of squares, computed once
// per step on the host by either backend.
struct BiasCorrections {
  float first, square;
};
inline BiasCorrections bias_corrections(const FirstOrderUpdate& u) {
  const float first_decay = u.paper ? u.momentum : u.beta1;
  return {1.0f - std::pow(first_decay, (float)u.step), 1.0f - std::pow(u.square_decay, (float)u.step)};
}

// bias1 and bias2 from bias_corrections().
KB_HOST_DEVICE inline void first_order_element(const FirstOrderUpdate& u, float bias1, float bias2, float& theta,
                                               float grad, float& m, float& v) {
  const float b2 = u.square_decay, eps = u.eps, wd = u.weight_decay;
  float step;
  if (u.paper) {  // algorithm.md §2 step 4 then §6: every method acts on the EMA momentum m, not on the raw gradient
    const float rho = u.momentum;
    const float mi = rho * m + (1 - rho) * (grad + wd * theta);
    m = mi;
    step = mi;
    if (u.kind == FirstOrderUpdate::RmsProp) {
      v = b2 * v + (1 - b2) * mi * mi;
      step = mi / (sqrtf(v) + eps);
    } else if (u.kind == FirstOrderUpdate::Adam) {
      const float mhat = mi / bias1;
      v = b2 * v + (1 - b2) * mhat * mhat;
      step = mhat / (sqrtf(v / bias2) + eps);
    }
  } else {  // PyTorch semantics: torch.optim.SGD / Adam / AdamW / RMSprop, weight_decay as L2 on the gradient or decoupled
    if (u.decoupled) theta *= 1 - u.lr * wd;  // AdamW: θ shrinks by lr·λ beside the step (algorithm.md §15.1)
    const float g = u.decoupled ? grad : grad + wd * theta;
    step = g;
    if (u.kind == FirstOrderUpdate::Sgd) {
      const float mu = u.momentum;
      if (mu != 0) {
        const float buf = u.first_step ? g : mu * m + (1 - u.dampening) * g;
        m = buf;
        step = u.nesterov ? g + mu * buf : buf;
      }
    } else if (u.kind == FirstOrderUpdate::Adam) {
      const float b1 = u.beta1;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      step = (m / bias1) / (sqrtf(v) / sqrtf(bias2) + eps);
    } else {
      v = b2 * v + (1 - b2) * g * g;
      const float scaled = g / (sqrtf(v) + eps);
      if (u.momentum > 0) {
        m = u.momentum * m + scaled;
        step = m;
      } else {
        step = scaled;
      }
    }
  }
  theta -= u.lr * step;
}

}  // namespace kb
