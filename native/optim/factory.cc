#include "factory.h"

#include "../core/errors.h"
#include "first_order.h"
#include "kbfgs.h"
#include "kfac.h"

namespace kb {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec) {
  if (spec.kind == "kbfgs" || spec.kind == "kbfgs-l") {
    KbfgsSettings k;
    k.lr = (float)spec.get("lr", k.lr);
    k.damping = spec.get("damping", k.damping);
    k.momentum = (float)spec.get("momentum", k.momentum);
    k.weight_decay = (float)spec.get("weightDecay", k.weight_decay);
    k.memory = spec.kind == "kbfgs-l" ? (int)spec.get("memory", 100) : 0;
    k.safeguard = spec.get("safeguard", 1) != 0;
    return std::make_unique<KbfgsOptimizer>(k);
  }
  if (spec.kind == "kfac") {
    KfacSettings k;
    k.lr = (float)spec.get("lr", k.lr);
    k.damping = spec.get("damping", k.damping);
    k.momentum = (float)spec.get("momentum", k.momentum);
    k.weight_decay = (float)spec.get("weightDecay", k.weight_decay);
    k.inverse_every = (int)spec.get("inverseEvery", k.inverse_every);
    k.seed = (uint64_t)spec.get("seed", 0);
    k.safeguard = spec.get("safeguard", 1) != 0;
    return std::make_unique<KfacOptimizer>(k);
  }
  FirstOrderUpdate u;
  u.paper = spec.paper;
  u.lr = (float)spec.get("lr", 0.01);
  u.weight_decay = (float)spec.get("weightDecay", 0);
  u.eps = (float)spec.get("epsilon", 0);
  if (spec.kind == "sgd") {
    u.kind = FirstOrderUpdate::Sgd;
    u.beta1 = (float)spec.get("momentum", 0);
    u.dampening = (float)spec.get("dampening", 0);
    u.nesterov = spec.get("nesterov", 0) != 0;
  } else if (spec.kind == "adam") {
    u.kind = FirstOrderUpdate::Adam;
    u.beta1 = (float)spec.get("beta1", 0.9);
    u.beta2 = (float)spec.get("beta2", 0.999);
  } else if (spec.kind == "rmsprop") {
    u.kind = FirstOrderUpdate::RmsProp;
    u.beta1 = (float)spec.get("momentum", 0);  // paper: the gradient EMA rho; PyTorch: heavy-ball momentum
    u.beta2 = (float)spec.get("alpha", 0.99);
    if (!u.paper) {
      u.rms_momentum = u.beta1;
      u.beta1 = 0;
    }
  } else {
    throw Error(ErrorKind::InvalidArgument, "unknown optimizer kind '" + spec.kind + "'");
  }
  return std::make_unique<FirstOrderOptimizer>(u);
}

}  // namespace kb
