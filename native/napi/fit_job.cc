#include "fit_job.h"

#include <new>

#include "convert.h"

namespace kb::napi {

FitJob::FitJob(Napi::Env env, Model* model, Napi::Object model_object, FitData data, FitConfig config,
               int threads, Napi::Function on_event)
    : Napi::AsyncProgressQueueWorker<FitEvent>(env),
      model_(model),
      model_object_(Napi::Persistent(model_object)),
      data_(std::move(data)),
      config_(config),
      threads_(threads),
      on_event_(Napi::Persistent(on_event)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void FitJob::Execute(const ExecutionProgress& progress) {
  try {
    Network& net = model_->network();
    Backend& backend = net.backend();
    if (threads_ > 0) backend.set_threads(threads_);
    check_finite(data_.train.x, data_.train.rows, net.input_dim(), "training inputs");
    if (data_.train.y != data_.train.x)
      check_finite(data_.train.y, data_.train.rows, net.output_dim(), "training targets");
    if (data_.has_validation) {
      check_finite(data_.validation.x, data_.validation.rows, net.input_dim(), "validation inputs");
      if (data_.validation.y != data_.validation.x)
        check_finite(data_.validation.y, data_.validation.rows, net.output_dim(), "validation targets");
    }
    const StagedData train(backend, data_.train, net.input_dim(), net.output_dim());
    std::unique_ptr<StagedData> validation;
    if (data_.has_validation)
      validation = std::make_unique<StagedData>(backend, data_.validation, net.input_dim(), net.output_dim());
    FitCallbacks callbacks;
    callbacks.on_batch = [&](const BatchEvent& e) {
      FitEvent event;
      event.batch = e;
      progress.Send(&event, 1);
    };
    callbacks.on_epoch = [&](const EpochEvent& e) {
      FitEvent event;
      event.is_epoch = true;
      event.epoch = e;
      progress.Send(&event, 1);
    };
    fit(net, model_->state(), train.view(), validation ? &validation->view() : nullptr, config_, callbacks,
        model_->cancel_flag());
  } catch (const Error& e) {
    error_code_ = e.code();
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    error_code_ = "KBFGS_OUT_OF_MEMORY";
    SetError("out of memory while training");
  } catch (const std::exception& e) {
    error_code_ = "KBFGS_INTERNAL";
    SetError(e.what());
  }
}

void FitJob::OnProgress(const FitEvent* events, size_t count) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (size_t i = 0; i < count; ++i) {
    const FitEvent& ev = events[i];
    Napi::Object o = Napi::Object::New(env);
    if (ev.is_epoch) {
      o.Set("type", "epoch");
      o.Set("epoch", ev.epoch.epoch);
      o.Set("loss", ev.epoch.loss);
      o.Set("batchLoss", ev.epoch.batch_loss);
      o.Set("valLoss", ev.epoch.val_loss);
      o.Set("seconds", ev.epoch.seconds);
      o.Set("steps", (double)ev.epoch.steps);
      Napi::Object diag = Napi::Object::New(env);
      for (const auto& [name, value] : ev.epoch.diagnostics) diag.Set(name, value);
      o.Set("diagnostics", diag);
    } else {
      o.Set("type", "batch");
      o.Set("epoch", ev.batch.epoch);
      o.Set("batch", ev.batch.batch);
      o.Set("batches", ev.batch.batches);
      o.Set("step", (double)ev.batch.step);
      o.Set("loss", ev.batch.loss);
    }
    try {
      on_event_.Call({o});
    } catch (const Napi::Error&) {
      model_->cancel_flag() = true;  // the TypeScript layer reports the callback's error; stop training
    }
  }
}

void FitJob::OnOK() {
  model_->finish_job();
  deferred_.Resolve(Env().Undefined());
}

void FitJob::OnError(const Napi::Error& error) {
  model_->finish_job();
  deferred_.Reject(make_error(Env(), error_code_.c_str(), error.Message()).Value());
}

}  // namespace kb::napi
