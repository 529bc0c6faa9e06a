// The optimizer's side of the divergence safeguard (docs/algorithm.md §11.2). The trainer
// undoes a step after which the minibatch loss rises past kDivergenceRatio times the smaller of the loss before
// the step and a moving average of the losses before kept steps (so a slow climb is caught as well as a jump);
// the next steps are then taken at half the step length, which grows back by kRecovery per kept step until it
// is the set α again. At scale 1 the set α is used as is, so a run in which the safeguard never fires is bit for
// bit the unguarded method. Both numbers are optimizer state (checkpoints resume the decisions exactly).
#pragma once

#include <algorithm>
#include <cmath>

namespace kb {

class StepLength {
 public:
  static constexpr double kDivergenceRatio = 1.25;
  static constexpr double kRecovery = 1.05;
  static constexpr double kAverageDecay = 0.9;

  explicit StepLength(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  float lr(float set) const { return scale_ == 1.0 ? set : (float)(set * scale_); }

  // Whether a step that took the minibatch loss from before to after must be undone.
  bool diverged(double before, double after) const {
    return after > kDivergenceRatio * std::fmin(before, average_);  // fmin: no average before the first kept step
  }
  void rejected() { scale_ *= 0.5; }
  void accepted(double before) {
    average_ = std::isnan(average_) ? before : kAverageDecay * average_ + (1 - kAverageDecay) * before;
    scale_ = std::min(1.0, scale_ * kRecovery);
  }

  // Checkpoints and the numerical guard's state copy.
  double scale() const { return scale_; }
  double average() const { return average_; }
  void restore(double scale, double average) {
    scale_ = std::clamp(scale, 0.0, 1.0);
    average_ = average;
  }

 private:
  bool enabled_;
  double scale_ = 1.0;
  double average_ = NAN;
};

}  // namespace kb
