// What every second-order method shares (K-BFGS, K-BFGS(L) and KFAC; a new preconditioner derives from it
// too): α, λ, the gradient momentum ρ and τ of algorithm.md §2, the divergence safeguard (core/step_length.h,
// algorithm.md §11.2), adaptive damping (adaptive_damping.h, §19), the non-finite checks of each phase, the
// hyperparameters a callback may change, and the scalars a checkpoint keeps of them.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../core/buffers.h"
#include "../core/collective.h"
#include "../core/network.h"
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
    if (!adaptive_.enabled()) return;
    const StepProducts& p = judged_products_;  // a pending judgement (§19.1)
    out.insert(out.end(), {{"judgePending", judge_pending_}, {"judgedLr", judged_lr_},
                           {"judgedThetaDir", p.theta_dir}, {"judgedMomentumDir", p.momentum_dir}, {"judgedDirDir", p.dir_dir}});
  }
  void set_scalar(const std::string& name, double value) override {
    if (name == "damping") settings_.damping = value;
    if (name == "stepScale") step_length_.restore(value, step_length_.average());
    if (name == "lossAverage") step_length_.restore(step_length_.scale(), value);
    if (name == "judgePending") judge_pending_ = value;
    if (name == "judgedLr") judged_lr_ = value;
    if (name == "judgedThetaDir") judged_products_.theta_dir = value;
    if (name == "judgedMomentumDir") judged_products_.momentum_dir = value;
    if (name == "judgedDirDir") judged_products_.dir_dir = value;
  }

 protected:
  // After a new α or λ (from a callback, or raise_damping): what the method redoes at its next step.
  virtual void hyperparameter_changed(bool damping) = 0;

  // The key of a step a GPU backend records and replays (Backend::run_recorded): this optimizer, the workspace
  // and its batch size, and what changes the scalars the recording holds (a new α or λ, the safeguard's scale);
  // `variant` tells apart the steps of one method that queue different work, such as kWithoutCurvature.
  static constexpr uint64_t kWithoutCurvature = 0x9e3779b97f4a7c15ull;  // a curvatureEvery step between updates
  uint64_t recording_key(const Workspace& ws, uint64_t variant) const {
    return splitmix64_mix((uint64_t)(uintptr_t)this ^ ((uint64_t)(uintptr_t)&ws << 1) ^ (uint64_t)ws.m ^
                          ((uint64_t)hyperparameter_changes_ << 40) ^ std::hash<double>{}(step_length_.scale())) ^
           variant;
  }

  // Queues a step through the backend's recording under `key` where it can be recorded (a GPU replays it and
  // `queue` is not called; collectives and adaptive damping's read-backs cannot be recorded), else queues it;
  // counts the replayed steps (diagnostic replayedSteps).
  template <class Queue>
  void queue_or_replay(bool recordable, uint64_t key, Queue&& queue) {
    if (!recordable || comm_ != &single_process() || adaptive_.enabled()) return queue();
    bool queued = false;
    be_->run_recorded(key, [&] {
      queued = true;
      queue();
    });
    n_replayed_ += !queued;
  }

  // The scaled start of adaptive damping (§19.7): at the first step (k = 0), before λ is first used, from this
  // minibatch's gradient (summed over the ranks, so every rank computes the same λ) and θ₀.
  void scale_start(Network& net, const Workspace& ws, int64_t k) {
    if (k != 0 || !adaptive_.scales_start()) return;
    const size_t n = net.param_count();
    const float* theta = net.params();
    settings_.damping = scaled_start(step_length_.lr(settings_.lr), be_->dot(n, ws.grad, ws.grad), be_->dot(n, ws.grad, theta),
                                     be_->dot(n, theta, theta), settings_.weight_decay, settings_.damping, settings_.adaptive);
  }

  // Adaptive damping (algorithm.md §19), judged on the next minibatch (§19.1). Called by every step once its
  // direction Δ (delta_) is known and before the weights move, when ws holds this step's minibatch B' and is
  // free for another pass. A judgement pending from the judged step k is made here at k + 1: the weights go
  // back to θ_k = θ_{k+1} + α_k Δ_k for one forward and backward pass on B', whose loss and gradient at θ_k
  // give the model's linear term and h(θ_k); h(θ_{k+1}) is the loss the trainer computed before this step
  // (batch_loss_). Then θ_{k+1} is put back bit for bit. A judged step keeps its Δ, α and inner products for
  // the next one. The new λ is set by finish_judgement at the end of the step, so it acts from the next step.
  void judge_on_next_batch(Network& net, Workspace& ws, int64_t k) {
    if (!adaptive_.enabled()) return;
    const size_t n = net.param_count();
    if (judge_pending_ != 0) {
      judge_pending_ = 0;
      if (!judge_scratch_) judge_scratch_ = owned_.take(n);
      be_->copy(judge_scratch_, net.params(), n);
      be_->axpby(n, (float)judged_lr_, judged_dir_, 1.0f, net.params());
      const double loss_sum = net.forward(ws, Network::Want::LossAndGradient);
      net.backward(ws, ws.grad);  // summed over the ranks: every rank has the same gradient
      judged_products_.grad_dir = be_->dot(n, ws.grad, judged_dir_);
      be_->copy(net.params(), judge_scratch_, n);
      decided_damping_ = judge_damping(loss_sum, ws.batch);
    }
    if (!adaptive_.judges(k)) return;
    judged_products_ = {NAN, be_->dot(n, net.params(), delta_), be_->dot(n, momentum_, delta_), be_->dot(n, delta_, delta_)};
    judged_lr_ = step_length_.lr(settings_.lr);
    if (!judged_dir_) judged_dir_ = owned_.take(n);
    be_->copy(judged_dir_, delta_, n);
    judge_pending_ = 1;
  }
  void finish_judgement() {
    if (decided_damping_ != settings_.damping && !std::isnan(decided_damping_)) set_hyperparameter("damping", decided_damping_);
    decided_damping_ = NAN;
  }
  // The direction Δ_k of a pending judgement, in checkpoints and in the state the non-finite guard restores.
  void judgement_buffers(std::vector<StateBuffer>& out) {
    if (!adaptive_.enabled()) return;
    if (!judged_dir_) judged_dir_ = owned_.take(param_count_);
    out.push_back({"judgedDirection", judged_dir_, param_count_});
  }

  Settings settings_;
  StepLength step_length_;
  AdaptiveDamping adaptive_;
  double batch_loss_ = NAN;  // this step's minibatch loss at θ_k (set_batch_loss)
  int hyperparameter_changes_ = 0;  // part of recording_key
  double n_replayed_ = 0;  // steps replayed from a recording since the last diagnostics
  Backend* be_ = nullptr;
  OwnedBuffers owned_;
  NonFiniteFlags non_finite_;
  Collective* comm_ = &single_process();
  size_t param_count_ = 0;
  float *momentum_ = nullptr, *delta_ = nullptr, *tmp_ = nullptr;  // M, the step, one layer's scratch
  // A pending judgement (§19.1): the judged step's α, its direction and inner products (⟨∇L, Δ⟩ comes at k + 1).
  double judge_pending_ = 0;  // 1 or 0, a checkpoint scalar
  StepProducts judged_products_;
  double judged_lr_ = 0;
  double decided_damping_ = NAN;
  float *judged_dir_ = nullptr, *judge_scratch_ = nullptr;

 private:
  // The rule on the pending judgement: `loss_before_sum` is this rank's summed loss of the minibatch at θ_k.
  // The model's products are rank 0's, carried with the losses in one sum, so every rank computes the same ρ
  // from the same bits and keeps the same λ (§13.1).
  double judge_damping(double loss_before_sum, int batch) {
    const bool root = comm_->rank() == 0;
    const StepProducts& p = judged_products_;
    double sums[5] = {loss_before_sum, root ? p.grad_dir : 0, root ? p.theta_dir : 0, root ? p.momentum_dir : 0,
                      root ? p.dir_dir : 0};
    comm_->sum_host(sums, 5);
    const StepProducts shared{sums[1], sums[2], sums[3], sums[4]};
    return adaptive_.judge(settings_.damping, sums[0] / batch, batch_loss_, shared, judged_lr_, settings_.weight_decay);
  }
};

}  // namespace kb
