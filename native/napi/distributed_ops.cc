#include "distributed_ops.h"

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

}  // namespace kb::napi
