#include "distributed_ops.h"

#include "../core/errors.h"
#include "../dist/mpi_collective.h"

namespace kb::napi {

Napi::Value DistributedInit(const Napi::CallbackInfo& info) {
  const mpi::WorldInfo world = mpi::init();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("rank", world.rank);
  o.Set("size", world.size);
  o.Set("library", world.library);
  o.Set("version", world.version);
  return o;
}

Napi::Value DistributedFinalize(const Napi::CallbackInfo& info) {
  mpi::finalize();
  return info.Env().Undefined();
}

Napi::Value DistributedBroadcast(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Error(ErrorKind::InvalidArgument, "distributedBroadcast(bytes, root, timeout)");
  Napi::TypedArray bytes = info[0].As<Napi::TypedArray>();
  Collective& world = mpi::world(info[2].As<Napi::Number>().DoubleValue());
  const int root = info[1].As<Napi::Number>().Int32Value();
  if (root < 0 || root >= world.size()) throw Error(ErrorKind::InvalidArgument, "broadcast root is not a rank");
  world.broadcast_host(static_cast<char*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset(), bytes.ByteLength(), root);
  return info.Env().Undefined();
}

}  // namespace kb::napi
