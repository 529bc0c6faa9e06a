#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <string>

#include "buffers.h"
#include "data_parallel.h"
#include "errors.h"
#include "numerical_guard.h"

namespace kb {

void BatchSampler::reset(int rows, bool shuffle, uint64_t seed) {
  order_.resize(rows);
  std::iota(order_.begin(), order_.end(), 0u);
  position_ = 0;
  shuffle_ = shuffle;
  rng_ = Rng(seed ^ 0x5A17ED5EEDull);
}

const uint32_t* BatchSampler::next(int m) {
  if (position_ + m > order_.size()) {
    if (shuffle_)  // Fisher-Yates
      for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[rng_.below(i + 1)]);
    position_ = 0;
  }
  const uint32_t* batch = order_.data() + position_;
  position_ += m;
  return batch;
}

bool has_accuracy(const Network& net) {
  if (net.output_tokens()) return false;  // one prediction per token, not per sample
  return net.loss_kind() == Loss::SoftmaxCrossEntropy || (net.loss_kind() == Loss::SigmoidCrossEntropy && net.output_dim() == 1);
}

namespace {
// Rows of the loaded batch whose prediction matches the target: the argmax of the logits against the argmax
// of the (one-hot) targets for softmax cross-entropy, the sign of the logit against t > 0.5 for one sigmoid.
int correct_predictions(Network& net, Workspace& ws) {
  thread_local std::vector<float> z, t;
  const int m = ws.m, d = net.output_dim();
  z.resize((size_t)m * d);
  t.resize((size_t)m * d);
  net.backend().to_host(z.data(), ws.output, z.size());
  net.backend().to_host(t.data(), ws.target, t.size());
  int correct = 0;
  for (int i = 0; i < m; ++i) {
    const float* zi = z.data() + (size_t)i * d;
    const float* ti = t.data() + (size_t)i * d;
    if (d == 1) correct += (zi[0] > 0) == (ti[0] > 0.5f);
    else correct += std::max_element(zi, zi + d) - zi == std::max_element(ti, ti + d) - ti;
  }
  return correct;
}
// Loads rows begin..end of a list of `count` rows spread evenly over data (row ⌊i·data.rows/count⌋ is the
// i-th; all rows in order when count is data.rows), in chunks of ws's capacity, calling visit(first row, rows)
// after each load until it returns false.
template <typename Visit>
void for_each_chunk(Network& net, Workspace& ws, const DataView& data, Visit visit, int begin = 0, int end = -1,
                    int count = -1) {
  thread_local std::vector<uint32_t> rows;
  if (count < 0) count = data.rows;
  if (end < 0) end = count;
  for (int start = begin; start < end; start += ws.capacity()) {
    const int m = std::min(ws.capacity(), end - start);
    rows.resize(m);
    for (int i = 0; i < m; ++i) rows[i] = (uint32_t)((int64_t)(start + i) * data.rows / count);
    net.load_batch(ws, data.x, data.y, rows.data(), m);
    if (!visit(start, m)) return;
  }
}
}  // namespace

// In data-parallel training each rank evaluates its share of the rows and the sums are added up (§13.1).
double mean_loss(Network& net, Workspace& ws, const DataView& data, double* accuracy, int subset) {
  double sums[2] = {0, 0};  // loss, correct predictions
  const bool count = accuracy && has_accuracy(net);
  const int rows = subset > 0 && subset < data.rows ? subset : data.rows;
  Collective& comm = net.collective();
  const BatchShare share = share_of(rows, comm.rank(), comm.size());
  for_each_chunk(net, ws, data, [&](int, int) {
    sums[0] += net.forward(ws, Network::Want::Loss);
    if (count) sums[1] += correct_predictions(net, ws);
    return true;
  }, share.first, share.first + share.count, rows);
  comm.sum_host(sums, 2);
  if (accuracy) *accuracy = count ? sums[1] / rows : NAN;
  return sums[0] / rows;
}

void check_loss_finite(Network& net, Workspace& ws, const DataView& data, double loss, const char* what) {
  if (std::isfinite(loss)) return;
  const std::string head = std::string("the loss over the ") + what + " is " + number_text(loss);
  for_each_chunk(net, ws, data, [&](int start, int m) {
    if (std::isfinite(net.forward(ws, Network::Want::Loss))) return true;
    throw Error(ErrorKind::Numerical, head + ": rows " + std::to_string(start) + " to " + std::to_string(start + m - 1) +
                                          " make it non-finite, first " + where_non_finite(net, ws));
  });
  throw Error(ErrorKind::Numerical, head);
}

int64_t first_non_finite_host(const float* data, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(data[i])) return (int64_t)i;
  return -1;
}

void check_finite(const float* data, int rows, int cols, const char* what) {
  const int64_t at = first_non_finite_host(data, (size_t)rows * cols);
  if (at >= 0)
    throw Error(ErrorKind::InvalidData, std::string(what) + " contain NaN or Infinity at row " +
                                            std::to_string(at / cols) + ", column " + std::to_string(at % cols));
}

StagedData::StagedData(Backend& backend, const DataView& host, int x_cols, int y_cols) : backend_(backend) {
  view_.rows = host.rows;
  view_.x = backend.stage_dataset(host.x, (size_t)host.rows * x_cols);
  try {
    view_.y = host.y == host.x ? view_.x : backend.stage_dataset(host.y, (size_t)host.rows * y_cols);
  } catch (...) {
    backend.release_dataset(view_.x);
    throw;
  }
}

StagedData::~StagedData() {
  if (view_.y != view_.x) backend_.release_dataset(view_.y);
  backend_.release_dataset(view_.x);
}

namespace {
double since(Clock::time_point t0) { return seconds_between(t0, Clock::now()); }

// Data-parallel training: whether any rank wants to stop here (its callback asked, or its run was aborted),
// so that every rank stops at the same step (§13.1). One process: its own answer, with no collective.
bool any_rank(Collective& comm, bool mine) {
  if (!comm.distributed()) return mine;
  double votes = mine;
  comm.sum_host(&votes, 1);
  return votes > 0;
}

// What the ranks decided at a batch boundary.
struct BoundaryVote {
  bool stop = false;         // a rank's callbacks asked to stop
  bool out_of_time = false;  // rank 0's clock is past the time budget
};

// Before each batch: throws Aborted when any rank's run was cancelled; returns whether any rank asked to stop
// (stop: this rank's callbacks did, after the previous batch) and whether rank 0 is out of time (out_of_time:
// this rank's clock says so; only rank 0's counts, §13.1). One vote carries all three.
BoundaryVote batch_boundary(const FitCallbacks& callbacks, const std::atomic<bool>& cancel, Collective& comm,
                            bool stop = false, bool out_of_time = false) {
  if (callbacks.at_boundary) callbacks.at_boundary();
  double votes[3] = {(double)cancel.load(std::memory_order_relaxed), (double)stop, (double)(out_of_time && comm.rank() == 0)};
  if (comm.distributed()) comm.sum_host(votes, 3);
  if (votes[0] > 0)
    throw Error(ErrorKind::Aborted, comm.distributed() ? "training was aborted (on this rank or another)" : "training was aborted");
  return {votes[1] > 0, votes[2] > 0};
}

}  // namespace

namespace {

// The passes of one training step keep the convolutions' patches only where the step reads them (algorithm.md
// §12.4, §12.6): with curvatureEvery r the steps between curvature updates run oneDNN's direct kernel or
// chunked patches. Outside the steps (warm start, evaluations) the network's setting stays as it was.
class StepPatches {
 public:
  StepPatches(Network& net, const Optimizer& opt, int64_t k) : net_(net), outside_(net.keep_patches()) {
    net.set_keep_patches(outside_ && opt.step_reads_layer_inputs(k));
  }
  ~StepPatches() { net_.set_keep_patches(outside_); }
  StepPatches(const StepPatches&) = delete;
  StepPatches& operator=(const StepPatches&) = delete;

 private:
  Network& net_;
  const bool outside_;
};

void run_fit(Network& net, TrainingState& state, const DataView& train, const DataView* validation,
             const FitConfig& config, const FitCallbacks& callbacks, const std::atomic<bool>& cancel) {
  const int m = config.batch_size;  // the whole batch; each rank holds its share (§13.1)
  Collective& comm = net.collective();
  if (m < comm.size())
    throw Error(ErrorKind::InvalidArgument, "batchSize " + std::to_string(m) + " is smaller than the " +
                                                std::to_string(comm.size()) + " ranks: every rank needs a row");
  const int capacity = largest_share(m, comm.size());
  Optimizer& opt = *state.optimizer;
  if (!state.workspace || state.workspace->capacity() != capacity) {
    state.workspace = std::make_unique<Workspace>(net, capacity);
  }
  Workspace& ws = *state.workspace;
  if (!state.backup) {
    state.backup = std::make_unique<ParameterBackup>();
    state.backup->owned.bind(net.backend());
    state.backup->data = state.backup->owned.take(net.param_count());
  }
  NumericalGuard guard(net, opt, *state.backup, config.skip_non_finite);
  opt.distribute(comm, config.split_curvature && comm.distributed());
  if (state.sampler.rows() != train.rows) state.sampler.reset(train.rows, config.shuffle, config.seed);
  const int pass = train.rows / m;  // the incomplete trailing batch is dropped (algorithm.md §2 step 1)
  // An epoch: one pass, or steps_per_epoch batches of the same stream (§2.2).
  const int batches = config.steps_per_epoch > 0 ? config.steps_per_epoch : pass;

  if (!state.warm) {
    const auto t0 = Clock::now();
    if (opt.wants_warm_start()) {
      const int warm_batches = config.warm_start_batches > 0 ? std::min(config.warm_start_batches, pass) : pass;
      for (int j = 1; j <= warm_batches; ++j) {
        batch_boundary(callbacks, cancel, comm);
        load_share(net, ws, train, state.sampler.next(m), m);
        opt.warm_start_batch(net, ws, j);
      }
    }
    state.warm = true;
    state.seconds += since(t0);
  }

  const double start_seconds = state.seconds;
  const int64_t start_step = state.step;
  auto steps_spent = [&] { return config.max_steps > 0 && state.step - start_step >= config.max_steps; };
  // A batch callback on any rank may save a checkpoint: then every rank makes the state whole around each
  // batch event (gather_state is collective), whether or not it has a callback itself.
  const bool batch_callbacks = config.batch_events && callbacks.on_batch;
  const bool gather_each_batch = any_rank(comm, batch_callbacks);
  auto stop_wanted = [&] { return callbacks.should_stop && callbacks.should_stop(); };
  for (int e = 0; e < config.epochs; ++e) {
    const int epoch = state.epochs_done;
    opt.scatter_state();  // after the last epoch's event (§13.1)
    comm.take_traffic();  // the warm start's and the last evaluation's traffic is not this epoch's steps'
    const double skipped_before = guard.skipped();
    double batch_loss_sum = 0, forward_seconds = 0, backward_seconds = 0;
    int used_batches = 0;  // batches that led to a step (a skipped step's next batch gets none)
    int clipped_steps = 0;
    const auto epoch_start = Clock::now();
    // This fit's training time so far is past the budget (§2.2).
    auto out_of_time = [&] {
      return config.time_budget_seconds > 0 &&
             state.seconds - start_seconds + since(epoch_start) >= config.time_budget_seconds;
    };
    Budget stopped_by = Budget::None;
    bool partial = false;
    for (int b = 0; b < batches; ++b) {
      // A stop asked for after the previous batch, or a budget spent by it, ends the epoch here.
      const BoundaryVote vote = batch_boundary(callbacks, cancel, comm, b > 0 && stop_wanted(), b > 0 && out_of_time());
      if (vote.out_of_time) stopped_by = Budget::Time;
      else if (b > 0 && steps_spent()) stopped_by = Budget::Steps;
      if (vote.stop || stopped_by != Budget::None) {
        partial = true;
        break;
      }
      const auto t0 = phase_boundary(net.backend());
      const StepPatches patches(net, opt, state.step);
      load_share(net, ws, train, state.sampler.next(m), m);
      double sums[2] = {net.forward(ws, Network::Want::LossAndGradient), ws.loss_square_sum};
      comm.sum_host(sums, 2);
      const MeanLoss batch_loss = MeanLoss::of_batch(sums[0], sums[1], m);
      const double loss = batch_loss.mean;
      const auto t1 = phase_boundary(net.backend());
      const StepPosition position{state.step, epoch, b};
      if (guard.check(ws, loss, position)) continue;  // the last step was skipped: this batch gets no step
      net.backward(ws, ws.grad);
      const auto t2 = phase_boundary(net.backend());
      forward_seconds += seconds_between(t0, t1);
      backward_seconds += seconds_between(t1, t2);
      guard.save(position, batch_loss);
      opt.set_batch_loss(loss);
      try {
        clipped_steps += step_under_rules(state.rules, opt, net, ws, state.step);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::NotPositiveDefinite && e.kind() != ErrorKind::Numerical) throw;
        ++state.step;
        if (!guard.skip_failed_step(e)) throw;
        continue;
      }
      ++state.step;
      batch_loss_sum += loss;
      ++used_batches;
      if (gather_each_batch) opt.gather_state();
      if (batch_callbacks) {
        BatchEvent event{epoch, b, batches, state.step, loss};
        callbacks.on_batch(event);
      }
      opt.scatter_state();
    }
    net.backend().synchronize();  // a GPU may still be running the last step: count it in this epoch
    state.seconds += since(epoch_start);
    const Collective::Traffic traffic = comm.take_traffic();
    ++state.epochs_done;
    // At a whole epoch's end, with more to come: the budgets (rank 0's clock decides for all ranks).
    if (!partial && e + 1 < config.epochs) {
      double spent = config.time_budget_seconds > 0 && state.seconds - start_seconds >= config.time_budget_seconds;
      comm.broadcast_host(&spent, sizeof spent, 0);
      stopped_by = spent != 0 ? Budget::Time : steps_spent() ? Budget::Steps : Budget::None;
    }

    EpochEvent event;
    event.epoch = epoch;
    event.steps = state.step;
    event.partial = partial;
    event.stopped_by = stopped_by;
    event.seconds = state.seconds;
    event.batch_loss = used_batches ? batch_loss_sum / used_batches : NAN;
    opt.hyperparameters(event.hyperparameters);
    const double tau = opt.weight_decay();
    auto training_loss = [&] {
      return mean_loss(net, ws, train, &event.accuracy, config.training_loss_rows) +
             0.5 * tau * net.backend().sum_squares(net.params(), net.param_count());
    };
    event.loss = training_loss();
    // The epoch's last step is checked here (no batch follows it); a skipped one leaves the weights before it.
    if (guard.check_epoch_loss(event.loss, epoch)) event.loss = training_loss();
    if (validation) event.val_loss = mean_loss(net, ws, *validation, &event.val_accuracy);
    event.diagnostics.push_back({"forwardSeconds", forward_seconds});
    event.diagnostics.push_back({"backwardSeconds", backward_seconds});
    if (config.skip_non_finite) event.diagnostics.push_back({"skippedSteps", guard.skipped() - skipped_before});
    if (state.rules.clip_norm > 0) event.diagnostics.push_back({"clippedSteps", clipped_steps});
    if (comm.distributed()) {
      event.diagnostics.push_back({"summedBytes", traffic.summed_bytes});
      event.diagnostics.push_back({"broadcastBytes", traffic.broadcast_bytes});
      event.diagnostics.push_back({"collectiveCalls", traffic.calls});
    }
    guard.take_diagnostics(event.diagnostics);
    opt.take_diagnostics(event.diagnostics);
    opt.gather_state();  // the callback may save a checkpoint, and training may end here
    if (callbacks.on_epoch) callbacks.on_epoch(event);
    if (partial || stopped_by != Budget::None) break;  // the ranks decided alike
    if (any_rank(comm, stop_wanted())) break;
  }
}

}  // namespace

void fit(Network& net, TrainingState& state, const DataView& train, const DataView* validation,
         const FitConfig& config, const FitCallbacks& callbacks, const std::atomic<bool>& cancel) {
  Optimizer& opt = *state.optimizer;
  try {
    run_fit(net, state, train, validation, config, callbacks, cancel);
  } catch (const Error& e) {
    // Every rank ends alike on these (a vote, or a decision from state that all ranks share): leave the
    // optimizer's state whole, as a fit that ends normally does. Other failures may be one rank's alone.
    const ErrorKind k = e.kind();
    if (k == ErrorKind::Aborted || k == ErrorKind::Numerical || k == ErrorKind::NotPositiveDefinite) try {
        opt.gather_state();
      } catch (const Error&) {  // the other ranks are gone: the job cannot go on anyway
      }
    throw;
  }
  opt.gather_state();  // e.g. after a fit of zero epochs that ran the warm start
}

}  // namespace kb
