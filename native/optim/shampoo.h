// Shampoo (Gupta, Koren & Singer 2018) as distributed Shampoo practises it (algorithm.md §17.2): per layer
// the step L^{-1/4} M R^{-1/4} from the moving averages L, R of G Gᵀ and Gᵀ G, the inverse fourth roots
// recomputed every precondEvery steps from an eigendecomposition with ε·λ_max added to every eigenvalue, and
// the step's Frobenius norm taken from Adam's step for the same layer (grafting). Before
// startPreconditioningStep it is Adam.
#pragma once

#include "kronecker_statistics.h"

namespace kb {

class ShampooOptimizer final : public SecondOrderOptimizer<KroneckerSettings> {
 public:
  explicit ShampooOptimizer(const KroneckerSettings& settings) : SecondOrderOptimizer(settings) {}

  const char* name() const override { return "shampoo"; }
  void attach(Network& net, int batch_capacity, int train_rows) override;
  void step(Network& net, Workspace& ws, int64_t k) override;
  void take_diagnostics(Diagnostics& out) override;
  void state_buffers(std::vector<StateBuffer>& out) override;

 private:
  // A new ε changes every root: fresh ones at the next preconditioned step.
  void hyperparameter_changed(bool damping) override { refresh_next_ = refresh_next_ || damping; }
  // transform = Eᵀ diag((λᵢ + ε λ_max)^{-1/4}) E for the side's statistic (kept as it was if that is not finite).
  void inverse_root(KroneckerSide& side, int layer, const char* which);

  KroneckerStatistics stats_;
  float *second_ = nullptr, *gradient_ = nullptr, *adam_ = nullptr;  // v; G = g + τθ; Adam's step
  float* vectors_ = nullptr;  // the eigenvectors of one side
  std::vector<float> values_, scales_;
  bool refresh_next_ = false;
  enum Phase { kGradientPhase = 0, kStatisticsPhase = 1, kDirectionPhase = 2 };
  double n_roots_ = 0, t_statistics_ = 0, t_roots_ = 0, t_direction_ = 0;
};

}  // namespace kb
