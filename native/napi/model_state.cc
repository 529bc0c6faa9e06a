// Checkpoint support of the native model: the optimizer's persistent buffers and scalars and the training
// state (step, data order) out to JS and back in. lib/checkpoint.ts stores them in a safetensors file.
#include <cmath>
#include <string>
#include <vector>

#include "convert.h"
#include "js_memory.h"
#include "model.h"

namespace kb::napi {
namespace {

// A checkpoint counter: a whole number from 0 to max (seconds: any finite number from 0).
double counter_field(const Napi::Object& o, const char* key, double max, bool whole = true) {
  const double v = number_field(o, key, 0);
  if (!(v >= 0 && v <= max) || (whole && std::floor(v) != v))
    throw_invalid(o.Env(), std::string("checkpoint ") + key + " is " + number_text(v) + ", expected " +
                               (whole ? "a whole number" : "a number") + " from 0 to " + number_text(max));
  return v;
}

}  // namespace

// exportState() -> null, or { optimizerId, batchCapacity, trainRows, step, epochs, seconds, warm, dropoutPasses,
//   buffers: { name: Float32Array }, scalars: { name: number },
//   sampler: { order: Uint32Array, position, shuffle, rng: decimal string } }
Napi::Value Model::ExportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_usable(env, false);
  if (!state_.optimizer) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("optimizerId", optimizer_id_);
  o.Set("batchCapacity", state_.batch_capacity);
  o.Set("trainRows", state_.train_rows);
  o.Set("step", (double)state_.step);
  o.Set("epochs", state_.epochs_done);
  o.Set("seconds", state_.seconds);
  o.Set("warm", state_.warm);
  o.Set("dropoutPasses", (double)net_->training_passes());  // where dropout masks go on (algorithm.md §18.5)
  std::vector<StateBuffer> buffers;
  state_.optimizer->state_buffers(buffers);
  Napi::Object b = Napi::Object::New(env);
  for (const StateBuffer& buffer : buffers) {
    Napi::Float32Array a = Napi::Float32Array::New(env, buffer.count);
    net_->backend().to_host(a.Data(), buffer.data, buffer.count);
    publish(a);
    b.Set(buffer.name, a);
  }
  o.Set("buffers", b);
  StateScalars scalars;
  state_.optimizer->state_scalars(scalars);
  Napi::Object sc = Napi::Object::New(env);
  for (const auto& [name, value] : scalars) sc.Set(name, value);
  o.Set("scalars", sc);
  const BatchSampler& sampler = state_.sampler;
  Napi::Object so = Napi::Object::New(env);
  Napi::Uint32Array order = Napi::Uint32Array::New(env, sampler.order().size());
  std::copy(sampler.order().begin(), sampler.order().end(), order.Data());
  publish(order);
  so.Set("order", order);
  so.Set("position", (double)sampler.position());
  so.Set("shuffle", sampler.shuffle());
  so.Set("rng", std::to_string(sampler.rng_state()));
  o.Set("sampler", so);
  return o;
}

// importState(optimizer { id, kind, paper, settings }, state as exportState returns it): rebuilds the
// optimizer and fills every buffer; each name and size must match exactly.
void Model::ImportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ensure_usable(env, false);
  // Not even from a callback: the parked training thread holds the optimizer this would replace.
  if (busy_) throw Error(ErrorKind::Busy, "cannot load optimizer state into a model that is training");
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) throw_invalid(env, "importState needs an optimizer and a state");
  Napi::Object st = info[1].As<Napi::Object>();
  const double step = counter_field(st, "step", 9007199254740992.0);  // 2^53: exact in a JS number
  const double epochs = counter_field(st, "epochs", 2147483647.0);
  const double seconds = counter_field(st, "seconds", 1e300, false);
  const int capacity = (int)number_field(st, "batchCapacity", 0), rows = (int)number_field(st, "trainRows", 0);
  if (capacity <= 0 || rows <= 0 || capacity > rows) throw_invalid(env, "checkpoint has an invalid batch size or row count");
  Napi::Value buffers_value = st.Get("buffers"), scalars_value = st.Get("scalars"), sampler_value = st.Get("sampler");
  if (!buffers_value.IsObject() || !scalars_value.IsObject() || !sampler_value.IsObject())
    throw_invalid(env, "checkpoint state lacks buffers, scalars or sampler");
  try {
    start_optimizer(info[0].As<Napi::Object>(), capacity, rows);
    Napi::Object buffers = buffers_value.As<Napi::Object>();
    std::vector<StateBuffer> expected;
    state_.optimizer->state_buffers(expected);
    if (buffers.GetPropertyNames().Length() != expected.size())
      throw_invalid(env, "checkpoint holds " + std::to_string(buffers.GetPropertyNames().Length()) +
                             " optimizer tensors, this optimizer has " + std::to_string(expected.size()));
    for (const StateBuffer& b : expected) {
      Napi::Value v = buffers.Get(b.name);
      if (!v.IsTypedArray()) throw_invalid(env, "checkpoint lacks optimizer tensor '" + b.name + "'");
      Napi::Float32Array a = float32_arg(v, b.name.c_str());
      if (a.ElementLength() != b.count)
        throw_invalid(env, "optimizer tensor '" + b.name + "' has " + std::to_string(a.ElementLength()) +
                               " values, expected " + std::to_string(b.count));
      net_->backend().to_device(b.data, a.Data(), b.count);
    }
    Napi::Object scalars = scalars_value.As<Napi::Object>();
    Napi::Array names = scalars.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).ToString().Utf8Value();
      state_.optimizer->set_scalar(name, number_field(scalars, name.c_str(), 0));
    }
    Napi::Object so = sampler_value.As<Napi::Object>();
    Napi::Value order_value = so.Get("order");
    if (!order_value.IsTypedArray() || order_value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
      throw_invalid(env, "checkpoint data order must be a Uint32Array");
    Napi::Uint32Array order = order_value.As<Napi::Uint32Array>();
    const double position = number_field(so, "position", -1);
    if (order.ElementLength() != (size_t)rows || position < 0 || position > rows)
      throw_invalid(env, "checkpoint data order does not match its row count");
    std::vector<bool> seen(rows, false);
    for (size_t i = 0; i < order.ElementLength(); ++i) {
      const uint32_t r = order.Data()[i];
      if (r >= (uint32_t)rows || seen[r]) throw_invalid(env, "checkpoint data order is not a permutation");
      seen[r] = true;
    }
    uint64_t rng = 0;
    try {
      rng = std::stoull(so.Get("rng").ToString().Utf8Value());
    } catch (const std::exception&) {
      throw_invalid(env, "checkpoint data-order generator state is not a number");
    }
    state_.sampler.restore(std::vector<uint32_t>(order.Data(), order.Data() + rows), (size_t)position,
                           so.Get("shuffle").ToBoolean(), rng);
    state_.step = (int64_t)step;
    state_.epochs_done = (int)epochs;
    state_.seconds = seconds;
    state_.warm = st.Get("warm").ToBoolean();
    net_->set_training_passes((uint64_t)number_field(st, "dropoutPasses", 0));  // 0 in checkpoints from before dropout
  } catch (...) {
    state_ = TrainingState{};  // never leave a half-restored optimizer behind
    optimizer_id_.clear();
    throw;
  }
}

}  // namespace kb::napi
