#include "nccl_world.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "../core/backend.h"
#include "../core/errors.h"

namespace kb::nccl {
namespace {

// The parts of NCCL 2's ABI used here (nccl.h: ncclUniqueId is 128 bytes; ncclFloat32 = 7, ncclSum = 0).
struct UniqueId {
  char internal[128];
};
using Comm = void*;
constexpr int kSuccess = 0, kFloat32 = 7, kSum = 0, kInProgress = 7;

struct Api {
  int (*GetUniqueId)(UniqueId*);
  int (*CommInitRank)(Comm*, int, UniqueId, int);
  int (*Reduce)(const void*, void*, size_t, int, int, int, Comm, cudaStream_t);
  int (*Broadcast)(const void*, void*, size_t, int, int, Comm, cudaStream_t);
  int (*CommGetAsyncError)(Comm, int*);
  int (*CommAbort)(Comm);
  const char* (*GetErrorString)(int);
  int (*GetVersion)(int*);
};

template <typename F>
void bind(void* handle, const char* symbol, F& out, std::string& missing) {
  out = reinterpret_cast<F>(dlsym(handle, symbol));
  if (!out) missing += std::string(missing.empty() ? "" : ", ") + symbol;
}

Api load(const std::vector<std::string>& dirs) {
  std::vector<std::string> names{"libnccl.so.2"};
  for (const std::string& dir : dirs) names.push_back(dir + "/libnccl.so.2");
  void* handle = nullptr;
  std::string tried;
  for (const std::string& name : names) {
    if ((handle = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL))) break;
    const char* why = dlerror();
    tried += "\n  " + name + ": " + (why ? why : "not found");
  }
  if (!handle)
    throw Error(ErrorKind::Distributed,
                "distributed training of a CUDA model uses NCCL (libnccl.so.2: the nvidia-nccl-cu13 pip wheel, or "
                "NVIDIA's libnccl2 package), and none of these loaded:" + tried +
                    "\n(distributed: { engine: 'mpi' } sums through host memory over MPI instead)");
  Api api{};
  std::string missing;
  bind(handle, "ncclGetUniqueId", api.GetUniqueId, missing);
  bind(handle, "ncclCommInitRank", api.CommInitRank, missing);
  bind(handle, "ncclReduce", api.Reduce, missing);
  bind(handle, "ncclBroadcast", api.Broadcast, missing);
  bind(handle, "ncclCommGetAsyncError", api.CommGetAsyncError, missing);
  bind(handle, "ncclCommAbort", api.CommAbort, missing);
  bind(handle, "ncclGetErrorString", api.GetErrorString, missing);
  bind(handle, "ncclGetVersion", api.GetVersion, missing);
  if (!missing.empty()) throw Error(ErrorKind::Distributed, "libnccl.so.2 is older than NCCL 2.4 (it lacks " + missing + ")");
  return api;
}

class NcclWorld final : public Collective {
 public:
  NcclWorld(const Api& api, Collective& mpi, Backend& gpu) : nccl_(api), mpi_(mpi) {
    stream_ = static_cast<cudaStream_t>(gpu.native_stream());
    UniqueId id{};
    if (mpi.rank() == 0) check(nccl_.GetUniqueId(&id), "ncclGetUniqueId");
    mpi.broadcast_host(&id, sizeof id, 0);
    check(nccl_.CommInitRank(&comm_, mpi.size(), id, mpi.rank()), "ncclCommInitRank");
  }
  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  void set_timeout(double seconds) { timeout_ = seconds; }
  void watch(const std::atomic<bool>* cancel) override {
    cancel_ = cancel;
    mpi_.watch(cancel);
  }

  // Reduced onto rank 0, then broadcast from it, as over MPI: every rank gets the same bits. A one-rank world
  // runs them too (the device check compares such a run with an undistributed one).
  void sum(Backend&, float* data, size_t count) override {
    if (count == 0) return;
    check(nccl_.Reduce(data, data, count, kFloat32, kSum, 0, comm_, stream_), "ncclReduce");
    check(nccl_.Broadcast(data, data, count, kFloat32, 0, comm_, stream_), "ncclBroadcast");
    wait("a sum");
    traffic_.summed_bytes += count * sizeof(float);
    ++traffic_.calls;
  }
  void broadcast(Backend&, float* data, size_t count, int root) override {
    if (count == 0) return;
    check(nccl_.Broadcast(data, data, count, kFloat32, root, comm_, stream_), "ncclBroadcast");
    wait("a broadcast");
    traffic_.broadcast_bytes += count * sizeof(float);
    ++traffic_.calls;
  }
  void sum_host(double* data, size_t count) override { mpi_.sum_host(data, count); }
  void broadcast_host(void* data, size_t bytes, int root) override { mpi_.broadcast_host(data, bytes, root); }

 private:
  void check(int code, const char* what) {
    if (code == kSuccess || code == kInProgress) return;
    throw Error(ErrorKind::Distributed, "rank " + std::to_string(mpi_.rank()) + ": " + what + " failed: " + nccl_.GetErrorString(code));
  }
  // Polls the stream (a dead peer would leave NCCL's kernels waiting forever): on an asynchronous NCCL error,
  // or when the WaitClock runs out (timeout, or a cancel the peers do not follow), the communicator is
  // aborted, which frees the stream, and the fit fails.
  void wait(const char* what) {
    WaitClock clock(timeout_, cancel_);
    for (;;) {
      const cudaError_t state = cudaStreamQuery(stream_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady)
        throw Error(ErrorKind::Device, std::string("CUDA failed during ") + what + ": " + cudaGetErrorString(state));
      int async = kSuccess;
      nccl_.CommGetAsyncError(comm_, &async);
      const bool cancelled = clock.cancel_expired();
      if ((async != kSuccess && async != kInProgress) || clock.timed_out() || cancelled) {
        nccl_.CommAbort(comm_);
        if (cancelled) throw Error(ErrorKind::Aborted, "training was aborted while rank " + std::to_string(rank()) + " waited for the other GPUs");
        throw Error(ErrorKind::Distributed,
                    "rank " + std::to_string(rank()) + ": NCCL " + what + " did not complete (" +
                        (async != kSuccess && async != kInProgress ? std::string(nccl_.GetErrorString(async))
                                                                   : "no answer for " + number_text(timeout_) + " s") +
                        "); a rank has died, failed or stopped training. The job cannot go on");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  const Api& nccl_;
  Collective& mpi_;
  Comm comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  double timeout_ = 60;
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace

Collective& world(Collective& mpi, Backend& gpu, const std::vector<std::string>& dirs, double timeout_seconds) {
  static std::mutex mutex;
  static std::unique_ptr<Api> api;
  static std::unique_ptr<NcclWorld> made;
  static Backend* made_for = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (made && made_for != &gpu)
    throw Error(ErrorKind::Distributed, "distributed training with NCCL uses one CUDA model's stream per process; "
                                        "train one CUDA model per process (or use distributed: { engine: 'mpi' })");
  if (!made) {
    if (!api) api = std::make_unique<Api>(load(dirs));
    made = std::make_unique<NcclWorld>(*api, mpi, gpu);
    made_for = &gpu;
  }
  made->set_timeout(timeout_seconds);
  return *made;
}

}  // namespace kb::nccl
