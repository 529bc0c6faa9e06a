#include "kfac.h"

#include <algorithm>
#include <cmath>

#include "../core/rank_sums.h"
#include "../core/errors.h"
#include "../core/memory_check.h"
#include "../rules/rng.h"
#include "kronecker.h"
#include "spd.h"

namespace kb {

void KfacOptimizer::attach(Network& net, int batch_capacity, int) {
  be_ = &net.backend();
  std::vector<MemoryPart> parts;  // what follows allocates
  uint64_t largest_part = 0;
  for (int l = 0; l < net.num_layers(); ++l) {
    const uint64_t n = net.cols(l), d = net.rows(l);
    parts.push_back({"layer " + std::to_string(l) + " (A and its inverse, " + std::to_string(n) + " x " +
                         std::to_string(n) + "; G and its inverse, " + std::to_string(d) + " x " + std::to_string(d) + ")",
                     2 * n * n + 2 * d * d});
    largest_part = std::max(largest_part, n * d);
  }
  parts.push_back({"the step buffers",
                   2 * (uint64_t)net.param_count() + largest_part + (uint64_t)batch_capacity * net.output_dim()});
  require_memory(*be_, "KFAC's state", parts);
  owned_.bind(*be_);
  auto take = [&](size_t count) { return owned_.take(count); };
  size_t largest = 0;
  // Every layer's A and G in one block, summed over the ranks in one message (algorithm.md §13.1).
  for (int l = 0; l < net.num_layers(); ++l) factors_size_ += (size_t)net.cols(l) * net.cols(l) + (size_t)net.rows(l) * net.rows(l);
  factors_ = take(factors_size_);
  float* at = factors_;
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer layer;
    layer.d = net.rows(l);
    layer.n = net.cols(l);
    const size_t n = layer.n, d = layer.d;
    layer.a = at;
    layer.g = at + n * n;
    at += n * n + d * d;
    layer.a_inv = take(n * n);
    layer.g_inv = take(d * d);
    largest = std::max(largest, n * d);
    layers_.push_back(layer);
  }
  param_count_ = net.param_count();
  momentum_ = take(net.param_count());
  delta_ = take(net.param_count());
  tmp_ = take(largest);
  sampled_ = take((size_t)batch_capacity * net.output_dim());
  seed_counter_ = take(2);
  write_seed_counter();
  non_finite_.init(*be_, owned_, {"gradient momentum", "Kronecker factors (A, G)", "direction"}, net.num_layers());
}

void KfacOptimizer::sampled_backward(Network& net, Workspace& ws) {
  net.sampled_output_gradient(ws, seed_counter_, sampled_);
  net.backward(ws, nullptr);
}

void KfacOptimizer::write_seed_counter() {
  if (!seed_counter_) return;  // not attached yet: attach writes it
  float counter[2];
  store_counter(counter, settings_.seed + draws_);
  be_->to_device(seed_counter_, counter, 2);
}

void KfacOptimizer::distribute(Collective& comm, bool split_curvature) {
  comm_ = &comm;
  owners_.clear();
  if (!split_curvature) return;
  std::vector<double> costs;  // an inversion costs about n³ + d³
  for (const Layer& L : layers_) costs.push_back((double)L.n * L.n * L.n + (double)L.d * L.d * L.d);
  owners_ = assign_by_cost(costs, comm.size());
}

// A = (1/m) Σ ā āᵀ and G = (1/rows) Σ g gᵀ over the batch's rows: for a convolution (rows = m·T) that is KFC's
// Ω (summed over locations) and Γ (averaged over them), algorithm.md §12.3; for a dense layer rows = m. In
// data-parallel training m is the whole batch and the sums run over every rank's rows (§13.1). A layer over
// tokens counts its token rows as samples instead (§18.6).
void KfacOptimizer::accumulate_factors(Network& net, Workspace& ws, float keep, float add) {
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    if (net.layer((int)l).first_order_only()) continue;  // its factors stay 0: the direction is M/λ (§18.6)
    const int rows = ws.rows((int)l), S = net.layer((int)l).tokens_as_samples();
    if (S > 1) {  // tokens as samples (§18.6): A = (1/(m·S)) Σ ā āᵀ, G = (1/(m·S)) Σ (S g)(S g)ᵀ over the m·S rows
      local_syrk(net, L.n, rows, add / ((float)ws.batch * S), ws.abar[l], keep, L.a);
      local_syrk(net, L.d, rows, add * S / ws.batch, ws.g[l], keep, L.g);
      continue;
    }
    local_syrk(net, L.n, rows, add / ws.batch, ws.abar[l], keep, L.a);
    local_syrk(net, L.d, rows, add / ((float)ws.batch * ws.locations((int)l)), ws.g[l], keep, L.g);
  }
  comm_->sum(*be_, factors_, factors_size_);
}

// π of the damping split (algorithm.md §5.2): 1 for the even split; for the trace split
// π = √((tr A / n) / (tr G / d)), or 1 where a factor's trace is not positive (a layer without statistics).
double KfacOptimizer::damping_split(const Layer& L) const {
  if (!settings_.trace_split) return 1.0;
  const double a = be_->trace(L.a, L.n, L.n) / L.n, g = be_->trace(L.g, L.d, L.d) / L.d;
  return a > 0 && g > 0 && std::isfinite(a) && std::isfinite(g) ? std::sqrt(a / g) : 1.0;
}

// (A + π√λ I)⁻¹ and (G + √λ/π I)⁻¹ of every layer, each layer by its owner when the work is split (§13.2).
void KfacOptimizer::invert_factors() {
  const double sqrt_lambda = std::sqrt(settings_.damping);
  run_on_owners(*comm_, owners_, (int)layers_.size(), [&](int l) {
    Layer& L = layers_[l];
    const double pi = damping_split(L);
    // The damped factors are formed in the inverse buffers, then inverted in place.
    damped_factor(*be_, L.a, L.n, (float)(sqrt_lambda * pi), L.a_inv);
    spd_inverse(*be_, L.a_inv, L.a_inv, L.n, l, "A + sqrt(damping) I");
    damped_factor(*be_, L.g, L.d, (float)(sqrt_lambda / pi), L.g_inv);
    spd_inverse(*be_, L.g_inv, L.g_inv, L.d, l, "G + sqrt(damping) I");
  });
  if (owners_.empty()) return;
  for (size_t l = 0; l < layers_.size(); ++l) {
    comm_->broadcast(*be_, layers_[l].a_inv, (size_t)layers_[l].n * layers_[l].n, owners_[l]);
    comm_->broadcast(*be_, layers_[l].g_inv, (size_t)layers_[l].d * layers_[l].d, owners_[l]);
  }
}

// Warm start (algorithm.md §5): the factors averaged over one pass at the initial weights, with sampled targets.
void KfacOptimizer::warm_start_batch(Network& net, Workspace& ws, int j) {
  net.forward(ws, Network::Want::Nothing);
  sampled_backward(net, ws);
  ++draws_;
  accumulate_factors(net, ws, (float)(j - 1) / j, 1.0f / j);
}

void KfacOptimizer::step(Network& net, Workspace& ws, int64_t k) {
  scale_start(net, ws, k);  // adaptive damping's start (algorithm.md §19.7)
  // With curvatureEvery r the factors change on steps k ≡ 0 (mod r) only, and the inverses are remade on the
  // first of those in each interval of T_inv steps (algorithm.md §5.1); r = 1 gives k ≤ T_inv or k mod T_inv = 0.
  const int64_t r = settings_.curvature_every, T = settings_.inverse_every;
  const bool curvature = curvature_step(k);
  const bool invert = invert_next_ || (curvature && (k <= T || k / T != (k - r) / T));
  invert_next_ = false;
  draws_ += curvature;  // the step's draw: the counter in backend memory advances with it, also in a replayed step
  // A step without inversions queues the same work every time and reads nothing back (its draw's seed is the
  // counter), so a GPU backend records it once and replays it, as K-BFGS's step; a step without factor updates
  // is other work, recorded as another graph. The inversions read Cholesky's status back.
  queue_or_replay(!invert, recording_key(ws, curvature ? 0 : kWithoutCurvature),
                  [&] { queue_step(net, ws, k, curvature, invert); });
}

void KfacOptimizer::queue_step(Network& net, Workspace& ws, int64_t k, bool curvature, bool invert) {
  PhaseTimer timer(*be_);
  be_->gradient_momentum(net.param_count(), settings_.momentum, settings_.weight_decay, net.params(), ws.grad,
                         momentum_);
  for (size_t l = 0; l < layers_.size(); ++l)
    non_finite_.mark(kGradientPhase, (int)l, momentum_ + net.offset(l), (size_t)layers_[l].d * layers_[l].n);
  if (curvature) {
    // The extra pass needs only a backward: ws still holds this minibatch's forward at θ_k, and ā (for A)
    // is not touched by backward.
    sampled_backward(net, ws);
    timer.lap(t_sampled_);
    accumulate_factors(net, ws, settings_.factor_decay, 1 - settings_.factor_decay);
    for (size_t l = 0; l < layers_.size(); ++l) {
      non_finite_.mark(kFactorPhase, (int)l, layers_[l].a, (size_t)layers_[l].n * layers_[l].n);
      non_finite_.mark(kFactorPhase, (int)l, layers_[l].g, (size_t)layers_[l].d * layers_[l].d);
    }
    timer.lap(t_factors_);
  }
  if (invert) {
    invert_factors();
    ++n_inversions_;
  }
  timer.lap(t_inverse_);
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    kronecker_direction(*be_, L.d, L.n, L.g_inv, momentum_ + net.offset(l), L.a_inv, tmp_, delta_ + net.offset(l));
    non_finite_.mark(kDirectionPhase, (int)l, delta_ + net.offset(l), (size_t)L.d * L.n);
  }
  judge_on_next_batch(net, ws, k);  // adaptive damping (algorithm.md §19.1)
  be_->axpby(net.param_count(), -step_length_.lr(settings_.lr), delta_, 1.0f, net.params());
  timer.lap(t_direction_);
  finish_judgement();
}

void KfacOptimizer::state_buffers(std::vector<StateBuffer>& out) {
  out.push_back({"momentum", momentum_, param_count_});
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    const std::string p = "layer" + std::to_string(l) + ".";
    out.push_back({p + "A", L.a, (size_t)L.n * L.n});
    out.push_back({p + "G", L.g, (size_t)L.d * L.d});
    out.push_back({p + "A_inv", L.a_inv, (size_t)L.n * L.n});
    out.push_back({p + "G_inv", L.g_inv, (size_t)L.d * L.d});
  }
  judgement_buffers(out);
}

void KfacOptimizer::take_diagnostics(Diagnostics& out) {
  adaptive_.take_diagnostics(out);
  out.push_back({"inversions", n_inversions_});
  out.push_back({"sampledPassSeconds", t_sampled_});
  out.push_back({"curvatureSeconds", t_factors_});
  out.push_back({"inverseSeconds", t_inverse_});
  out.push_back({"directionSeconds", t_direction_});
  out.push_back({"replayedSteps", n_replayed_});
  n_inversions_ = t_sampled_ = t_factors_ = t_inverse_ = t_direction_ = n_replayed_ = 0;
}

}  // namespace kb
