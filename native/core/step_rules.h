// What the trainer does around every optimizer's step, whatever the method (algorithm.md §15.2, §15.3): the
// gradient clipped to a global norm, and the learning rate scaled by a schedule of the step number.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "optimizer.h"

namespace kb {

// Linear warm-up, then cosine decay to min_factor (algorithm.md §15.3): the factor of the optimizer's lr at
// 0-based step k. total_steps == 0: no schedule (factor 1 at every step).
struct LrSchedule {
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_factor = 0;

  bool active() const { return total_steps > 0; }
  double factor(int64_t k) const;
};

struct StepRules {
  double clip_norm = 0;  // 0: no clipping
  LrSchedule schedule;
};

// The rules from their TypeScript names (lib/optimizers.ts): clipNorm, warmupSteps, totalSteps, minFactor, each
// required; InvalidArgument names a missing, unknown or out-of-range one.
StepRules step_rules(const std::map<std::string, double>& numbers);

// Scales ws.grad, the mean gradient of one step, to norm clip_norm when its norm over all of net's parameters
// is larger (algorithm.md §15.2); returns whether it did. The gradient is already summed over the ranks (§13.1),
// so every rank sees the global norm with no further communication. A non-finite norm is left to the numerical
// guard.
bool clip_gradient(Network& net, float* grad, double clip_norm);

// Runs one optimizer step under the rules: clips ws's gradient, then steps with lr × the schedule's factor of
// step k, the optimizer's own lr put back afterwards (so callbacks, checkpoints and events keep the peak lr).
// Returns whether the gradient was clipped. Without rules this is opt.step itself, bit for bit.
bool step_under_rules(const StepRules& rules, Optimizer& opt, Network& net, Workspace& ws, int64_t k);

}  // namespace kb
