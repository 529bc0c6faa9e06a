#include "step_rules.h"

#include <cmath>

#include "errors.h"

namespace kb {

double LrSchedule::factor(int64_t k) const {
  if (!active()) return 1.0;
  if (k < warmup_steps) return (double)(k + 1) / (double)warmup_steps;  // 1/W, 2/W, ..., 1 (§15.3)
  if (k >= total_steps - 1) return min_factor;
  // Decay steps W .. T−1 at progress (k − W + 1)/(T − W): the last one reaches min_factor.
  const double progress = (double)(k - warmup_steps + 1) / (double)(total_steps - warmup_steps);
  return min_factor + (1 - min_factor) * 0.5 * (1 + std::cos(std::acos(-1.0) * progress));
}

StepRules step_rules(const std::map<std::string, double>& numbers) {
  auto fail = [](const std::string& problem) { throw Error(ErrorKind::InvalidArgument, "step rules: " + problem); };
  static const char* const kNames[] = {"clipNorm", "warmupSteps", "totalSteps", "minFactor"};
  for (const char* name : kNames)
    if (!numbers.count(name)) fail(std::string("lack '") + name + "'");
  if (numbers.size() != std::size(kNames)) fail("have a setting other than clipNorm, warmupSteps, totalSteps, minFactor");
  auto whole = [&](const char* name) {
    const double v = numbers.at(name);
    if (!(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v))) fail(std::string(name) + " must be a whole number >= 0");
    return (int64_t)v;
  };
  StepRules rules;
  rules.clip_norm = numbers.at("clipNorm");
  if (!(rules.clip_norm >= 0 && std::isfinite(rules.clip_norm))) fail("clipNorm must be a finite number >= 0");
  rules.schedule.warmup_steps = whole("warmupSteps");
  rules.schedule.total_steps = whole("totalSteps");
  rules.schedule.min_factor = numbers.at("minFactor");
  const LrSchedule& s = rules.schedule;
  if (s.active() && s.total_steps <= s.warmup_steps) fail("totalSteps must be larger than warmupSteps");
  if (!s.active() && s.warmup_steps > 0) fail("warmupSteps needs totalSteps");
  if (!(s.min_factor >= 0 && s.min_factor <= 1)) fail("minFactor must be between 0 and 1");
  return rules;
}

namespace {
// Scales count entries of grad to norm clip_norm if their norm is larger.
bool clip_range(Backend& be, float* grad, size_t count, double clip_norm) {
  const double norm = std::sqrt(be.sum_squares(grad, count));
  if (!std::isfinite(norm) || norm <= clip_norm) return false;
  be.axpby(count, (float)(clip_norm / norm), grad, 0.0f, grad);
  return true;
}

// The optimizer's lr for the duration of one step; the set value is put back however the step ends.
class ScaledLr {
 public:
  ScaledLr(Optimizer& opt, double factor) : opt_(opt) {
    Diagnostics values;
    opt.hyperparameters(values);
    for (const auto& [name, value] : values)
      if (name == "lr") set_ = value;
    opt.set_hyperparameter("lr", set_ * factor);
  }
  ~ScaledLr() { opt_.set_hyperparameter("lr", set_); }
  ScaledLr(const ScaledLr&) = delete;
  ScaledLr& operator=(const ScaledLr&) = delete;

 private:
  Optimizer& opt_;
  double set_ = 0;
};
}  // namespace

bool clip_gradient(Network& net, float* grad, double clip_norm) {
  Backend& be = net.backend();
  const bool clipped = clip_range(be, grad, net.param_count(), clip_norm);  // one norm over all layers (§15.2)
  return clipped;
}

bool step_under_rules(const StepRules& rules, Optimizer& opt, Network& net, Workspace& ws, int64_t k) {
  const bool clipped = rules.clip_norm > 0 && clip_gradient(net, ws.grad, rules.clip_norm);
  if (!rules.schedule.active()) {
    opt.step(net, ws, k);
    return clipped;
  }
  ScaledLr lr(opt, rules.schedule.factor(k));
  opt.step(net, ws, k);
  return clipped;
}

}  // namespace kb
