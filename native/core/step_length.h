// The optimizer's side of the divergence safeguard (docs/algorithm.md §11.2). The trainer
// undoes a step after which the minibatch loss rises past kDivergenceRatio times the smaller of the loss before
// the step and a moving average of the losses before kept steps (so a slow climb is caught as well as a jump),
// or past that reference plus kNoiseAllowance standard deviations of the difference of two minibatch losses,
// whichever is higher (small batches of a loss with a wide per-sample spread differ by more than 25% by chance).
// The noise is estimated from the batch before the step only (a step that wrecks the model also widens the spread
// of the losses after it). After an undone step the next steps are taken at half the step length, which grows
// back by kRecovery per kept step until it is the set α again. At scale 1 the set α is used as is, so a run in
// which the safeguard never fires is bit for bit the unguarded method. Both numbers are optimizer state
// (checkpoints resume the decisions exactly).
#pragma once

#include <algorithm>
#include <cmath>

namespace kb {

// A minibatch's mean loss and the variance of that mean estimated from the spread of its m per-sample losses
// (sample variance / m).
struct MeanLoss {
  double mean = NAN;
  double variance = 0;

  static MeanLoss of_batch(double sum, double square_sum, int m) {
    const double mean = sum / m;
    const double sample_variance = m > 1 ? std::fmax(0.0, (square_sum - m * mean * mean) / (m - 1)) : 0.0;
    return {mean, sample_variance / m};
  }
};

class StepLength {
 public:
  static constexpr double kDivergenceRatio = 1.25;
  static constexpr double kNoiseAllowance = 3;
  static constexpr double kRecovery = 1.05;
  static constexpr double kAverageDecay = 0.9;

  explicit StepLength(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  float lr(float set) const { return scale_ == 1.0 ? set : (float)(set * scale_); }

  // The loss above which a step from a minibatch loss `before` is undone.
  double bound(const MeanLoss& before) const {
    const double reference = std::fmin(before.mean, average_);  // fmin: no average before the first kept step
    const double noise = std::sqrt(2 * before.variance);  // two independent batches of the same spread
    return std::fmax(kDivergenceRatio * reference, reference + kNoiseAllowance * noise);
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
