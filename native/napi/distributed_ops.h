#pragma once
#include <napi.h>
namespace kb::napi {
// binding.distributedInit(): starts MPI once and returns { rank, size, library, version } (lib/distributed.ts).
Napi::Value DistributedInit(const Napi::CallbackInfo& info);
// binding.distributedFinalize(): MPI_Finalize (MPI_Abort after a failed collective), at process exit.
Napi::Value DistributedFinalize(const Napi::CallbackInfo& info);
}  // namespace kb::napi
