// K-BFGS and K-BFGS(L) (algorithm.md §3, §4): per layer the step H_g · M · H_a, with H_a a BFGS approximation of
// (A + √λ I)⁻¹ kept by Hessian-action updates and H_g a BFGS (dense) or L-BFGS inverse of the
// pre-activation Hessian, built from (s, y) pairs of batch-mean pre-activations and their gradients, taken
// from a second forward/backward on the same minibatch at θ_{k+1}.
#pragma once

#include <memory>
#include <vector>

#include "../core/memory_check.h"
#include "lbfgs.h"
#include "second_order.h"

namespace kb {

// λ enters as √λ: the A-side damping λ_A and the LM damping μ₂ (algorithm.md §3.6).
struct KbfgsSettings : SecondOrderSettings {
  float a_decay = 0.9f;       // β of the A moving average
  float sy_decay = 0.9f;      // moving average of s and y (0 for full-batch training, algorithm.md §3.3 step 6)
  int memory = 0;             // 0: dense H_g (K-BFGS); p > 0: L-BFGS with p pairs (K-BFGS(L))
  int curvature_every = 1;    // r: the second pass and the curvature updates every r-th step (algorithm.md §12.4)
};

class KbfgsOptimizer final : public SecondOrderOptimizer<KbfgsSettings> {
 public:
  explicit KbfgsOptimizer(const KbfgsSettings& settings) : SecondOrderOptimizer(settings) {}

  const char* name() const override { return settings_.memory > 0 ? "kbfgs-l" : "kbfgs"; }
  void attach(Network& net, int batch_capacity, int train_rows) override;
  bool wants_warm_start() const override { return true; }
  void warm_start_batch(Network& net, Workspace& ws, int j) override;
  // Only a curvature step reads ā: its means, A's average and H_a's update (algorithm.md §12.4).
  bool step_reads_layer_inputs(int64_t k) const override { return curvature_step(k); }
  void step(Network& net, Workspace& ws, int64_t k) override;
  void distribute(Collective& comm, bool split_curvature) override;
  void gather_state() override;
  void scatter_state() override;
  void take_diagnostics(Diagnostics& out) override;
  void state_buffers(std::vector<StateBuffer>& out) override;
  void state_scalars(StateScalars& out) const override;
  void set_scalar(const std::string& name, double value) override;

 private:
  // Steps k ≡ 0 (mod r) take the second pass and the curvature updates (algorithm.md §12.4).
  bool curvature_step(int64_t k) const { return k % settings_.curvature_every == 0; }
  void hyperparameter_changed(bool damping) override;
  std::vector<MemoryPart> state_size(const Network& net) const;
  struct Layer {
    int d = 0, n = 0;
    // H_a learns from this batch's input rows, not from a kept A (a convolution's patches: algorithm.md §12.4)
    bool a_from_batch = false;
    // S of a layer over tokens (its token rows count as samples, §18.6), else 1: A's divisor, g's factor
    int tokens_as_samples = 1;
    // A layer norm's block (Layer::first_order_only): it keeps H_a = (√λ I)⁻¹ and H_g = I, no statistics (§18.6)
    bool first_order = false;
    float *a = nullptr, *h_a = nullptr, *h_g = nullptr;
    std::unique_ptr<LbfgsOperator> lbfgs;
    float *s_bar = nullptr, *y_bar = nullptr;  // undamped moving averages (algorithm.md §3.3 step 6)
    float *h_mean = nullptr, *g_mean = nullptr, *a_mean = nullptr;  // first-pass batch means at θ_k
    float *h_next = nullptr, *g_next = nullptr;  // second-pass batch means at θ_{k+1}, then s and y
    float *s_a = nullptr, *y_a = nullptr;        // H_a's pair (in sa_block_, ya_block_)
  };
  void queue_step(Network& net, Workspace& ws, int64_t k, bool curvature);
  void update_g_side(int l);
  void update_a_side(Network& net, Workspace& ws);
  // The rank that updates layer l's H_a and H_g (every rank unless the work is split, §13.2).
  bool owns(int l) const { return !split_ || owners_[l] == comm_->rank(); }
  void share_updates();

  std::vector<Layer> layers_;
  float *s_ = nullptr, *y_ = nullptr, *hy_ = nullptr, *hya_ = nullptr;
  float* gate_ = nullptr;
  float* patch_product_ = nullptr;  // Ā s_a of the most rows among the layers with a_from_batch
  // Blocks summed over the ranks in one message each (algorithm.md §13.1): every layer's first-pass means,
  // second-pass means, and A s_a of H_a's update (s_a kept beside it). Every layer's A lives in one block too:
  // in a distributed fit each rank keeps its share of it (its own rows' part of the average, rank 0 also
  // everything before the fit), so a step sums the n-vectors A s_a, not the n x n matrices.
  float *a_block_ = nullptr, *first_means_ = nullptr, *second_means_ = nullptr, *ya_block_ = nullptr, *sa_block_ = nullptr;
  size_t a_block_size_ = 0, first_means_size_ = 0, second_means_size_ = 0, ya_block_size_ = 0;
  bool a_in_shares_ = false;
  enum Phase { kGradientPhase = 0, kDirectionPhase = 1, kPairPhase = 2 };
  bool reinvert_ = false;   // after a raised damping, H_a starts again from (A + √λ I)⁻¹
  bool split_ = false;
  std::vector<int> owners_;  // by cost: n² + d² per update
  // Per-epoch diagnostics. The curvature counters live in backend memory (slots below) so that a GPU never
  // waits for them (K-BFGS(L)'s pairs not kept count as H_g's skipped updates).
  enum Counter { kPowell = 0, kLm = 1, kHgSkipped = 2, kHaSkipped = 3, kCounters = 4 };
  float* counters_ = nullptr;
  double n_updates_ = 0;
  double t_direction_ = 0, t_second_pass_ = 0, t_curvature_ = 0;
};

}  // namespace kb
