// What every second-order method shares (K-BFGS, K-BFGS(L) and KFAC; a new preconditioner derives from it
// too): α, λ, the gradient momentum ρ and τ of algorithm.md §2, the divergence safeguard (core/step_length.h,
// algorithm.md §11.2), adaptive damping (adaptive_damping.h, §19), the non-finite checks of each phase, the
// hyperparameters a callback may change, and the scalars a checkpoint keeps of them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "../core/buffers.h"
#include "../core/collective.h"
#include "../core/errors.h"
#include "../core/optimizer.h"
#include "../core/step_length.h"
#include "../rules/rng.h"
#include "adaptive_damping.h"
#include "non_finite.h"

namespace kb {

struct SecondOrderSettings {
  float lr = 0;              // α
  double damping = 0;        // λ (each method says how it enters)
  float momentum = 0.9f;     // ρ of the gradient EMA (algorithm.md §2 step 4)
  float weight_decay = 1e-5f; // τ
  bool safeguard = true;     // the divergence safeguard
  AdaptiveDampingSettings adaptive;  // every = 0: λ fixed
};

// Settings: the method's settings, a SecondOrderSettings with its own fields added.
template <class Settings>
class SecondOrderOptimizer : public Optimizer {
 public:
  explicit SecondOrderOptimizer(const Settings& settings)
      : settings_(settings), step_length_(settings.safeguard), adaptive_(settings.adaptive) {}

  float weight_decay() const override { return settings_.weight_decay; }
  std::string take_non_finite_report() override { return non_finite_.take_report(); }
  void raise_damping() override { set_hyperparameter("damping", settings_.damping * 10); }
  void set_hyperparameter(const std::string& name, double value) override {
    if (name == "lr") {
      settings_.lr = (float)value;
    } else if (name == "damping") {
      settings_.damping = value;
    } else {
      throw Error(ErrorKind::InvalidArgument, std::string(this->name()) + " has no hyperparameter '" + name + "' to change");
    }
    ++hyperparameter_changes_;
    hyperparameter_changed(name == "damping");
  }
  void hyperparameters(Diagnostics& out) const override {
    out.push_back({"lr", settings_.lr});
    out.push_back({"damping", settings_.damping});
  }
  StepLength* step_length() override { return step_length_.enabled() ? &step_length_ : nullptr; }
  void set_batch_loss(double loss) override { batch_loss_ = loss; }
  void state_scalars(StateScalars& out) const override {
    out.push_back({"damping", settings_.damping});
    out.push_back({"stepScale", step_length_.scale()});
    out.push_back({"lossAverage", step_length_.average()});
  }
  void set_scalar(const std::string& name, double value) override {
    if (name == "damping") settings_.damping = value;
    if (name == "stepScale") step_length_.restore(value, step_length_.average());
    if (name == "lossAverage") step_length_.restore(step_length_.scale(), value);
  }

 protected:
  // After a new α or λ (from a callback, or raise_damping): what the method redoes at its next step.
  virtual void hyperparameter_changed(bool damping) = 0;

  // The key of a step a GPU backend records and replays (Backend::run_recorded): this optimizer, the workspace
  // and its batch size, and what changes the scalars the recording holds (a new α or λ, the safeguard's scale);
  // `variant` tells apart the steps of one method that queue different work.
  uint64_t recording_key(const Workspace& ws, uint64_t variant) const {
    return splitmix64_mix((uint64_t)(uintptr_t)this ^ ((uint64_t)(uintptr_t)&ws << 1) ^ (uint64_t)ws.m ^
                          ((uint64_t)hyperparameter_changes_ << 40) ^ std::hash<double>{}(step_length_.scale())) ^
           variant;
  }

  // Adaptive damping (algorithm.md §19). On a judged step, once Δ (delta_) is known and before the weights
  // move: the inner products of the quadratic model, with ws.grad (∇L_B) and the momentum.
  StepProducts step_products(const Network& net, const float* grad) const {
    const size_t n = net.param_count();
    return {be_->dot(n, grad, delta_), be_->dot(n, net.params(), delta_), be_->dot(n, momentum_, delta_),
            be_->dot(n, delta_, delta_)};
  }
  // After the step: `loss_after_sum` is this rank's summed loss of the same minibatch at θ_{k+1}. The model's
  // products are rank 0's, carried with the losses in one sum, so every rank computes the same ρ from the same
  // bits and keeps the same λ (§13.1). A new λ acts from the next step, as a callback's would.
  void judge_damping(const StepProducts& p, double loss_after_sum, int batch) {
    const bool root = comm_->rank() == 0;
    double sums[5] = {loss_after_sum, root ? p.grad_dir : 0, root ? p.theta_dir : 0, root ? p.momentum_dir : 0,
                      root ? p.dir_dir : 0};
    comm_->sum_host(sums, 5);
    const StepProducts shared{sums[1], sums[2], sums[3], sums[4]};
    const double alpha = step_length_.lr(settings_.lr);
    const double next = adaptive_.judge(settings_.damping, batch_loss_, sums[0] / batch, shared, alpha, settings_.weight_decay);
    if (next != settings_.damping) set_hyperparameter("damping", next);
  }

  Settings settings_;
  StepLength step_length_;
  AdaptiveDamping adaptive_;
  double batch_loss_ = NAN;
  int hyperparameter_changes_ = 0;  // part of recording_key  // this step's minibatch loss at θ_k (set_batch_loss)
  Backend* be_ = nullptr;
  OwnedBuffers owned_;
  NonFiniteFlags non_finite_;
  Collective* comm_ = &single_process();
  size_t param_count_ = 0;
  float *momentum_ = nullptr, *delta_ = nullptr, *tmp_ = nullptr;  // M, the step, one layer's scratch
};

}  // namespace kb
