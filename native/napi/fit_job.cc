#include "fit_job.h"

#include <chrono>

#include "../core/host_calls.h"
#include "../dist/mpi_collective.h"
#include "../dist/nccl_world.h"
#include "boundary.h"

namespace kb::napi {
namespace {

// False once the environment has begun tearing down: N-API then refuses every call that could run JS, and a
// property write on a fresh object is the cheapest such call.
bool js_can_run(Napi::Env env) {
  return call_into_js([&] { Napi::Object::New(env).Set("alive", true); });
}

Napi::Object to_js(Napi::Env env, const FitEvent& ev) {
  Napi::Object o = Napi::Object::New(env);
  if (ev.type == FitEvent::Type::Epoch) {
    o.Set("type", "epoch");
    o.Set("awaited", ev.awaited);
    o.Set("epoch", ev.epoch.epoch);
    o.Set("loss", ev.epoch.loss);
    o.Set("batchLoss", ev.epoch.batch_loss);
    o.Set("valLoss", ev.epoch.val_loss);
    o.Set("accuracy", ev.epoch.accuracy);
    o.Set("valAccuracy", ev.epoch.val_accuracy);
    o.Set("seconds", ev.epoch.seconds);
    o.Set("steps", (double)ev.epoch.steps);
    o.Set("partial", ev.epoch.partial);
    o.Set("stoppedBy", ev.epoch.stopped_by == Budget::Time ? "timeBudget" : ev.epoch.stopped_by == Budget::Steps ? "maxSteps" : "");
    Napi::Object diag = Napi::Object::New(env);
    for (const auto& [name, value] : ev.epoch.diagnostics) diag.Set(name, value);
    o.Set("diagnostics", diag);
    Napi::Object hyper = Napi::Object::New(env);
    for (const auto& [name, value] : ev.epoch.hyperparameters) hyper.Set(name, value);
    o.Set("hyperparameters", hyper);
  } else {
    o.Set("type", "batch");
    o.Set("awaited", ev.awaited);
    o.Set("epoch", ev.batch.epoch);
    o.Set("batch", ev.batch.batch);
    o.Set("batches", ev.batch.batches);
    o.Set("step", (double)ev.batch.step);
    o.Set("loss", ev.batch.loss);
  }
  return o;
}

}  // namespace

FitJob::FitJob(Napi::Env env, Model* model, Napi::Object model_object, FitData data, FitConfig config,
               int threads, DistributedSetup distributed, Napi::Function on_event)
    : Napi::AsyncProgressQueueWorker<FitEvent>(env),
      model_(model),
      model_object_(Napi::Persistent(model_object)),
      data_(std::move(data)),
      config_(config),
      threads_(threads),
      distributed_(std::move(distributed)),
      on_event_(Napi::Persistent(on_event)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void FitJob::Execute(const ExecutionProgress& progress) {
  const std::optional<Failure> failure = capture_failure([&] {
    Network& net = model_->network();
    if (threads_ > 0) net.backend().set_threads(threads_);
    auto last_sent = std::chrono::steady_clock::now();
    auto send = [&](const FitEvent& event) {
      progress.Send(&event, 1);
      last_sent = std::chrono::steady_clock::now();
    };
    CallbackGate& gate = model_->callback_gate();
    auto deliver = [&](FitEvent& event) {
      if (!event.awaited) return send(event);
      gate.arm();
      send(event);
      gate.wait(model_->cancel_flag(), kHeartbeatSeconds, [&] { send(FitEvent{}); });
    };
    FitCallbacks callbacks;
    callbacks.on_batch = [&](const BatchEvent& e) {
      FitEvent event;
      event.type = FitEvent::Type::Batch;
      event.awaited = config_.await_batch_events;
      event.batch = e;
      deliver(event);
    };
    callbacks.on_epoch = [&](const EpochEvent& e) {
      FitEvent event;
      event.type = FitEvent::Type::Epoch;
      event.awaited = config_.await_epoch_events;
      event.epoch = e;
      deliver(event);
    };
    callbacks.at_boundary = [&] {
      const std::chrono::duration<double> quiet = std::chrono::steady_clock::now() - last_sent;
      if (quiet.count() >= kHeartbeatSeconds) send(FitEvent{});
    };
    callbacks.should_stop = [&] { return gate.stop_requested(); };
    // The network trains over the MPI world for this fit only (algorithm.md §13).
    struct Ranks {
      Network& net;
      Ranks(Network& n, const DistributedSetup& setup, const std::atomic<bool>& cancel) : net(n) {
        if (setup.timeout <= 0) return;
        Collective& mpi = mpi::world(setup.timeout);
        Collective& world = setup.nccl ? nccl::world(mpi, net.backend(), setup.dirs, setup.timeout) : mpi;
        world.watch(&cancel);
        net.set_collective(&world);
      }
      ~Ranks() {
        net.collective().watch(nullptr);
        net.set_collective(nullptr);
      }
    } ranks(net, distributed_, model_->cancel_flag());
    fit_host(net, model_->state(), data_.train, data_.has_validation ? &data_.validation : nullptr, config_, callbacks,
             model_->cancel_flag());
  });
  if (failure) {
    error_code_ = failure->code;
    SetError(failure->message);
  }
}

void FitJob::OnProgress(const FitEvent* events, size_t count) {
  Napi::Env env = Env();
  bool alive = true;
  const bool delivered = call_into_js([&] {
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count && alive; ++i) {
      if (events[i].type == FitEvent::Type::Heartbeat) alive = js_can_run(env);
      else on_event_.Call({to_js(env, events[i])});
    }
  });
  // A callback threw (the TypeScript layer reports its error) or JS can no longer run: stop training.
  if (!delivered || !alive) model_->cancel();
}

void FitJob::OnOK() {
  model_->finish_job();
  call_into_js([&] { deferred_.Resolve(Env().Undefined()); });
}

void FitJob::OnError(const Napi::Error& error) {
  model_->finish_job();
  call_into_js([&] { deferred_.Reject(make_error(Env(), error_code_.c_str(), error.Message()).Value()); });
}

}  // namespace kb::napi
