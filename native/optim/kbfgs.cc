#include "kbfgs.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "../core/rank_sums.h"
#include "../core/errors.h"
#include "../core/memory_check.h"
#include "../rules/rng.h"
#include "bfgs.h"
#include "kronecker.h"
#include "spd.h"

namespace kb {

void KbfgsOptimizer::attach(Network& net, int batch_capacity, int train_rows) {
  be_ = &net.backend();
  require_memory(*be_, settings_.memory > 0 ? "K-BFGS(L)'s state" : "K-BFGS's state", state_size(net));
  owned_.bind(*be_);
  auto take = [&](size_t count) { return owned_.take(count); };
  if (batch_capacity >= train_rows) settings_.sy_decay = 0.0f;  // full batch: no averaging (algorithm.md §3.3 step 6)
  size_t widest = 0, largest = 0, patch_rows = 0;
  for (int l = 0; l < net.num_layers(); ++l) {  // the blocks' sizes
    const size_t n = net.cols(l), d = net.rows(l);
    a_block_size_ += n * n;
    first_means_size_ += 2 * d + n;
    second_means_size_ += 2 * d;
    ya_block_size_ += n;
  }
  a_block_ = take(a_block_size_);
  first_means_ = take(first_means_size_);
  second_means_ = take(second_means_size_);
  ya_block_ = take(ya_block_size_);
  sa_block_ = take(ya_block_size_);
  float *a_at = a_block_, *first_at = first_means_, *second_at = second_means_, *ya_at = ya_block_, *sa_at = sa_block_;
  auto carve = [](float*& at, size_t count) {
    float* p = at;
    at += count;
    return p;
  };
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer layer;
    layer.d = net.rows(l);
    layer.n = net.cols(l);
    layer.a_from_batch = net.layer(l).hessian_action_from_batch();
    layer.tokens_as_samples = net.layer(l).tokens_as_samples();
    layer.first_order = net.layer(l).first_order_only();
    if (layer.a_from_batch) patch_rows = std::max(patch_rows, (size_t)batch_capacity * net.layer(l).locations());
    const size_t n = layer.n, d = layer.d;
    layer.a = carve(a_at, n * n);
    layer.h_a = take(n * n);
    if (settings_.memory > 0) {
      layer.lbfgs = std::make_unique<LbfgsOperator>();
      layer.lbfgs->init(*be_, layer.d, settings_.memory, layer.n, /*fixed_shape=*/!be_->host_memory());
    } else {
      layer.h_g = take(d * d);
      be_->add_diagonal(layer.h_g, layer.d, layer.d, 1.0f);  // H_g = I (algorithm.md §3.2)
    }
    layer.s_bar = take(d);
    layer.y_bar = take(d);
    layer.h_mean = carve(first_at, d);
    layer.g_mean = carve(first_at, d);
    layer.a_mean = carve(first_at, n);
    layer.h_next = carve(second_at, d);
    layer.g_next = carve(second_at, d);
    layer.y_a = carve(ya_at, n);
    layer.s_a = carve(sa_at, n);
    widest = std::max({widest, n, d});
    largest = std::max(largest, n * d);
    layers_.push_back(std::move(layer));
  }
  param_count_ = net.param_count();
  momentum_ = take(net.param_count());
  delta_ = take(net.param_count());
  tmp_ = take(largest);
  for (float** v : {&s_, &y_, &hy_, &hya_}) *v = take(widest);
  gate_ = take(1);
  if (patch_rows) patch_product_ = take(patch_rows);
  counters_ = take(kCounters);
  non_finite_.init(*be_, owned_, {"gradient momentum", "direction", "curvature pair (s, y)"}, net.num_layers());
}

void KbfgsOptimizer::distribute(Collective& comm, bool split_curvature) {
  comm_ = &comm;
  split_ = split_curvature;
  std::vector<double> costs;
  for (const Layer& L : layers_) costs.push_back((double)L.n * L.n + (double)L.d * L.d);
  owners_ = assign_by_cost(costs, comm.size());
  a_in_shares_ = false;  // between fits A is whole on every rank
  scatter_state();
}

// A's shares: rank 0 keeps A, the others start from zero; sums of the shares are then A at every step, since
// its update A ← βA + (1 − β)(1/m)ĀᵀĀ is linear and each rank adds its own rows.
void KbfgsOptimizer::scatter_state() {
  if (!comm_->distributed() || a_in_shares_) return;
  if (comm_->rank() != 0) be_->fill(a_block_, 0.0f, a_block_size_);
  a_in_shares_ = true;
}

void KbfgsOptimizer::gather_state() {
  if (!a_in_shares_) return;
  comm_->sum(*be_, a_block_, a_block_size_);
  a_in_shares_ = false;
}

// What attach allocates, per layer and shared.
std::vector<MemoryPart> KbfgsOptimizer::state_size(const Network& net) const {
  std::vector<MemoryPart> parts;
  uint64_t widest = 0, largest = 0;
  for (int l = 0; l < net.num_layers(); ++l) {
    const uint64_t n = net.cols(l), d = net.rows(l);
    const uint64_t g_side = settings_.memory > 0 ? LbfgsOperator::floats(d, settings_.memory, n) : d * d;
    parts.push_back({"layer " + std::to_string(l) + " (2 matrices of " + std::to_string(n) + " x " +
                         std::to_string(n) + " and H_g for " + std::to_string(d) + " outputs)",
                     2 * n * n + g_side + 6 * d + 3 * n});
    widest = std::max({widest, n, d});
    largest = std::max(largest, n * d);
  }
  parts.push_back({"the step buffers", 2 * (uint64_t)net.param_count() + largest + 4 * widest + 1 + kCounters});
  return parts;
}

// A = running mean over the pass of (1/m) Σ ā āᵀ at the initial weights (algorithm.md §3.2; a convolution
// sums over its locations, §12.4; a layer over tokens averages over them, §18.6); each rank's share from its own
// rows (§13.1).
void KbfgsOptimizer::warm_start_batch(Network& net, Workspace& ws, int j) {
  net.forward(ws, Network::Want::Nothing);
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer& L = layers_[l];
    if (L.first_order) continue;
    be_->syrk(true, L.n, ws.rows(l), 1.0f / ((float)j * ws.batch * L.tokens_as_samples), ws.abar[l], L.n, (float)(j - 1) / j, L.a, L.n);
  }
}

void KbfgsOptimizer::step(Network& net, Workspace& ws, int64_t k) {
  scale_start(net, ws, k);  // adaptive damping's start (algorithm.md §19.7)
  // After the first step a K-BFGS or K-BFGS(L) step queues the same work every time and reads nothing back (the
  // L-BFGS memory's size stays in backend memory), so a GPU backend records it once and replays it; a replayed
  // step adds no phase time. With curvatureEvery r > 1 only every r-th step updates the curvature (algorithm.md
  // §12.4); a step that does not is other work, recorded as another graph.
  const bool curvature = curvature_step(k);
  queue_or_replay(k > 0, recording_key(ws, curvature ? 0 : kWithoutCurvature),
                  [&] { queue_step(net, ws, k, curvature); });
  n_updates_ += curvature;
}

void KbfgsOptimizer::queue_step(Network& net, Workspace& ws, int64_t k, bool curvature) {
  const float sqrt_lambda = (float)std::sqrt(settings_.damping);
  PhaseTimer timer(*be_);
  be_->gradient_momentum(net.param_count(), settings_.momentum, settings_.weight_decay, net.params(), ws.grad,
                         momentum_);
  // Step 1: batch means of the first pass and A (algorithm.md §3.3 steps 1-2), which only curvature updates use.
  for (int l = 0; l < net.num_layers() && curvature; ++l) {
    Layer& L = layers_[l];
    if (L.first_order) continue;
    local_column_mean(net, ws, l, ws.h[l], L.d, L.h_mean);
    local_column_mean(net, ws, l, ws.g[l], L.d, L.g_mean);
    local_column_mean(net, ws, l, ws.abar[l], L.n, L.a_mean);
    // A ← β A + (1 − β) ĀᵀĀ/m (this rank's share; over tokens /(m·S), §18.6); at k = 0 A is the warm start
    if (k > 0 && !L.a_from_batch)
      be_->syrk(true, L.n, ws.rows(l), (1 - settings_.a_decay) / ((float)ws.batch * L.tokens_as_samples), ws.abar[l], L.n,
                settings_.a_decay, L.a, L.n);
  }
  if (curvature) comm_->sum(*be_, first_means_, first_means_size_);
  if (k == 0 || reinvert_) {  // the only inverse (algorithm.md §3.2), again after a raised damping
    for (Layer& L : layers_) {  // the whole A, from the shares
      be_->copy(L.h_a, L.a, (size_t)L.n * L.n);
      if (a_in_shares_) comm_->sum(*be_, L.h_a, (size_t)L.n * L.n);
    }
    run_on_owners(*comm_, split_ ? owners_ : std::vector<int>{}, net.num_layers(), [&](int l) {
      Layer& L = layers_[l];
      be_->add_diagonal(L.h_a, L.n, L.n, sqrt_lambda);  // A + √λ I
      spd_inverse(*be_, L.h_a, L.h_a, L.n, l, "A + sqrt(damping) I");
    });
    if (split_)
      for (int l = 0; l < net.num_layers(); ++l) comm_->broadcast(*be_, layers_[l].h_a, (size_t)layers_[l].n * layers_[l].n, owners_[l]);
  }
  // Step 3: the direction H_g M H_a.
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer& L = layers_[l];
    const float* grad_l = momentum_ + net.offset(l);
    non_finite_.mark(kGradientPhase, l, grad_l, (size_t)L.d * L.n);
    float* delta_l = delta_ + net.offset(l);
    if (L.lbfgs) {
      L.lbfgs->apply(grad_l, L.n, tmp_);
      right_product(*be_, L.d, L.n, tmp_, L.h_a, delta_l);
    } else {
      kronecker_direction(*be_, L.d, L.n, L.h_g, grad_l, L.h_a, tmp_, delta_l);
    }
    non_finite_.mark(kDirectionPhase, l, delta_ + net.offset(l), (size_t)L.d * L.n);
  }
  // H_a's update needs this batch's first pass (a convolution's patches, which the second pass overwrites).
  if (curvature) update_a_side(net, ws);
  reinvert_ = false;
  judge_on_next_batch(net, ws, k);  // adaptive damping (algorithm.md §19.1)
  // θ_{k+1} = θ_k − α Δ, then the second pass on the same minibatch at exactly θ_{k+1} (algorithm.md §3.3 step 4):
  // only what the (s, y) pairs need, so backward computes no weight gradients and no patches are kept.
  be_->axpby(net.param_count(), -step_length_.lr(settings_.lr), delta_, 1.0f, net.params());
  timer.lap(t_direction_);
  if (!curvature) return finish_judgement();
  net.forward(ws, Network::Want::Gradient, /*second_pass=*/true);
  net.backward(ws, nullptr);
  timer.lap(t_second_pass_);
  for (int l = 0; l < net.num_layers(); ++l) {
    if (layers_[l].first_order) continue;
    local_column_mean(net, ws, l, ws.h[l], layers_[l].d, layers_[l].h_next);
    local_column_mean(net, ws, l, ws.g[l], layers_[l].d, layers_[l].g_next);
  }
  comm_->sum(*be_, second_means_, second_means_size_);
  for (int l = 0; l < net.num_layers(); ++l)
    if (!layers_[l].first_order) update_g_side(l);
  if (split_) share_updates();
  timer.lap(t_curvature_);
  finish_judgement();  // after this step's updates, which used the λ it started with
}

// Steps 5-8 of algorithm.md §3.3 for layer l, from the second pass's batch means.
void KbfgsOptimizer::update_g_side(int l) {
  Layer& L = layers_[l];
  const int d = L.d;
  const float decay = settings_.sy_decay;
  // s = h̄(θ_k) − h̄(θ_{k+1}), y = ḡ(θ_k) − ḡ(θ_{k+1}), averaged with weight 0.9 into s̄, ȳ.
  be_->axpby(d, 1.0f, L.h_mean, -1.0f, L.h_next);
  be_->axpby(d, 1.0f, L.g_mean, -1.0f, L.g_next);
  // over tokens the pairs are those of a token row as a sample: its loss gradient is S g (§18.6)
  if (L.tokens_as_samples > 1) be_->axpby(d, 0.0f, L.g_next, (float)L.tokens_as_samples, L.g_next);
  be_->axpby(d, 1 - decay, L.h_next, decay, L.s_bar);
  be_->axpby(d, 1 - decay, L.g_next, decay, L.y_bar);
  non_finite_.mark(kPairPhase, l, L.s_bar, d);
  non_finite_.mark(kPairPhase, l, L.y_bar, d);
  // Damping works on copies; the averages stay undamped (algorithm.md §3.3 step 6).
  be_->copy(s_, L.s_bar, d);
  be_->copy(y_, L.y_bar, d);
  auto apply_hg = [&](const float* v, float* out) {
    if (L.lbfgs) L.lbfgs->apply(v, 1, out);
    else be_->gemv(false, d, d, 1.0f, L.h_g, d, v, 0.0f, out);
  };
  if (!L.lbfgs && !owns(l)) return;  // the owner updates H_g and broadcasts it (share_updates)
  apply_hg(y_, hy_);
  be_->damp_pair(d, s_, y_, hy_, kPowellMu1, std::sqrt(settings_.damping), gate_, counters_ + kPowell);
  apply_hg(y_, hy_);  // y may have changed (LM step); recomputing costs one product and no host decision
  if (!L.lbfgs) {
    be_->bfgs_update(d, L.h_g, s_, y_, hy_, L.g_mean, d, kBfgsSkipThreshold, gate_, counters_ + kHgSkipped);
    return;
  }
  // Kept or not is decided where the vectors live: the step reads nothing back (algorithm.md §4).
  L.lbfgs->append(s_, y_, L.g_mean, d, gate_, counters_ + kHgSkipped);
}

// Step 9 of algorithm.md §3.3: the Hessian-action update of every layer's H_a with u = [mean a; 1],
// s_a = H_a u and y_a = A s_a + √λ s_a. A convolution keeps no A (§12.4): A s_a = (1/m) P̄ᵀ (P̄ s_a) from this
// batch's patches P̄ (m·T rows), two matrix-vector products with the im2col matrix. In a distributed fit each
// rank forms A s_a from its share of A (or its patches) and one sum over the ranks adds them up (§13.1).
void KbfgsOptimizer::update_a_side(Network& net, Workspace& ws) {
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer& L = layers_[l];
    if (L.first_order) continue;
    const int n = L.n;
    be_->gemv(false, n, n, 1.0f, L.h_a, n, L.a_mean, 0.0f, L.s_a);
    if (L.a_from_batch) {
      const int rows = ws.rows(l);
      be_->gemv(false, rows, n, 1.0f, ws.abar[l], n, L.s_a, 0.0f, patch_product_);
      be_->gemv(true, rows, n, 1.0f / ws.batch, ws.abar[l], n, patch_product_, 0.0f, L.y_a);
    } else {
      be_->gemv(false, n, n, 1.0f, L.a, n, L.s_a, 0.0f, L.y_a);
    }
  }
  comm_->sum(*be_, ya_block_, ya_block_size_);
  for (int l = 0; l < net.num_layers(); ++l) {
    Layer& L = layers_[l];
    if (!owns(l) || L.first_order) continue;
    const int n = L.n;
    be_->axpby(n, (float)std::sqrt(settings_.damping), L.s_a, 1.0f, L.y_a);
    be_->gemv(false, n, n, 1.0f, L.h_a, n, L.y_a, 0.0f, hya_);
    be_->bfgs_update(n, L.h_a, L.s_a, L.y_a, hya_, L.a_mean, n, kBfgsSkipThreshold, nullptr, counters_ + kHaSkipped);
  }
}

// The owners' new H_a and H_g, broadcast to every rank (§13.2); the L-BFGS memory is kept by every rank.
void KbfgsOptimizer::share_updates() {
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    comm_->broadcast(*be_, L.h_a, (size_t)L.n * L.n, owners_[l]);
    if (!L.lbfgs) comm_->broadcast(*be_, L.h_g, (size_t)L.d * L.d, owners_[l]);
  }
}

void KbfgsOptimizer::state_buffers(std::vector<StateBuffer>& out) {
  out.push_back({"momentum", momentum_, param_count_});
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& L = layers_[l];
    const std::string p = "layer" + std::to_string(l) + ".";
    const size_t nn = (size_t)L.n * L.n;
    out.push_back({p + "A", L.a, nn});  // a convolution's A is its warm-start Ω (§12.4)
    out.push_back({p + "H_a", L.h_a, nn});
    if (L.lbfgs) L.lbfgs->state_buffers(out, p + "lbfgs.");
    else out.push_back({p + "H_g", L.h_g, (size_t)L.d * L.d});
    out.push_back({p + "s_bar", L.s_bar, (size_t)L.d});
    out.push_back({p + "y_bar", L.y_bar, (size_t)L.d});
  }
  judgement_buffers(out);
}

// A new λ changes A + √λ I: H_a starts again from its inverse at the next step. (Any change is also part of
// recording_key: the recorded scalars change.)
void KbfgsOptimizer::hyperparameter_changed(bool damping) { reinvert_ = reinvert_ || damping; }

void KbfgsOptimizer::state_scalars(StateScalars& out) const {
  out.push_back({"syDecay", settings_.sy_decay});
  out.push_back({"reinvert", reinvert_ ? 1.0 : 0.0});  // a λ changed since H_a was last inverted
  SecondOrderOptimizer::state_scalars(out);
  for (size_t l = 0; l < layers_.size(); ++l)
    if (layers_[l].lbfgs) out.push_back({"layer" + std::to_string(l) + ".lbfgs.size", (double)layers_[l].lbfgs->size()});
}

void KbfgsOptimizer::set_scalar(const std::string& name, double value) {
  if (name == "syDecay") settings_.sy_decay = (float)value;
  if (name == "reinvert") reinvert_ = value != 0;
  SecondOrderOptimizer::set_scalar(name, value);
  for (size_t l = 0; l < layers_.size(); ++l)
    if (layers_[l].lbfgs && name == "layer" + std::to_string(l) + ".lbfgs.size") layers_[l].lbfgs->set_size((int)value);
}

void KbfgsOptimizer::take_diagnostics(Diagnostics& out) {
  float counts[kCounters];
  be_->to_host(counts, counters_, kCounters);
  be_->fill(counters_, 0.0f, kCounters);
  if (split_) {  // each rank counted the updates of its own layers
    double summed[kCounters];
    std::copy(counts, counts + kCounters, summed);
    comm_->sum_host(summed, kCounters);
    std::copy(summed, summed + kCounters, counts);
  }
  const double layer_updates = n_updates_ * layers_.size();
  out.push_back({"curvatureUpdates", layer_updates});
  out.push_back({"hgSkipped", counts[kHgSkipped]});
  out.push_back({"haSkipped", counts[kHaSkipped]});
  out.push_back({"powellDamping", counts[kPowell]});
  out.push_back({"lmDamping", counts[kLm]});
  out.push_back({"directionSeconds", t_direction_});
  out.push_back({"secondPassSeconds", t_second_pass_});
  out.push_back({"curvatureSeconds", t_curvature_});
  out.push_back({"replayedSteps", n_replayed_});
  adaptive_.take_diagnostics(out);
  n_updates_ = n_replayed_ = 0;
  t_direction_ = t_second_pass_ = t_curvature_ = 0;
}

}  // namespace kb
