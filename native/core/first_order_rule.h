// One parameter's first-order update (algorithm.md §2, §6): SGD with momentum, Adam, RMSprop, in the paper's protocol
// or with PyTorch semantics. Both backends apply this same function element by element (the CUDA backend as
// device code), so their results round alike.
#pragma once

#include <cmath>

#include "backend.h"
#include "host_device.h"

namespace kb {

// bias1 = 1 − β₁^step and bias2 = 1 − β₂^step, computed once per step by the caller.
KB_HOST_DEVICE inline void first_order_element(const FirstOrderUpdate& u, float bias1, float bias2, float& theta,
                                               float grad, float& m, float& v) {
  const float b1 = u.beta1, b2 = u.beta2, eps = u.eps, wd = u.weight_decay;
  float step;
  if (u.paper) {  // algorithm.md §2 step 4 then §6: every method acts on the EMA momentum m, not on the raw gradient
    const float mi = b1 * m + (1 - b1) * (grad + wd * theta);
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
  } else {  // PyTorch semantics: torch.optim.SGD / Adam / RMSprop, weight_decay as L2 on the gradient
    const float g = grad + wd * theta;
    step = g;
    if (u.kind == FirstOrderUpdate::Sgd) {
      if (b1 != 0) {
        const float buf = u.first_step ? g : b1 * m + (1 - u.dampening) * g;
        m = buf;
        step = u.nesterov ? g + b1 * buf : buf;
      }
    } else if (u.kind == FirstOrderUpdate::Adam) {
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      step = (m / bias1) / (sqrtf(v) / sqrtf(bias2) + eps);
    } else {
      v = b2 * v + (1 - b2) * g * g;
      const float scaled = g / (sqrtf(v) + eps);
      if (u.rms_momentum > 0) {
        m = u.rms_momentum * m + scaled;
        step = m;
      } else {
        step = scaled;
      }
    }
  }
  theta -= u.lr * step;
}

}  // namespace kb
