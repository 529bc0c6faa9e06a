// KFAC as the paper's code runs it (algorithm.md §5): the true Fisher with targets sampled from the model, factors
// A = E[ā āᵀ] and G = E[ǧ ǧᵀ] as 0.9 moving averages (warm-started by one pass), inverses
// (A + √λ I)⁻¹ and (G + √λ I)⁻¹ by Cholesky at k ≤ 20 and every 20th step, step (G+√λI)⁻¹ M (A+√λI)⁻¹.
#pragma once

#include <vector>

#include "../core/buffers.h"
#include "non_finite.h"
#include "../core/optimizer.h"

namespace kb {

struct KfacSettings {
  float lr = 1.0f;            // α
  double damping = 3.0;       // λ; each factor gets √λ (π = 1)
  float momentum = 0.9f;      // ρ of the gradient EMA (algorithm.md §2 step 4)
  float weight_decay = 1e-5f; // τ
  float factor_decay = 0.9f;  // ρ of the factor moving averages
  int inverse_every = 20;     // T_inv; inverses also at every k ≤ inverse_every
  uint64_t seed = 0;          // of the sampled targets
  bool safeguard = true;      // the divergence safeguard (core/step_length.h)
};

class KfacOptimizer final : public Optimizer {
 public:
  explicit KfacOptimizer(const KfacSettings& settings) : settings_(settings), step_length_(settings.safeguard) {}

  const char* name() const override { return "kfac"; }
  void attach(Network& net, int batch_capacity, int train_rows) override;
  bool wants_warm_start() const override { return true; }
  void warm_start_batch(Network& net, Workspace& ws, int j) override;
  void step(Network& net, Workspace& ws, int64_t k) override;
  float weight_decay() const override { return settings_.weight_decay; }
  void take_diagnostics(Diagnostics& out) override;
  void distribute(Collective& comm, bool split_curvature) override;
  void state_buffers(std::vector<StateBuffer>& out) override;
  void state_scalars(StateScalars& out) const override {
    out.push_back({"draws", (double)draws_});
    out.push_back({"damping", settings_.damping});
    out.push_back({"stepScale", step_length_.scale()});
    out.push_back({"lossAverage", step_length_.average()});
  }
  void set_scalar(const std::string& name, double value) override {
    if (name == "draws") draws_ = (uint64_t)value;
    if (name == "damping") settings_.damping = value;
    if (name == "stepScale") step_length_.restore(value, step_length_.average());
    if (name == "lossAverage") step_length_.restore(step_length_.scale(), value);
  }
  std::string take_non_finite_report() override { return non_finite_.take_report(); }
  void raise_damping() override;
  void set_hyperparameter(const std::string& name, double value) override;
  void hyperparameters(Diagnostics& out) const override {
    out.push_back({"lr", settings_.lr});
    out.push_back({"damping", settings_.damping});
  }
  StepLength* step_length() override { return step_length_.enabled() ? &step_length_ : nullptr; }

 private:
  size_t param_count_ = 0;
  struct Layer {
    int d = 0, n = 0;
    float *a = nullptr, *g = nullptr, *a_inv = nullptr, *g_inv = nullptr;
  };
  // Backpropagates targets sampled from the model's output at the current forward pass: ws.g becomes ǧ.
  void sampled_backward(Network& net, Workspace& ws);
  // F ← keep F + add · XᵀX / m for both factors of every layer, from the current ws.
  void accumulate_factors(Network& net, Workspace& ws, float keep, float add);
  void invert_factors();

  KfacSettings settings_;
  StepLength step_length_;
  Backend* be_ = nullptr;
  std::vector<Layer> layers_;
  OwnedBuffers owned_;
  float *momentum_ = nullptr, *delta_ = nullptr, *tmp_ = nullptr, *sampled_ = nullptr;
  NonFiniteFlags non_finite_;
  enum Phase { kGradientPhase = 0, kFactorPhase = 1, kDirectionPhase = 2 };
  Collective* comm_ = &single_process();
  float* factors_ = nullptr;  // every layer's A then G, one block (§13.1)
  size_t factors_size_ = 0;
  std::vector<int> owners_;  // the rank that inverts each layer's factors (every rank when empty), §13.2
  bool invert_next_ = false;  // a raised damping needs fresh inverses at the next step
  uint64_t draws_ = 0;  // sampling calls so far; the seed of call c is splitmix64_mix(seed + c)
  double n_inversions_ = 0, t_sampled_ = 0, t_factors_ = 0, t_inverse_ = 0, t_direction_ = 0;
};

}  // namespace kb
