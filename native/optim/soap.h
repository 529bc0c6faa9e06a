// SOAP (Vyas et al. 2024), algorithm.md §17.3: Adam run in the eigenbasis of Shampoo's statistics L and R.
// Both moments live in that basis; every precondEvery steps from startPreconditioningStep on, the basis is
// recomputed by a full eigendecomposition and the first moment is rotated into the new one (the second
// moment is kept as it is, as in the paper). Before the first basis it is Adam in the parameters' own basis.
#pragma once

#include "kronecker_statistics.h"

namespace kb {

class SoapOptimizer final : public SecondOrderOptimizer<KroneckerSettings> {
 public:
  explicit SoapOptimizer(const KroneckerSettings& settings) : SecondOrderOptimizer(settings) {}

  const char* name() const override { return "soap"; }
  void attach(Network& net, int batch_capacity, int train_rows) override;
  void step(Network& net, Workspace& ws, int64_t k) override;
  void take_diagnostics(Diagnostics& out) override;
  void state_buffers(std::vector<StateBuffer>& out) override;

 private:
  // λ is the ε of Adam's denominator, read at every step: nothing to redo.
  void hyperparameter_changed(bool) override {}
  // New eigenvectors of every side, and the first moment carried over into them.
  void refresh_basis(const Network& net);

  KroneckerStatistics stats_;
  float *second_ = nullptr, *gradient_ = nullptr, *rotated_ = nullptr;  // V; G = g + τθ; G or N in the basis
  float* vectors_ = nullptr;  // one side's new eigenvectors
  std::vector<float> values_;
  enum Phase { kGradientPhase = 0, kStatisticsPhase = 1, kDirectionPhase = 2 };
  double n_bases_ = 0, t_statistics_ = 0, t_basis_ = 0, t_direction_ = 0;
};

}  // namespace kb
