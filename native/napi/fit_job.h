// fit() as one native training thread: events reach JS through the progress queue, and the promise settles
// only after the queue has delivered the last event (node-addon-api calls OnOK/OnError once the queue's
// thread-safe function is finalised). When the environment tears down (worker terminated, process exiting),
// Node waits for this job before it frees anything; the JS-side callbacks then find that JS cannot run,
// cancel training and settle nothing.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "../core/trainer.h"
#include "model.h"

namespace kb::napi {

struct FitEvent {
  enum class Type { Batch, Epoch, Heartbeat } type = Type::Heartbeat;
  bool awaited = false;  // the training thread waits until JS calls resume() (napi/callback_gate.h)
  BatchEvent batch;
  EpochEvent epoch;
};

// Data-parallel training over the MPI world (algorithm.md §13), when timeout > 0: a wait for the other ranks
// fails after that many seconds. nccl: a CUDA model's sums go over NCCL, loaded from its soname or dirs.
struct DistributedSetup {
  double timeout = 0;
  bool nccl = false;
  std::vector<std::string> dirs;
};

struct FitData {
  Napi::Reference<Napi::Float32Array> x, y, val_x, val_y;  // keep the typed arrays alive
  DataView train, validation;
  bool has_validation = false;
};

class FitJob final : public Napi::AsyncProgressQueueWorker<FitEvent> {
 public:
  FitJob(Napi::Env env, Model* model, Napi::Object model_object, FitData data, FitConfig config, int threads,
         DistributedSetup distributed, Napi::Function on_event);
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const FitEvent* events, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  Model* model_;
  Napi::ObjectReference model_object_;
  FitData data_;
  FitConfig config_;
  int threads_;
  DistributedSetup distributed_;
  Napi::FunctionReference on_event_;
  Napi::Promise::Deferred deferred_;
  std::string error_code_;
};

// The FitEvent the training thread sends when nothing else has reached JS for a while: it lets the JS thread
// notice an environment that is tearing down (a terminated worker) and cancel training within one batch.
constexpr double kHeartbeatSeconds = 0.05;

}  // namespace kb::napi
