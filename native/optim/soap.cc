#include "soap.h"

#include <algorithm>

#include "../rules/first_order_rule.h"

namespace kb {

void SoapOptimizer::attach(Network& net, int, int) {
  be_ = &net.backend();
  owned_.bind(*be_);
  const uint64_t p = net.param_count();
  stats_.attach(net, owned_, settings_.max_precond_dim, "SOAP's state", {{"the moments and step buffers", 5 * p}});
  param_count_ = net.param_count();
  momentum_ = owned_.take(param_count_);
  second_ = owned_.take(param_count_);
  gradient_ = owned_.take(param_count_);
  rotated_ = owned_.take(param_count_);
  delta_ = owned_.take(param_count_);
  tmp_ = owned_.take(stats_.largest_layer);
  vectors_ = owned_.take(std::max((size_t)stats_.largest_side * stats_.largest_side, (size_t)1));
  // The basis before the first eigendecomposition: the identity (the moments are in the parameters' basis).
  for (KroneckerLayer& L : stats_.layers)
    for (KroneckerSide* side : {&L.left, &L.right})
      if (side->preconditioned()) be_->add_diagonal(side->transform, side->dim, side->dim, 1.0f);
  non_finite_.init(*be_, owned_, {"first moment", "SOAP statistics (L, R)", "direction"}, net.num_layers());
}

// With the old basis E and the new one E' of a side, M' = E_L M E_Rᵀ becomes E'_L E_Lᵀ M' E_R E'_Rᵀ (§17.3).
void SoapOptimizer::refresh_basis(const Network& net) {
  for (size_t l = 0; l < stats_.layers.size(); ++l) {
    KroneckerLayer& L = stats_.layers[l];
    const int d = L.d, n = L.n;
    float* m = momentum_ + net.offset((int)l);
    if (L.left.preconditioned() && stats_.eigen(L.left, (int)l, "L", vectors_, values_)) {
      be_->gemm(true, false, d, n, d, 1.0f, L.left.transform, d, m, n, 0.0f, tmp_, n);   // back: E_Lᵀ M'
      be_->gemm(false, false, d, n, d, 1.0f, vectors_, d, tmp_, n, 0.0f, m, n);         // into E'_L
      be_->copy(L.left.transform, vectors_, (size_t)d * d);
    }
    if (L.right.preconditioned() && stats_.eigen(L.right, (int)l, "R", vectors_, values_)) {
      be_->gemm(false, false, d, n, n, 1.0f, m, n, L.right.transform, n, 0.0f, tmp_, n);  // back: M' E_R
      be_->gemm(false, true, d, n, n, 1.0f, tmp_, n, vectors_, n, 0.0f, m, n);           // into E'_Rᵀ
      be_->copy(L.right.transform, vectors_, (size_t)n * n);
    }
  }
}

void SoapOptimizer::step(Network& net, Workspace& ws, int64_t k) {
  PhaseTimer timer(*be_);
  const size_t p = param_count_;
  be_->copy(gradient_, ws.grad, p);
  be_->axpby(p, settings_.weight_decay, net.params(), 1.0f, gradient_);  // G = g + τθ
  stats_.accumulate(net, gradient_, settings_.beta2);
  for (size_t l = 0; l < stats_.layers.size(); ++l) {
    const KroneckerLayer& L = stats_.layers[l];
    if (L.left.preconditioned()) non_finite_.mark(kStatisticsPhase, (int)l, L.left.statistic, (size_t)L.d * L.d);
    if (L.right.preconditioned()) non_finite_.mark(kStatisticsPhase, (int)l, L.right.statistic, (size_t)L.n * L.n);
  }
  timer.lap(t_statistics_);
  if (settings_.refresh_due(k)) {
    refresh_basis(net);
    ++n_bases_;
  }
  timer.lap(t_basis_);
  for (size_t l = 0; l < stats_.layers.size(); ++l)  // G' = E_L G E_Rᵀ
    stats_.sandwich(stats_.layers[l], false, gradient_ + net.offset((int)l), true, tmp_, rotated_ + net.offset((int)l));
  // Adam in the basis (PyTorch's definition, ε = λ): with θ = 0 and lr = −1 the update leaves N' in delta_.
  FirstOrderUpdate adam;
  adam.kind = FirstOrderUpdate::Adam;
  adam.lr = -1.0f;
  adam.beta1 = settings_.momentum;
  adam.square_decay = settings_.beta2;
  adam.eps = (float)settings_.damping;
  adam.step = k + 1;
  be_->fill(delta_, 0.0f, p);
  be_->first_order_update(adam, p, delta_, rotated_, momentum_, second_);
  for (size_t l = 0; l < stats_.layers.size(); ++l) {  // N = E_Lᵀ N' E_R
    const KroneckerLayer& L = stats_.layers[l];
    const size_t at = net.offset((int)l), count = (size_t)L.d * L.n;
    non_finite_.mark(kGradientPhase, (int)l, momentum_ + at, count);
    stats_.sandwich(L, true, delta_ + at, false, tmp_, rotated_ + at);
    non_finite_.mark(kDirectionPhase, (int)l, rotated_ + at, count);
  }
  be_->axpby(p, -step_length_.lr(settings_.lr), rotated_, 1.0f, net.params());
  timer.lap(t_direction_);
}

void SoapOptimizer::state_buffers(std::vector<StateBuffer>& out) {
  out.push_back({"m", momentum_, param_count_});
  out.push_back({"v", second_, param_count_});
  stats_.state_buffers(out, "basis");
}

void SoapOptimizer::take_diagnostics(Diagnostics& out) {
  out.push_back({"basisUpdates", n_bases_});
  out.push_back({"curvatureSeconds", t_statistics_});
  out.push_back({"inverseSeconds", t_basis_});
  out.push_back({"directionSeconds", t_direction_});
  n_bases_ = t_statistics_ = t_basis_ = t_direction_ = 0;
}

}  // namespace kb
