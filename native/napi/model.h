// The native side of Sequential/Autoencoder: owns a Network and its TrainingState. One ObjectWrap.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "../core/network.h"
#include "../core/trainer.h"
#include "boundary.h"
#include "callback_gate.h"

namespace kb::napi {

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Model(const Napi::CallbackInfo& info);

  Network& network() { return *net_; }
  TrainingState& state() { return state_; }
  std::atomic<bool>& cancel_flag() { return cancel_; }
  CallbackGate& callback_gate() { return gate_; }
  // Stops training at the next batch boundary (AbortError), also ending a wait for a callback.
  void cancel() {
    cancel_ = true;
    gate_.wake();
  }
  void finish_job() { busy_ = false; }

 private:
  // Every method JS can call runs behind the exception boundary (boundary.h).
  template <Napi::Value (Model::*Method)(const Napi::CallbackInfo&)>
  Napi::Value Guarded(const Napi::CallbackInfo& info) {
    return at_boundary(info.Env(), [&] { return (this->*Method)(info); });
  }
  template <void (Model::*Method)(const Napi::CallbackInfo&)>
  void GuardedVoid(const Napi::CallbackInfo& info) {
    at_boundary(info.Env(), [&] { (this->*Method)(info); });
  }
  void construct(const Napi::CallbackInfo& info);
  Napi::Value Fit(const Napi::CallbackInfo& info);
  void Cancel(const Napi::CallbackInfo& info);
  void Resume(const Napi::CallbackInfo& info);
  void SetHyperparameter(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value GetWeights(const Napi::CallbackInfo& info);
  void SetWeights(const Napi::CallbackInfo& info);
  Napi::Value Gradients(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ExportState(const Napi::CallbackInfo& info);  // model_state.cc
  void ImportState(const Napi::CallbackInfo& info);         // model_state.cc
  void Dispose(const Napi::CallbackInfo& info);

  // A fresh optimizer from the TypeScript description { id, kind, paper, settings }, attached.
  void start_optimizer(const Napi::Object& optimizer, int batch_capacity, int train_rows);
  // Throws the typed Disposed/Busy errors; then marks the model busy when claim is true.
  void ensure_usable(Napi::Env env, bool claim);
  // Claims the model and returns start()'s promise; the claim is given back if start throws (bad arguments).
  // The job that start queues gives it back when it ends.
  Napi::Value claimed(Napi::Env env, const std::function<Napi::Value()>& start);
  // evaluate and predict: work on a worker thread, then result(env) resolves the promise on the JS thread.
  Napi::Value queue_task(const Napi::CallbackInfo& info, std::function<void()> work,
                         std::function<Napi::Value(Napi::Env)> result);

  std::unique_ptr<Backend> device_backend_;  // the model's own GPU backend; null on the CPU (declared first:
                                             // it must outlive the network and the optimizer state)
  std::unique_ptr<Network> net_;
  TrainingState state_;
  std::string optimizer_id_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> cancel_{false};
  CallbackGate gate_;
};

}  // namespace kb::napi
