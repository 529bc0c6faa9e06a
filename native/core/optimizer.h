// The interface every training method implements; the shared step loop lives in core/trainer.cc.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "network.h"
#include "step_length.h"

namespace kb {

// Per-epoch counters and phase timings an optimizer reports (name, value); summed over the epoch's steps.
using Diagnostics = std::vector<std::pair<std::string, double>>;

// One persistent state buffer (backend memory), for checkpoints: everything a resumed run needs to continue
// bit for bit; per-step scratch is not state.
struct StateBuffer {
  std::string name;
  float* data;
  size_t count;
};
using StateScalars = std::vector<std::pair<std::string, double>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual const char* name() const = 0;

  // Allocates the state for net, a batch capacity and the training set size; called once, before the
  // first step.
  virtual void attach(Network& net, int batch_capacity, int train_rows) = 0;

  // Warm start (algorithm.md §3.2, §5, §6): one full pass over the training set at the initial weights. The trainer
  // loads each minibatch into ws and calls warm_start_batch with the 1-based batch number j; the optimizer
  // runs the passes it needs.
  virtual bool wants_warm_start() const { return false; }
  // Whether step() reads the layers' input rows abar left by the passes (a convolution's patches, §12.6).
  virtual bool reads_layer_inputs() const { return true; }
  // Whether step k (0-based) reads them; the trainer's passes of a step that reads none keep no patches. A method
  // that updates its curvature every r-th step reads them at those steps only (algorithm.md §12.4, §5.1).
  virtual bool step_reads_layer_inputs(int64_t k) const {
    (void)k;
    return reads_layer_inputs();
  }
  virtual void warm_start_batch(Network&, Workspace&, int /*j*/) {}

  // One step k (0-based). On entry ws holds the forward and backward of the minibatch at theta_k, with the
  // mean data-loss gradient in ws.grad. On exit net.params() holds theta_{k+1}.
  virtual void step(Network& net, Workspace& ws, int64_t k) = 0;
  // Before step(): the mean data loss of its minibatch at theta_k, summed over the ranks (adaptive damping
  // compares it with the loss after the step, algorithm.md §19).
  virtual void set_batch_loss(double) {}

  // The L2 coefficient tau whose (tau/2)|theta|^2 the reported training loss includes (algorithm.md §2 step 6).
  virtual float weight_decay() const = 0;

  // Numerical guards (optim/non_finite.h): once the last step has run, which quantity it computed first went
  // NaN or infinite ("" when none did, e.g. "the direction of layer 3"). Reading clears the report.
  virtual std::string take_non_finite_report() { return ""; }
  // The skip-and-raise-damping mode: makes later steps more conservative after a skipped step (damping λ × 10
  // for the second-order methods, half the learning rate for the first-order ones).
  virtual void raise_damping() = 0;

  // Changes a hyperparameter between steps ("lr", and "damping" for the second-order methods); throws
  // InvalidArgument for a name the method does not have.
  virtual void set_hyperparameter(const std::string& name, double value) = 0;
  // The current values of those hyperparameters, which raise_damping may have changed: every epoch event
  // carries them so that the caller's copy of the settings does not go stale.
  virtual void hyperparameters(Diagnostics& out) const = 0;

  // At the start of every fit: the ranks it trains with (algorithm.md §13), and whether each layer's curvature
  // work (factor inversions, BFGS updates of the H matrices) runs on one rank, which broadcasts the result.
  virtual void distribute(Collective& comm, bool split_curvature) { (void)comm, (void)split_curvature; }
  // State that a distributed fit keeps in per-rank shares (K-BFGS's A, algorithm.md §13.1) made whole and the
  // same on every rank, before anything outside the step may read it (an event's callback, the end of fit),
  // and split into shares again before the next step. Collective; no-ops for one process.
  virtual void gather_state() {}
  virtual void scatter_state() {}

  // The divergence safeguard's state (core/step_length.h), or null for a method without it.
  virtual StepLength* step_length() { return nullptr; }

  // Appends this epoch's counters and timings and resets them.
  virtual void take_diagnostics(Diagnostics&) {}

  // Checkpoints: the persistent buffers (after attach) and scalars; set_scalar restores one scalar.
  virtual void state_buffers(std::vector<StateBuffer>& out) = 0;
  virtual void state_scalars(StateScalars&) const {}
  virtual void set_scalar(const std::string&, double) {}
};

}  // namespace kb
