// The optimizer's side of the divergence safeguard (docs/algorithm.md, "Divergence safeguard"): the trainer
// undoes a step after which the minibatch loss jumps; the next steps are then taken with half the step
// length, which grows back by 10% per accepted step until it is the set α again. At scale 1 the set α is
// used as is, so a run in which the safeguard never fires is bit for bit the unguarded method.
#pragma once

#include <algorithm>

namespace kb {

class StepLength {
 public:
  explicit StepLength(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  float lr(float set) const { return scale_ == 1.0 ? set : (float)(set * scale_); }
  double scale() const { return scale_; }
  void set_scale(double scale) { scale_ = std::clamp(scale, 0.0, 1.0); }
  void rejected() { scale_ *= 0.5; }
  void accepted() { scale_ = std::min(1.0, scale_ * 1.1); }

 private:
  bool enabled_;
  double scale_ = 1.0;
};

}  // namespace kb
