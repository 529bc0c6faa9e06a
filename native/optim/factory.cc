#include "factory.h"

#include <cmath>
#include <initializer_list>
#include <vector>

#include "../core/errors.h"
#include "first_order.h"
#include "kbfgs.h"
#include "kfac.h"
#include "shampoo.h"
#include "soap.h"

namespace kb {
namespace {

// The settings of one kind: fields() names them all; get() reads one that fields() listed.
class Settings {
 public:
  // `optional`: settings that may be absent (has() tells).
  Settings(const OptimizerSpec& spec, const std::vector<const char*>& fields, const std::vector<const char*>& optional = {})
      : spec_(spec) {
    for (const char* field : fields)
      if (!spec.numbers.count(field)) fail(std::string("lacks the setting '") + field + "'");
    for (const auto& [name, value] : spec.numbers) {
      bool known = false;
      for (const char* field : fields) known = known || name == field;
      for (const char* field : optional) known = known || name == field;
      if (!known) fail("has no setting '" + name + "'");
    }
  }
  bool has(const char* field) const { return spec_.numbers.count(field) > 0; }
  double get(const char* field) const { return spec_.numbers.at(field); }
  bool flag(const char* field) const { return get(field) != 0; }
  // A count such as an interval: a whole number of at least `least` (1 by default: a zero interval would
  // divide by zero).
  int count(const char* field, int least = 1) const {
    const double v = get(field);
    if (!(v >= least && v <= 2147483647.0 && v == (double)(int)v))
      fail(std::string("setting '") + field + "' must be a whole number of at least " + std::to_string(least));
    return (int)v;
  }

 public:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(ErrorKind::InvalidArgument, "optimizer '" + spec_.kind + "' " + problem);
  }
  const OptimizerSpec& spec_;
};

// The settings every second-order method reads (second_order.h), followed by the method's own.
std::vector<const char*> second_order_fields(std::initializer_list<const char*> own) {
  std::vector<const char*> fields = {"lr", "damping", "momentum", "weightDecay", "safeguard"};
  fields.insert(fields.end(), own);
  return fields;
}

void read_second_order(const Settings& s, SecondOrderSettings& k) {
  k.lr = (float)s.get("lr");
  k.damping = s.get("damping");
  k.momentum = (float)s.get("momentum");
  k.weight_decay = (float)s.get("weightDecay");
  k.safeguard = s.flag("safeguard");
}

// Adaptive damping (algorithm.md §19): the three settings come together, and only for K-BFGS, K-BFGS(L), KFAC;
// dampingScaledStart (§19.7) may be absent (settings from before it: the start as set).
const std::vector<const char*> kAdaptiveFields = {"dampingEvery", "dampingMin", "dampingMax"};
const std::vector<const char*> kAdaptiveOptional = {"dampingEvery", "dampingMin", "dampingMax", "dampingScaledStart"};

void read_adaptive(const Settings& s, SecondOrderSettings& k) {
  int present = 0;
  for (const char* field : kAdaptiveFields) present += s.has(field);
  if (present == 0 && s.has("dampingScaledStart")) s.fail("has dampingScaledStart without adaptive damping");
  if (present == 0) return;
  if (present != 3) s.fail("needs dampingEvery, dampingMin and dampingMax together (adaptive damping)");
  k.adaptive.scaled_start = s.has("dampingScaledStart") && s.flag("dampingScaledStart");
  if (k.adaptive.scaled_start) k.adaptive.first_judged = warmup_steps(k.momentum);
  k.adaptive.every = s.count("dampingEvery");
  k.adaptive.min = s.get("dampingMin");
  k.adaptive.max = s.get("dampingMax");
  if (!(k.adaptive.min > 0 && k.adaptive.min <= k.adaptive.max && std::isfinite(k.adaptive.max)))
    s.fail("needs 0 < dampingMin <= dampingMax, both finite (adaptive damping)");
  if (!(k.damping >= k.adaptive.min && k.damping <= k.adaptive.max))
    s.fail("starts adaptive damping at " + std::to_string(k.damping) + ", outside [dampingMin, dampingMax]");
}

std::unique_ptr<Optimizer> kbfgs(const OptimizerSpec& spec) {
  const bool limited = spec.kind == "kbfgs-l";
  const Settings s(spec, limited ? second_order_fields({"curvatureEvery", "memory"}) : second_order_fields({"curvatureEvery"}),
                   kAdaptiveOptional);
  KbfgsSettings k;
  read_second_order(s, k);
  read_adaptive(s, k);
  k.memory = limited ? s.count("memory") : 0;
  k.curvature_every = s.count("curvatureEvery");
  return std::make_unique<KbfgsOptimizer>(k);
}

std::unique_ptr<Optimizer> kfac(const OptimizerSpec& spec) {
  // dampingSplit may be absent (settings from before it: the even split).
  std::vector<const char*> optional = kAdaptiveOptional;
  optional.push_back("dampingSplit");
  const Settings s(spec, second_order_fields({"inverseEvery", "curvatureEvery", "seed"}), optional);
  KfacSettings k;
  read_second_order(s, k);
  read_adaptive(s, k);
  if (s.has("dampingSplit")) {
    const double split = s.get("dampingSplit");
    if (split != 0 && split != 1) s.fail("setting 'dampingSplit' must be 0 (even) or 1 (trace)");
    k.trace_split = split == 1;
  }
  k.inverse_every = s.count("inverseEvery");
  k.curvature_every = s.count("curvatureEvery");
  k.seed = (uint64_t)s.get("seed");
  return std::make_unique<KfacOptimizer>(k);
}

// Shampoo and SOAP (algorithm.md §17): the same settings, except the ε of the Adam step Shampoo grafts onto.
std::unique_ptr<Optimizer> kronecker_eigen(const OptimizerSpec& spec) {
  const bool shampoo = spec.kind == "shampoo";
  std::vector<const char*> fields = second_order_fields({"beta2", "precondEvery", "startPreconditioningStep", "maxPrecondDim"});
  if (shampoo) fields.push_back("epsilon");
  const Settings s(spec, fields);
  KroneckerSettings k;
  read_second_order(s, k);
  k.beta2 = (float)s.get("beta2");
  if (shampoo) k.epsilon = (float)s.get("epsilon");
  k.precond_every = s.count("precondEvery");
  k.start_preconditioning = s.count("startPreconditioningStep", 0);
  k.max_precond_dim = s.count("maxPrecondDim");
  if (shampoo) return std::make_unique<ShampooOptimizer>(k);
  return std::make_unique<SoapOptimizer>(k);
}

// What every first-order method has: its kind, the protocol, lr and the weight decay.
FirstOrderUpdate first_order(const OptimizerSpec& spec, const Settings& s, FirstOrderUpdate::Kind kind) {
  FirstOrderUpdate u;
  u.kind = kind;
  u.paper = spec.paper;
  u.lr = (float)s.get("lr");
  u.weight_decay = (float)s.get("weightDecay");
  return u;
}

std::unique_ptr<Optimizer> sgd(const OptimizerSpec& spec) {
  const Settings s(spec, {"lr", "momentum", "dampening", "nesterov", "weightDecay"});
  FirstOrderUpdate u = first_order(spec, s, FirstOrderUpdate::Sgd);
  u.momentum = (float)s.get("momentum");
  u.dampening = (float)s.get("dampening");
  u.nesterov = s.flag("nesterov");
  return std::make_unique<FirstOrderOptimizer>(u);
}

FirstOrderUpdate adam_update(const OptimizerSpec& spec) {
  const Settings s(spec, {"lr", "beta1", "beta2", "epsilon", "weightDecay"});
  FirstOrderUpdate u = first_order(spec, s, FirstOrderUpdate::Adam);
  u.eps = (float)s.get("epsilon");
  u.beta1 = (float)s.get("beta1");
  u.square_decay = (float)s.get("beta2");
  if (u.paper) u.momentum = (float)s.get("beta1");  // ρ of M
  return u;
}

std::unique_ptr<Optimizer> adam(const OptimizerSpec& spec) { return std::make_unique<FirstOrderOptimizer>(adam_update(spec)); }

// AdamW (algorithm.md §15.1): Adam with its weight decay decoupled from the gradient; PyTorch semantics only.
std::unique_ptr<Optimizer> adamw(const OptimizerSpec& spec) {
  if (spec.paper) throw Error(ErrorKind::InvalidArgument, "optimizer 'adamw' has no paper protocol");
  FirstOrderUpdate u = adam_update(spec);
  u.decoupled = true;
  return std::make_unique<FirstOrderOptimizer>(u);
}

std::unique_ptr<Optimizer> rmsprop(const OptimizerSpec& spec) {
  const Settings s(spec, {"lr", "alpha", "epsilon", "momentum", "weightDecay"});
  FirstOrderUpdate u = first_order(spec, s, FirstOrderUpdate::RmsProp);
  u.eps = (float)s.get("epsilon");
  u.square_decay = (float)s.get("alpha");
  u.momentum = (float)s.get("momentum");
  return std::make_unique<FirstOrderOptimizer>(u);
}

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec) {
  if (spec.kind == "kbfgs" || spec.kind == "kbfgs-l") return kbfgs(spec);
  if (spec.kind == "kfac") return kfac(spec);
  if (spec.kind == "shampoo" || spec.kind == "soap") return kronecker_eigen(spec);
  if (spec.kind == "sgd") return sgd(spec);
  if (spec.kind == "adam") return adam(spec);
  if (spec.kind == "adamw") return adamw(spec);
  if (spec.kind == "rmsprop") return rmsprop(spec);
  throw Error(ErrorKind::InvalidArgument, "unknown optimizer kind '" + spec.kind + "'");
}

}  // namespace kb
