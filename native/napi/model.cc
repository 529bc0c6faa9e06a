#include "model.h"

#include <cmath>
#include <functional>
#include <vector>

#include "../core/devices.h"
#include "../core/errors.h"
#include "../core/host_calls.h"
#include "../core/names.h"
#include "../optim/factory.h"
#include "boundary.h"
#include "convert.h"
#include "fit_job.h"
#include "js_memory.h"

namespace kb::napi {
namespace {

// Runs work on the libuv pool and settles a promise with result(env); used by evaluate() and predict().
class TaskWorker final : public Napi::AsyncWorker {
 public:
  TaskWorker(Napi::Env env, Model* model, Napi::Object keep_alive, std::function<void()> work,
             std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env), model_(model), keep_(Napi::Persistent(keep_alive)), work_(std::move(work)),
        result_(std::move(result)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    failure_ = capture_failure(work_);
    if (failure_) SetError(failure_->message);
  }
  void OnOK() override {
    model_->finish_job();
    call_into_js([&] { deferred_.Resolve(result_(Env())); });
  }
  void OnError(const Napi::Error&) override {
    model_->finish_job();
    call_into_js([&] { deferred_.Reject(make_error(Env(), failure_->code.c_str(), failure_->message).Value()); });
  }

 private:
  Model* model_;
  Napi::ObjectReference keep_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
  Napi::Promise::Deferred deferred_;
  std::optional<Failure> failure_;
};

// One layer of the model spec, as lib/layers.ts's NativeLayer gives it: { type, ...its kind's settings }
// (core/layers/registry.cc lists the kinds, each kind's factory the settings it reads).
class JsLayerFields final : public LayerFields {
 public:
  JsLayerFields(int l, const Napi::Object& o) : l_(l), o_(o) {}
  int whole(const char* key) const override {
    const double v = number_field(o_, key, 0);
    if (!(std::fabs(v) <= (1 << 20)) || v != std::floor(v))
      throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(l_) + ": " + key + " must be a whole number");
    return (int)v;
  }
  double number(const char* key) const override {
    const double v = number_field(o_, key, NAN);
    if (!std::isfinite(v)) throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(l_) + ": " + key + " must be a number");
    return v;
  }
  bool flag(const char* key) const override { return o_.Get(key).ToBoolean(); }
  std::string text(const char* key) const override { return o_.Get(key).ToString().Utf8Value(); }

 private:
  int l_;
  const Napi::Object& o_;
};

std::unique_ptr<Layer> layer_from(int l, const Napi::Object& o) {
  return make_layer(l, o.Get("type").ToString().Utf8Value(), JsLayerFields(l, o));
}

// Reads (x, y|null, rows) and checks the lengths against the network.
DataView data_view(Napi::Env env, const Napi::Value& x_value, const Napi::Value& y_value, const Napi::Value& rows_value,
                   const Network& net, const char* what, Napi::Reference<Napi::Float32Array>* keep_x,
                   Napi::Reference<Napi::Float32Array>* keep_y) {
  Napi::Float32Array x = float32_arg(x_value, what);
  if (!rows_value.IsNumber()) throw_invalid(env, "rows must be a number");
  const int rows = rows_value.As<Napi::Number>().Int32Value();
  if (rows <= 0 || x.ElementLength() != (size_t)rows * net.input_dim())
    throw_invalid(env, std::string(what) + " has " + std::to_string(x.ElementLength()) + " values, expected " +
                           std::to_string(rows) + " x " + std::to_string(net.input_dim()));
  DataView view;
  view.rows = rows;
  view.x = x.Data();
  view.y = view.x;
  if (keep_x) *keep_x = Napi::Persistent(x);
  if (!y_value.IsNull() && !y_value.IsUndefined()) {
    Napi::Float32Array y = float32_arg(y_value, "targets");
    if (y.ElementLength() != (size_t)rows * net.target_dim())
      throw_invalid(env, "targets have " + std::to_string(y.ElementLength()) + " values, expected " +
                             std::to_string(rows) + " x " + std::to_string(net.target_dim()));
    view.y = y.Data();
    if (keep_y) *keep_y = Napi::Persistent(y);
  } else if (net.input_dim() != net.target_dim()) {
    throw_invalid(env, "targets are required when the output width differs from the input width");
  }
  return view;
}

// (x, y|null, rows) at info[i..i+2].
DataView data_args(const Napi::CallbackInfo& info, size_t i, const Network& net, const char* what,
                   Napi::Reference<Napi::Float32Array>* keep_x, Napi::Reference<Napi::Float32Array>* keep_y) {
  return data_view(info.Env(), info[i], info[i + 1], info[i + 2], net, what, keep_x, keep_y);
}

// { x, y|null, rows }.
DataView data_object(Napi::Env env, const Napi::Value& value, const Network& net, const char* what,
                     Napi::Reference<Napi::Float32Array>* keep_x, Napi::Reference<Napi::Float32Array>* keep_y) {
  if (!value.IsObject()) throw_invalid(env, std::string(what) + " must be { x, y, rows }");
  Napi::Object o = value.As<Napi::Object>();
  return data_view(env, o.Get("x"), o.Get("y"), o.Get("rows"), net, what, keep_x, keep_y);
}

}  // namespace

Napi::Function Model::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("fit", &Model::Guarded<&Model::Fit>),
                      InstanceMethod("cancel", &Model::GuardedVoid<&Model::Cancel>),
                      InstanceMethod("resume", &Model::GuardedVoid<&Model::Resume>),
                      InstanceMethod("setHyperparameter", &Model::GuardedVoid<&Model::SetHyperparameter>),
                      InstanceMethod("evaluate", &Model::Guarded<&Model::Evaluate>),
                      InstanceMethod("predict", &Model::Guarded<&Model::Predict>),
                      InstanceMethod("getWeights", &Model::Guarded<&Model::GetWeights>),
                      InstanceMethod("setWeights", &Model::GuardedVoid<&Model::SetWeights>),
                      InstanceMethod("gradients", &Model::Guarded<&Model::Gradients>),
                      InstanceMethod("info", &Model::Guarded<&Model::Info>),
                      InstanceMethod("exportState", &Model::Guarded<&Model::ExportState>),
                      InstanceMethod("importState", &Model::GuardedVoid<&Model::ImportState>),
                      InstanceMethod("dispose", &Model::GuardedVoid<&Model::Dispose>)});
}

// new NativeModel({ layers: [layer_spec's objects], loss, seed, device: 'cpu' | 'cuda', tf32 })
Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  at_boundary(info.Env(), [&] { construct(info); });
}

void Model::construct(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw_invalid(env, "model spec must be an object");
  Napi::Object spec = info[0].As<Napi::Object>();
  Napi::Value layers_value = spec.Get("layers");
  if (!layers_value.IsArray()) throw_invalid(env, "layers must be an array");
  Napi::Array layers = layers_value.As<Napi::Array>();
  if (layers.Length() == 0) throw_invalid(env, "a model needs at least one layer");
  std::vector<std::unique_ptr<Layer>> stack;
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    if (!layers.Get(i).IsObject()) throw_invalid(env, "layer " + std::to_string(i) + " must be an object");
    stack.push_back(layer_from((int)i, layers.Get(i).As<Napi::Object>()));
  }
  check_layers(stack);
  Loss loss;
  const std::string loss_name = spec.Get("loss").ToString().Utf8Value();
  if (!from_name(kLossNames, loss_name, &loss))
    throw_invalid(env, "unknown loss '" + loss_name + "' (" + name_list(kLossNames) + ")");
  const double seed = number_field(spec, "seed", 0);
  const Napi::Value device_value = spec.Get("device");
  const std::string device = device_value.IsString() ? device_value.As<Napi::String>().Utf8Value() : kCpuDevice;
  if (device != kCpuDevice && device != kCudaDevice) throw_invalid(env, "device must be one of " + name_list(kDeviceNames));
  if (device == kCudaDevice) device_backend_ = make_cuda_backend(spec.Get("tf32").ToBoolean());
  Backend& backend = device_backend_ ? *device_backend_ : cpu_backend();
  net_ = std::make_unique<Network>(backend, std::move(stack), loss);
  net_->initialize((uint64_t)seed);
}

void Model::start_optimizer(const Napi::Object& opt, int batch_capacity, int train_rows) {
  OptimizerSpec spec;
  spec.kind = opt.Get("kind").ToString().Utf8Value();
  spec.paper = opt.Get("paper").ToBoolean();
  // { name: number } objects: the method's settings, and the step rules every method takes (algorithm.md §15).
  auto numbers = [&](const char* field) {
    Napi::Value value = opt.Get(field);
    if (!value.IsObject()) throw_invalid(opt.Env(), std::string("optimizer ") + field + " must be an object");
    Napi::Object object = value.As<Napi::Object>();
    Napi::Array keys = object.GetPropertyNames();
    std::map<std::string, double> out;
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      out[key] = number_field(object, key.c_str(), 0);
    }
    return out;
  };
  spec.numbers = numbers("settings");
  const StepRules rules = step_rules(numbers("rules"));
  state_ = TrainingState{};
  state_.rules = rules;
  state_.optimizer = make_optimizer(spec);
  state_.optimizer->attach(*net_, batch_capacity, train_rows);
  net_->set_keep_patches(state_.optimizer->reads_layer_inputs());
  state_.batch_capacity = batch_capacity;
  state_.train_rows = train_rows;
  optimizer_id_ = opt.Get("id").ToString().Utf8Value();
}

void Model::ensure_usable(Napi::Env env, bool claim) {
  if (!net_) throw Error(ErrorKind::Disposed, "the model has been disposed");
  bool expected = false;
  // Without a claim (reads, setWeights, checkpoints) a model in training is usable while training waits for a
  // callback: the training thread is parked and touches nothing.
  if (claim ? !busy_.compare_exchange_strong(expected, true) : busy_.load() && !gate_.holding())
    throw Error(ErrorKind::Busy, "the model is busy with another fit(), evaluate() or predict(); await it first");
}

Napi::Value Model::claimed(Napi::Env env, const std::function<Napi::Value()>& start) {
  ensure_usable(env, true);
  try {
    return start();
  } catch (...) {
    busy_ = false;
    throw;
  }
}

Napi::Value Model::queue_task(const Napi::CallbackInfo& info, std::function<void()> work,
                              std::function<Napi::Value(Napi::Env)> result) {
  auto* task = new TaskWorker(info.Env(), this, info.This().As<Napi::Object>(), std::move(work), std::move(result));
  Napi::Promise promise = task->promise();
  task->Queue();
  return promise;
}

// fit({ train: { x, y|null, rows }, validation: { x, y|null, rows } | null, config, optimizer, onEvent })
//   -> Promise<void>
Napi::Value Model::Fit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return claimed(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) throw_invalid(env, "fit needs one options object");
    Napi::Object options = info[0].As<Napi::Object>();
    FitData data;
    data.train = data_object(env, options.Get("train"), *net_, "training inputs", &data.x, &data.y);
    Napi::Value validation = options.Get("validation");
    if (!validation.IsNull() && !validation.IsUndefined()) {
      data.validation = data_object(env, validation, *net_, "validation inputs", &data.val_x, &data.val_y);
      data.has_validation = true;
    }
    Napi::Value cfg_value = options.Get("config"), opt_value = options.Get("optimizer"), on_event = options.Get("onEvent");
    if (!cfg_value.IsObject() || !opt_value.IsObject() || !on_event.IsFunction())
      throw_invalid(env, "fit needs a config, an optimizer and an event callback");
    Napi::Object cfg = cfg_value.As<Napi::Object>();
    FitConfig config;
    config.time_budget_seconds = required_number(cfg, "timeBudget");
    // Counts, 0 when not set (lib/model.ts checks them further).
    const double steps_per_epoch = required_number(cfg, "stepsPerEpoch"), max_steps = required_number(cfg, "maxSteps"),
                 loss_rows = required_number(cfg, "trainingLossRows"), warm_batches = required_number(cfg, "warmStartBatches");
    auto whole = [](double v, double max) { return v >= 0 && v <= max && v == std::floor(v); };
    if (!(whole(steps_per_epoch, INT32_MAX) && whole(loss_rows, INT32_MAX) && whole(warm_batches, INT32_MAX) &&
          whole(max_steps, 9007199254740991.0)))
      throw_invalid(env, "stepsPerEpoch, maxSteps, trainingLossRows and warmStartBatches must be whole numbers of at least 0");
    config.steps_per_epoch = (int)steps_per_epoch;
    config.max_steps = (int64_t)max_steps;
    config.training_loss_rows = (int)loss_rows;
    config.warm_start_batches = (int)warm_batches;
    config.shuffle = required_boolean(cfg, "shuffle");
    config.seed = (uint64_t)required_number(cfg, "seed");
    config.batch_events = required_boolean(cfg, "batchEvents");
    config.await_batch_events = required_boolean(cfg, "awaitBatchEvents");
    config.await_epoch_events = required_boolean(cfg, "awaitEpochEvents");
    config.skip_non_finite = required_boolean(cfg, "skipNonFinite");
    config.split_curvature = required_boolean(cfg, "splitCurvature");
    DistributedSetup distributed;
    distributed.timeout = required_number(cfg, "distributedTimeout");  // 0: not distributed
    distributed.nccl = cfg.Get("distributedEngine").ToString().Utf8Value() == "nccl";
    if (distributed.nccl) {
      Napi::Value dirs = cfg.Get("librarySearchPath");
      if (!dirs.IsArray()) throw_invalid(env, "the NCCL engine needs its library search path");
      Napi::Array list = dirs.As<Napi::Array>();
      for (uint32_t i = 0; i < list.Length(); ++i) distributed.dirs.push_back(list.Get(i).ToString().Utf8Value());
    }
    const int threads = (int)required_number(cfg, "threads");
    const double epochs = required_number(cfg, "epochs"), batch_size = required_number(cfg, "batchSize");
    if (!(epochs >= 0 && epochs <= INT32_MAX)) throw_invalid(env, "epochs must be a whole number from 0 to 2^31 - 1");
    if (!(batch_size >= 1 && batch_size <= data.train.rows))
      throw_invalid(env, "batchSize must be between 1 and the number of training rows");
    config.epochs = (int)epochs;
    config.batch_size = (int)batch_size;

    Napi::Object opt = opt_value.As<Napi::Object>();
    if (opt.Get("id").ToString().Utf8Value() != optimizer_id_ || !state_.optimizer)
      start_optimizer(opt, config.batch_size, data.train.rows);
    cancel_ = false;
    gate_.reset();
    auto* job = new FitJob(env, this, info.This().As<Napi::Object>(), std::move(data), config, threads, distributed,
                           on_event.As<Napi::Function>());
    Napi::Promise promise = job->promise();
    job->Queue();
    return promise;
  });
}

void Model::Cancel(const Napi::CallbackInfo&) { cancel(); }

// resume(stop): the callback of the event the training thread waits on has returned.
void Model::Resume(const Napi::CallbackInfo& info) { gate_.resume(info.Length() > 0 && info[0].ToBoolean()); }

// setHyperparameter(name, value): between fits, or from a callback while training waits for it.
void Model::SetHyperparameter(const Napi::CallbackInfo& info) {
  if (!net_) throw Error(ErrorKind::Disposed, "the model has been disposed");
  if (busy_ && !gate_.holding())
    throw Error(ErrorKind::Busy, "hyperparameters change between steps: from a training callback, or between fits");
  if (!state_.optimizer) return;  // nothing attached yet: the next fit starts from the optimizer's settings
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) throw_invalid(info.Env(), "setHyperparameter(name, value)");
  state_.optimizer->set_hyperparameter(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().DoubleValue());
}

// evaluate(x, y|null, rows) -> Promise<{ loss, accuracy }>: mean per-sample data loss and, where defined, the
// share of rows predicted right (else NaN).
Napi::Value Model::Evaluate(const Napi::CallbackInfo& info) {
  return claimed(info.Env(), [&] {
    Napi::Reference<Napi::Float32Array> keep_x, keep_y;
    DataView data = data_args(info, 0, *net_, "inputs", &keep_x, &keep_y);
    auto result = std::make_shared<std::pair<double, double>>(0, NAN);  // loss, accuracy
    Network* net = net_.get();
    return queue_task(
        info,
        [net, data, result] {
          const Evaluation e = evaluate_host(*net, data);
          *result = {e.loss, e.accuracy};
        },
        [result, x = std::make_shared<Napi::Reference<Napi::Float32Array>>(std::move(keep_x)),
         y = std::make_shared<Napi::Reference<Napi::Float32Array>>(std::move(keep_y))](Napi::Env e) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          o.Set("loss", result->first);
          o.Set("accuracy", result->second);
          return o;
        });
  });
}

// predict(x, rows, logits) -> Promise<Float32Array>: the outputs in data space (sigmoid/softmax applied to
// logits unless logits is true).
Napi::Value Model::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return claimed(env, [&] {
    Napi::Float32Array x = float32_arg(info[0], "inputs");
    const int rows = int_arg(info, 1, "rows");
    if (rows <= 0 || x.ElementLength() != (size_t)rows * net_->input_dim())
      throw_invalid(env, "inputs have " + std::to_string(x.ElementLength()) + " values, expected " +
                             std::to_string(rows) + " x " + std::to_string(net_->input_dim()));
    const bool logits = info[2].ToBoolean();
    Network* net = net_.get();
    const float* xs = x.Data();
    auto out = std::make_shared<std::vector<float>>();
    auto keep = std::make_shared<Napi::Reference<Napi::Float32Array>>(Napi::Persistent(x));
    return queue_task(
        info,
        [net, xs, rows, logits, out] {
          out->resize((size_t)rows * net->output_dim());
          predict_host(*net, xs, rows, logits, out->data());
        },
        [out, keep](Napi::Env e) -> Napi::Value {
          Napi::Float32Array result = Napi::Float32Array::New(e, out->size());
          std::copy(out->begin(), out->end(), result.Data());
          publish(result);
          return result;
        });
  });
}

// getWeights() -> Float32Array: a copy of the flat parameters (W_l d x (n) row-major, bias last column).
Napi::Value Model::GetWeights(const Napi::CallbackInfo& info) {
  ensure_usable(info.Env(), false);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), net_->param_count());
  net_->backend().to_host(out.Data(), net_->params(), net_->param_count());
  publish(out);
  return out;
}

void Model::SetWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_usable(env, false);
  Napi::Float32Array w = float32_arg(info[0], "weights");
  if (w.ElementLength() != net_->param_count())
    throw_invalid(env, "weights have " + std::to_string(w.ElementLength()) + " values, expected " +
                           std::to_string(net_->param_count()));
  const int64_t bad = first_non_finite_host(w.Data(), w.ElementLength());
  if (bad >= 0)
    throw make_error(env, error_code(ErrorKind::InvalidData),
                     "weights contain NaN or Infinity at index " + std::to_string(bad));
  net_->backend().to_device(net_->params(), w.Data(), w.ElementLength());
}

// gradients(x, y|null, rows) -> { loss, gradient }: mean data loss and its flat gradient, synchronously.
Napi::Value Model::Gradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_usable(env, false);
  DataView data = data_args(info, 0, *net_, "inputs", nullptr, nullptr);
  {
    Napi::Float32Array grad = Napi::Float32Array::New(env, net_->param_count());
    const double loss = loss_gradient_host(*net_, data, grad.Data());
    publish(grad);
    Napi::Object result = Napi::Object::New(env);
    result.Set("loss", loss);
    result.Set("gradient", grad);
    return result;
  }
}

Napi::Value Model::Info(const Napi::CallbackInfo& info) {
  ensure_usable(info.Env(), false);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("paramCount", (double)net_->param_count());
  o.Set("steps", (double)state_.step);
  o.Set("epochs", state_.epochs_done);
  o.Set("seconds", state_.seconds);
  o.Set("backend", net_->backend().name());
  o.Set("threads", net_->backend().threads());
  Napi::Object hyper = Napi::Object::New(info.Env());
  if (state_.optimizer) {
    Diagnostics values;
    state_.optimizer->hyperparameters(values);
    for (const auto& [name, value] : values) hyper.Set(name, value);
  }
  o.Set("hyperparameters", hyper);
  return o;
}

void Model::Dispose(const Napi::CallbackInfo& info) {
  if (busy_) throw Error(ErrorKind::Busy, "cannot dispose a model while it is training; abort and await fit() first");
  state_ = TrainingState{};
  net_.reset();
  device_backend_.reset();
}

}  // namespace kb::napi
