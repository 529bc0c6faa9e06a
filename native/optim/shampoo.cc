#include "shampoo.h"

#include <algorithm>
#include <cmath>

#include "../rules/first_order_rule.h"

namespace kb {

void ShampooOptimizer::attach(Network& net, int, int) {
  be_ = &net.backend();
  owned_.bind(*be_);
  const uint64_t p = net.param_count();
  stats_.attach(net, owned_, settings_.max_precond_dim, "Shampoo's state", {{"the moments and step buffers", 5 * p}});
  param_count_ = net.param_count();
  momentum_ = owned_.take(param_count_);
  second_ = owned_.take(param_count_);
  gradient_ = owned_.take(param_count_);
  adam_ = owned_.take(param_count_);
  delta_ = owned_.take(param_count_);
  tmp_ = owned_.take(stats_.largest_layer);
  vectors_ = owned_.take(std::max((size_t)stats_.largest_side * stats_.largest_side, (size_t)1));
  non_finite_.init(*be_, owned_, {"gradient momentum", "Shampoo statistics (L, R)", "direction"}, net.num_layers());
}

// ε is relative (§17.2): the statistic's scale, which the decay and the batch set, does not change what it does.
// A statistic with no positive eigenvalue (a layer whose gradient was always zero) gets the identity.
void ShampooOptimizer::inverse_root(KroneckerSide& side, int layer, const char* which) {
  const int n = side.dim;
  if (!stats_.eigen(side, layer, which, vectors_, values_)) return;
  const double largest = std::max(0.0f, values_.back());
  const double shift = settings_.damping * largest;
  scales_.resize(n);
  for (int i = 0; i < n; ++i)
    scales_[i] = shift > 0 ? (float)std::pow(std::max(0.0, (double)values_[i]) + shift, -0.125) : 1.0f;
  // Row i of E scaled by (λᵢ + ε λ_max)^{-1/8}; then the root is (scaled E)ᵀ (scaled E).
  for (int i = 0; i < n; ++i) be_->axpby(n, scales_[i], vectors_ + (size_t)i * n, 0.0f, vectors_ + (size_t)i * n);
  be_->syrk(true, n, n, 1.0f, vectors_, n, 0.0f, side.transform, n);
}

void ShampooOptimizer::step(Network& net, Workspace& ws, int64_t k) {
  PhaseTimer timer(*be_);
  const size_t p = param_count_;
  be_->copy(gradient_, ws.grad, p);
  be_->axpby(p, settings_.weight_decay, net.params(), 1.0f, gradient_);  // G = g + τθ
  // Adam's step (PyTorch's definition, on G): with θ = 0 and lr = −1 the update leaves the step in adam_.
  FirstOrderUpdate adam;
  adam.kind = FirstOrderUpdate::Adam;
  adam.lr = -1.0f;
  adam.beta1 = settings_.momentum;
  adam.square_decay = settings_.beta2;
  adam.eps = settings_.epsilon;
  adam.step = k + 1;
  be_->fill(adam_, 0.0f, p);
  be_->first_order_update(adam, p, adam_, gradient_, momentum_, second_);
  stats_.accumulate(net, gradient_, settings_.beta2);
  for (size_t l = 0; l < stats_.layers.size(); ++l) {
    const KroneckerLayer& L = stats_.layers[l];
    non_finite_.mark(kGradientPhase, (int)l, momentum_ + net.offset((int)l), (size_t)L.d * L.n);
    if (L.left.preconditioned()) non_finite_.mark(kStatisticsPhase, (int)l, L.left.statistic, (size_t)L.d * L.d);
    if (L.right.preconditioned()) non_finite_.mark(kStatisticsPhase, (int)l, L.right.statistic, (size_t)L.n * L.n);
  }
  timer.lap(t_statistics_);
  const bool preconditioned = k >= settings_.start_preconditioning;
  if (settings_.refresh_due(k) || (preconditioned && refresh_next_)) {
    refresh_next_ = false;
    for (size_t l = 0; l < stats_.layers.size(); ++l) {
      KroneckerLayer& L = stats_.layers[l];
      if (L.left.preconditioned()) inverse_root(L.left, (int)l, "L");
      if (L.right.preconditioned()) inverse_root(L.right, (int)l, "R");
    }
    ++n_roots_;
  }
  timer.lap(t_roots_);
  const float* direction = adam_;
  if (preconditioned) {
    for (size_t l = 0; l < stats_.layers.size(); ++l) {
      const KroneckerLayer& L = stats_.layers[l];
      const size_t count = (size_t)L.d * L.n;
      float* out = delta_ + net.offset((int)l);
      stats_.sandwich(L, false, momentum_ + net.offset((int)l), false, tmp_, out);
      // Grafting (§17.2): Shampoo's direction, Adam's length.
      const double adam_norm = std::sqrt(be_->sum_squares(adam_ + net.offset((int)l), count));
      const double own_norm = std::sqrt(be_->sum_squares(out, count));
      // A zero direction (a zero momentum) takes Adam's step; a non-finite one stays so and is reported.
      if (own_norm == 0)
        be_->copy(out, adam_ + net.offset((int)l), count);
      else
        be_->axpby(count, (float)(adam_norm / own_norm), out, 0.0f, out);
      non_finite_.mark(kDirectionPhase, (int)l, out, count);
    }
    direction = delta_;
  }
  be_->axpby(p, -step_length_.lr(settings_.lr), direction, 1.0f, net.params());
  timer.lap(t_direction_);
}

void ShampooOptimizer::state_buffers(std::vector<StateBuffer>& out) {
  out.push_back({"m", momentum_, param_count_});
  out.push_back({"v", second_, param_count_});
  stats_.state_buffers(out, "root");
}

void ShampooOptimizer::take_diagnostics(Diagnostics& out) {
  out.push_back({"rootUpdates", n_roots_});
  out.push_back({"curvatureSeconds", t_statistics_});
  out.push_back({"inverseSeconds", t_roots_});
  out.push_back({"directionSeconds", t_direction_});
  n_roots_ = t_statistics_ = t_roots_ = t_direction_ = 0;
}

}  // namespace kb
