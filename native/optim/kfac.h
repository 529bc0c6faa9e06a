// KFAC as the paper's code runs it (algorithm.md §5): the true Fisher with targets sampled from the model, factors
// A = E[ā āᵀ] and G = E[ǧ ǧᵀ] as 0.9 moving averages (warm-started by one pass), inverses
// (A + √λ I)⁻¹ and (G + √λ I)⁻¹ by Cholesky at k ≤ 20 and every 20th step, step (G+√λI)⁻¹ M (A+√λI)⁻¹.
#pragma once

#include <vector>

#include "second_order.h"

namespace kb {

// λ: A gets π√λ and G gets √λ/π, π = 1 (the paper's even split) or from the factors' traces (§5.2).
struct KfacSettings : SecondOrderSettings {
  bool trace_split = false;   // dampingSplit 'trace' (algorithm.md §5.2)
  float factor_decay = 0.9f;  // ρ of the factor moving averages
  int inverse_every = 20;     // T_inv; inverses also at every k ≤ inverse_every
  int curvature_every = 1;    // r: the sampled pass and the factor updates every r-th step (algorithm.md §5.1)
  uint64_t seed = 0;          // of the sampled targets
};

class KfacOptimizer final : public SecondOrderOptimizer<KfacSettings> {
 public:
  explicit KfacOptimizer(const KfacSettings& settings) : SecondOrderOptimizer(settings) {}

  const char* name() const override { return "kfac"; }
  void attach(Network& net, int batch_capacity, int train_rows) override;
  bool wants_warm_start() const override { return true; }
  void warm_start_batch(Network& net, Workspace& ws, int j) override;
  // Only a step that updates the factors reads ā, for A (algorithm.md §5.1).
  bool step_reads_layer_inputs(int64_t k) const override { return curvature_step(k); }
  void step(Network& net, Workspace& ws, int64_t k) override;
  void take_diagnostics(Diagnostics& out) override;
  void distribute(Collective& comm, bool split_curvature) override;
  void state_buffers(std::vector<StateBuffer>& out) override;
  void state_scalars(StateScalars& out) const override {
    out.push_back({"draws", (double)draws_});
    out.push_back({"invertNext", invert_next_ ? 1.0 : 0.0});  // a λ changed after the last inversion
    SecondOrderOptimizer::state_scalars(out);
  }
  void set_scalar(const std::string& name, double value) override {
    if (name == "draws") {
      draws_ = (uint64_t)value;
      write_seed_counter();
    }
    if (name == "invertNext") invert_next_ = value != 0;
    SecondOrderOptimizer::set_scalar(name, value);
  }

 private:
  // Steps k ≡ 0 (mod r) draw the targets and update the factors (algorithm.md §5.1).
  bool curvature_step(int64_t k) const { return k % settings_.curvature_every == 0; }
  // A new λ changes both damped factors: fresh inverses at the next step.
  void hyperparameter_changed(bool damping) override { invert_next_ = invert_next_ || damping; }
  struct Layer {
    int d = 0, n = 0;
    float *a = nullptr, *g = nullptr, *a_inv = nullptr, *g_inv = nullptr;
  };
  // The work of step k, with or without the factor updates and the inversions (a step without inversions is
  // recorded on a GPU: step()).
  void queue_step(Network& net, Workspace& ws, int64_t k, bool curvature, bool invert);
  // Backpropagates targets sampled from the model's output at the current forward pass: ws.g becomes ǧ. The
  // seed is the counter in backend memory, which advances with the draw (the caller counts it in draws_).
  void sampled_backward(Network& net, Workspace& ws);
  void write_seed_counter();  // the counter ← seed + draws_ (attach, a checkpoint's draws)
  // F ← keep F + add · XᵀX / m for both factors of every layer, from the current ws.
  void accumulate_factors(Network& net, Workspace& ws, float keep, float add);
  void invert_factors();
  double damping_split(const Layer& L) const;  // π of the layer (1 for the even split)

  std::vector<Layer> layers_;
  float* sampled_ = nullptr;  // the targets drawn from the model
  enum Phase { kGradientPhase = 0, kFactorPhase = 1, kDirectionPhase = 2 };
  float* factors_ = nullptr;  // every layer's A then G, one block (§13.1)
  size_t factors_size_ = 0;
  std::vector<int> owners_;  // the rank that inverts each layer's factors (every rank when empty), §13.2
  bool invert_next_ = false;  // a raised damping needs fresh inverses at the next step
  uint64_t draws_ = 0;  // sampling calls so far; the seed of call c is splitmix64_mix(seed + c)
  float* seed_counter_ = nullptr;  // seed + draws_ in backend memory (rules/rng.h load_counter)
  double n_inversions_ = 0, t_sampled_ = 0, t_factors_ = 0, t_inverse_ = 0, t_direction_ = 0;
};

}  // namespace kb
