// The step loop every method shares (algorithm.md §2): sample a minibatch, forward, backward, optimizer step, and
// at each epoch end the regularised training loss over the training set; budgets in seconds or steps end it
// between steps (§2.2). No N-API here.
#pragma once

#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "optimizer.h"
#include "buffers.h"
#include "network.h"
#include "step_rules.h"
#include "../rules/rng.h"

namespace kb {

// Row-major samples; y may equal x (autoencoders). Pointers are host memory until staged (StagedData).
struct DataView {
  const float* x = nullptr;
  const float* y = nullptr;
  int rows = 0;
};

// Walks a permutation of the rows in order and reshuffles only when a batch would run past the end; the
// first pass is in stored order. This is the reference's data iterator (algorithm.md §2.1): a warm-start pass
// consumes one epoch, so the first training epoch of a warm-started method is shuffled.
class BatchSampler {
 public:
  void reset(int rows, bool shuffle, uint64_t seed);
  const uint32_t* next(int m);
  int rows() const { return (int)order_.size(); }

  // Checkpoints: the whole data-order state.
  const std::vector<uint32_t>& order() const { return order_; }
  size_t position() const { return position_; }
  bool shuffle() const { return shuffle_; }
  uint64_t rng_state() const { return rng_.state(); }
  void restore(std::vector<uint32_t> order, size_t position, bool shuffle, uint64_t rng_state) {
    order_ = std::move(order);
    position_ = position;
    shuffle_ = shuffle;
    rng_.set_state(rng_state);
  }

 private:
  std::vector<uint32_t> order_;
  size_t position_ = 0;
  bool shuffle_ = true;
  Rng rng_;
};

struct FitConfig {
  int epochs = 1;
  int batch_size = 1000;
  // Steps per epoch; 0: ⌊rows/m⌋, one pass. The sampler's stream goes on across epochs either way (§2.2).
  int steps_per_epoch = 0;
  double time_budget_seconds = 0;  // 0: no budget; otherwise stop after the first step that ends past it
  int64_t max_steps = 0;           // 0: no budget; otherwise stop after this many steps of this fit
  int training_loss_rows = 0;      // 0: the epoch's training loss over all rows; otherwise over so many, evenly spread
  int warm_start_batches = 0;      // 0: a method's warm start takes one pass; otherwise so many batches, at most a pass
  bool shuffle = true;
  uint64_t seed = 0;
  bool batch_events = false;
  // Callbacks in step (napi/callback_gate.h): the caller waits after these events until its callback returns.
  bool await_batch_events = false;
  bool await_epoch_events = false;
  // A non-finite step is skipped (weights and optimizer state put back, damping raised) instead of ending
  // training; see core/numerical_guard.h.
  bool skip_non_finite = false;
  // Data-parallel training (algorithm.md §13.2): each layer's curvature work done by one rank and broadcast,
  // instead of by every rank.
  bool split_curvature = false;
};

// Why a fit ended before its epochs were done, where a budget ended it (algorithm.md §2.2).
enum class Budget { None, Time, Steps };

struct BatchEvent {
  int epoch = 0;        // 0-based
  int batch = 0;        // 0-based within the epoch
  int batches = 0;      // per epoch
  int64_t step = 0;     // global step counter k after this step
  double loss = 0;      // mean data loss of the minibatch at theta_k
};

struct EpochEvent {
  int epoch = 0;
  double loss = 0;          // regularised training loss over the training set, or its spread subset (§2 step 6)
  double batch_loss = 0;    // mean of the epoch's minibatch losses
  double val_loss = NAN;    // mean data loss of the validation data, if any
  double accuracy = NAN;    // over the training set, where has_accuracy
  double val_accuracy = NAN;
  double seconds = 0;       // cumulative training wall time of this model, evaluation excluded
  int64_t steps = 0;
  bool partial = false;     // the epoch ended before its last batch (a budget or a stop ended training in it)
  Budget stopped_by = Budget::None;  // the budget that ends training after this epoch
  Diagnostics diagnostics;
  Diagnostics hyperparameters;  // lr (and damping) as the optimizer holds them now
};

// What persists between fit() calls on one model: the optimizer, its step counter, the data order.
// The parameters before the current step: what training falls back to when a step goes non-finite.
struct ParameterBackup {
  OwnedBuffers owned;
  float* data = nullptr;
};

struct TrainingState {
  std::unique_ptr<Optimizer> optimizer;
  StepRules rules;             // clipping and the lr schedule around every step (algorithm.md §15)
  std::unique_ptr<Workspace> workspace;
  std::unique_ptr<ParameterBackup> backup;
  BatchSampler sampler;
  bool warm = false;           // warm start done
  int batch_capacity = 0;      // what the optimizer was attached with
  int train_rows = 0;
  int64_t step = 0;
  int epochs_done = 0;
  double seconds = 0;
};

struct FitCallbacks {
  std::function<void(const BatchEvent&)> on_batch;
  std::function<void(const EpochEvent&)> on_epoch;
  // At every batch boundary, just before cancellation is checked (the caller's chance to notice that it
  // must stop, e.g. because its JavaScript environment is going away).
  std::function<void()> at_boundary;
  // Asked after each batch and epoch event: true ends training gracefully (the epoch in progress is evaluated
  // and reported, then fit returns).
  std::function<bool()> should_stop;
};

// Runs training; throws kb::Error (Aborted when cancel becomes true, checked at every batch boundary).
void fit(Network& net, TrainingState& state, const DataView& train, const DataView* validation,
         const FitConfig& config, const FitCallbacks& callbacks, const std::atomic<bool>& cancel);

// Mean per-sample data loss over all rows of data, in chunks of ws's capacity; with accuracy, also the share
// of rows predicted right (NaN for a loss without a class decision, see has_accuracy). With subset > 0 (and
// below the rows), over that many rows spread evenly over the data: row ⌊i·rows/subset⌋ for i < subset.
double mean_loss(Network& net, Workspace& ws, const DataView& data, double* accuracy = nullptr, int subset = 0);
// Whether accuracy is defined: softmax cross-entropy (argmax), or sigmoid cross-entropy with one output.
bool has_accuracy(const Network& net);

// Throws Numerical when loss (mean_loss over data) is NaN or infinite, naming the first rows and layer at fault.
void check_loss_finite(Network& net, Workspace& ws, const DataView& data, double loss, const char* what);

// Throws InvalidData naming the first NaN/Inf of a rows x cols host matrix.
void check_finite(const float* data, int rows, int cols, const char* what);
// Index of the first NaN/Inf of a host array, or -1.
int64_t first_non_finite_host(const float* data, size_t n);

// Host data made readable by the backend's kernels for as long as this lives: the CPU backend reads the host
// arrays in place, a GPU backend uploads them once (once per fit, not per batch).
class StagedData {
 public:
  StagedData(Backend& backend, const DataView& host, int x_cols, int y_cols);
  ~StagedData();
  StagedData(const StagedData&) = delete;
  StagedData& operator=(const StagedData&) = delete;
  const DataView& view() const { return view_; }

 private:
  Backend& backend_;
  DataView view_;
};

}  // namespace kb
