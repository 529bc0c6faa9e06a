// The trainer's answer to a step that goes non-finite (spec: report numerical trouble where it appears; keep
// the last good weights and optimizer state, or skip the step and raise the damping when asked).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "optimizer.h"
#include "buffers.h"
#include "errors.h"
#include "network.h"
#include "trainer.h"

namespace kb {

// The first layer whose pre-activations hold a NaN or Inf after a forward pass (or "the loss" if none do).
inline std::string where_non_finite(Network& net, Workspace& ws) {
  for (int l = 0; l < net.num_layers(); ++l)
    if (net.backend().first_non_finite(ws.h[l], (size_t)ws.m * net.rows(l)) >= 0)
      return "in the pre-activations of layer " + std::to_string(l);
  return "in the loss";
}

// The first layer whose weights or bias hold a NaN or Inf, or "" when all are finite.
inline std::string where_non_finite_weights(Network& net) {
  for (int l = 0; l < net.num_layers(); ++l)
    if (net.backend().first_non_finite(net.weights(l), (size_t)net.rows(l) * net.cols(l)) >= 0)
      return "in the weights of layer " + std::to_string(l);
  return "";
}

constexpr int kMaxConsecutiveSkips = 5;
// The divergence safeguard (core/step_length.h): so many undone steps in a row end training.
constexpr int kMaxConsecutiveRejections = 10;

// Where a step stands, named only when a message needs it (no string is built in the step loop).
struct StepPosition {
  int64_t step = 0;
  int epoch = 0, batch = 0;
  std::string name() const {
    return "step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) + ")";
  }
};

// What happens when a step goes non-finite (a NaN or an infinity in the loss or in a quantity the optimizer
// watches): the weights and the optimizer state from before that step are put back (both are copied before
// every step: for K-BFGS on MNIST about 60 MB, a few ms on the CPU), then by default training stops with a
// Numerical error naming the step, the phase and the layer. In the skip mode the optimizer is made more
// conservative (Optimizer::raise_damping) and training goes on, up to kMaxConsecutiveSkips failed steps in a row.
class NumericalGuard {
 public:
  NumericalGuard(Network& net, Optimizer& opt, ParameterBackup& weights, bool skip)
      : net_(net), opt_(opt), weights_(weights), skip_(skip) {
    owned_.bind(net.backend());
    opt.state_buffers(live_);
    for (const StateBuffer& b : live_) copies_.push_back(owned_.take(b.count));
    opt.take_non_finite_report();  // flags left by a step of an earlier, aborted fit are not this fit's
  }

  // Before each step: what to fall back to, where the step stands for messages, and the minibatch loss
  // before it (what the divergence safeguard compares the loss after it with).
  void save(const StepPosition& step, const MeanLoss& before) {
    before_ = before;
    Backend& be = net_.backend();
    be.copy(weights_.data, net_.params(), net_.param_count());
    for (size_t i = 0; i < live_.size(); ++i) be.copy(copies_[i], live_[i].data, live_[i].count);
    scalars_.clear();
    opt_.state_scalars(scalars_);
    last_step_ = step;
    pending_ = true;
  }

  // After the forward pass at the weights the last step produced. Returns true when that step was skipped
  // (weights and state put back); throws when training must stop; false when all is finite.
  bool check(Workspace& ws, double loss, const StepPosition& batch) {
    const bool stepped = pending_;
    pending_ = false;
    const std::string trouble = stepped ? opt_.take_non_finite_report() : "";
    if (trouble.empty() && std::isfinite(loss)) {
      if (!stepped) return false;
      consecutive_ = 0;  // a step came through: the run of skips is over
      return diverged(loss);
    }
    const std::string what =
        !trouble.empty() ? last_step_.name() + ": " + trouble + " became NaN or infinite"
                         : "the training loss became " + number_text(loss) + " at " + batch.name() + ", first " +
                               where_non_finite(net_, ws) + " during the forward pass";
    return recover(what);
  }

  // The loss over the training set at the end of an epoch (after its last step).
  bool check_epoch_loss(double loss, int epoch) {
    const bool stepped = pending_;
    pending_ = false;  // decided here: the next epoch's first batch does not judge this step again
    const std::string trouble = stepped ? opt_.take_non_finite_report() : "";
    if (trouble.empty() && std::isfinite(loss)) return stepped && diverged(loss);
    if (!trouble.empty()) return recover(last_step_.name() + ": " + trouble + " became NaN or infinite");
    // Weights that went non-finite were made by the epoch's last step; finite weights that overflow the
    // forward pass are named by the loss alone.
    const std::string weights = where_non_finite_weights(net_);
    return recover(last_step_.name() + ", the last of epoch " + std::to_string(epoch) +
                   ": the training loss over the training set became " + number_text(loss) +
                   (weights.empty() ? " (the weights are finite; the forward pass overflowed)" : ", first " + weights));
  }

  // A step that threw (e.g. a factor that lost positive definiteness): skipped in the skip mode (true), else
  // false and the caller rethrows the step's own error.
  bool skip_failed_step(const Error& failure) {
    pending_ = false;
    if (!skip_) {
      restore();
      return false;
    }
    return recover(last_step_.name() + ": " + failure.what(), failure.kind());
  }

  double skipped() const { return skipped_; }
  // The safeguard's per-epoch counters: steps undone, the largest ratio of the loss after a kept step to the
  // loss before it (how close healthy training comes to the bound), and the largest bound as such a ratio
  // (StepLength::kDivergenceRatio unless the minibatch noise asked for more).
  void take_diagnostics(Diagnostics& out) {
    if (!opt_.step_length()) return;
    out.push_back({"rejectedSteps", rejected_});
    out.push_back({"maxLossRatio", max_ratio_});
    out.push_back({"maxLossBound", max_bound_});
    rejected_ = max_ratio_ = max_bound_ = 0;
  }

 private:
  // A finite loss after the last step: undone (true) when the safeguard judges that the step diverged, the
  // optimizer then shortening its steps; otherwise kept (false).
  bool diverged(double loss) {
    StepLength* step_length = opt_.step_length();
    if (!step_length) return false;
    const double bound = step_length->bound(before_);
    max_bound_ = std::max(max_bound_, bound / before_.mean);
    if (loss <= bound) {
      max_ratio_ = std::max(max_ratio_, loss / before_.mean);
      consecutive_rejections_ = 0;
      step_length->accepted(before_.mean);
      return false;
    }
    restore();
    if (++consecutive_rejections_ >= kMaxConsecutiveRejections)
      throw Error(ErrorKind::Numerical, last_step_.name() + ": training diverges: the loss rose from " +
                                            number_text(before_.mean) + " to " + number_text(loss) + ", the " +
                                            std::to_string(kMaxConsecutiveRejections) +
                                            "th undone step in a row; the weights and optimizer state are back "
                                            "to those before it");
    step_length->rejected();
    ++rejected_;
    return true;
  }

  void restore() {
    Backend& be = net_.backend();
    be.copy(net_.params(), weights_.data, net_.param_count());
    for (size_t i = 0; i < live_.size(); ++i) be.copy(live_[i].data, copies_[i], live_[i].count);
    for (const auto& [name, value] : scalars_) opt_.set_scalar(name, value);
  }

  // kind: what training stops with (a failed Cholesky stays NotPositiveDefinite in either mode).
  bool recover(const std::string& what, ErrorKind kind = ErrorKind::Numerical) {
    restore();
    if (!skip_ || consecutive_ >= kMaxConsecutiveSkips) {
      const std::string tail = skip_ ? " after " + std::to_string(kMaxConsecutiveSkips) + " skipped steps in a row" : "";
      throw Error(kind, what + tail + "; the weights and optimizer state are back to those before the last step");
    }
    opt_.raise_damping();
    ++consecutive_;
    ++skipped_;
    return true;
  }

  Network& net_;
  Optimizer& opt_;
  ParameterBackup& weights_;
  bool skip_;
  OwnedBuffers owned_;
  std::vector<StateBuffer> live_;
  std::vector<float*> copies_;
  StateScalars scalars_;
  StepPosition last_step_;
  bool pending_ = false;  // a step ran since the last check
  int consecutive_ = 0;
  double skipped_ = 0;
  MeanLoss before_;
  int consecutive_rejections_ = 0;
  double rejected_ = 0, max_ratio_ = 0, max_bound_ = 0;
};
}  // namespace kb
