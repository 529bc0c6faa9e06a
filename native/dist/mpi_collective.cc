#include "mpi_collective.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/backend.h"
#include "../core/errors.h"
#include "mpi_library.h"

namespace kb::mpi {
namespace {

void* const kInPlace = reinterpret_cast<void*>(1);  // Open MPI's MPI_IN_PLACE
constexpr size_t kChunk = (size_t)1 << 28;         // elements per MPI call (counts are int)

std::string error_text(const Api& mpi, int code) {
  char text[kMaxErrorString] = {};
  int length = 0;
  if (mpi.Error_string(code, text, &length) != kSuccess) return "MPI error " + std::to_string(code);
  return std::string(text, std::min(length, kMaxErrorString));
}

class MpiWorld final : public Collective {
 public:
  MpiWorld(const Api& mpi, int rank, int size) : mpi_(mpi), rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void set_timeout(double seconds) { timeout_ = seconds; }
  void watch(const std::atomic<bool>* cancel) override { cancel_ = cancel; }
  bool broken() const { return broken_; }

  void sum(Backend& be, float* data, size_t count) override {
    if (size_ == 1 || count == 0) return;
    float* host = stage(be, data, count);
    for (size_t at = 0; at < count; at += kChunk) sum_chunk(host + at, (int)std::min(kChunk, count - at), mpi_.type_float);
    unstage(be, data, host, count);
    traffic_.summed_bytes += count * sizeof(float);
    ++traffic_.calls;
  }
  void sum_host(double* data, size_t count) override {
    if (size_ == 1 || count == 0) return;
    sum_chunk(data, (int)count, mpi_.type_double);
    traffic_.summed_bytes += count * sizeof(double);
    ++traffic_.calls;
  }
  void broadcast(Backend& be, float* data, size_t count, int root) override {
    if (size_ == 1 || count == 0) return;
    float* host = stage(be, data, count);
    for (size_t at = 0; at < count; at += kChunk) bcast(host + at, (int)std::min(kChunk, count - at), mpi_.type_float, root);
    unstage(be, data, host, count);
    traffic_.broadcast_bytes += count * sizeof(float);
    ++traffic_.calls;
  }
  void broadcast_host(void* data, size_t bytes, int root) override {
    if (size_ == 1 || bytes == 0) return;
    char* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kChunk) bcast(p + at, (int)std::min(kChunk, bytes - at), mpi_.type_byte, root);
    traffic_.broadcast_bytes += bytes;
    ++traffic_.calls;
  }

 private:
  float* stage(Backend& be, float* data, size_t count) {
    if (be.host_memory()) return data;
    staging_.resize(count);
    be.to_host(staging_.data(), data, count);
    return staging_.data();
  }
  void unstage(Backend& be, float* data, const float* host, size_t count) {
    if (!be.host_memory()) be.to_device(data, host, count);
  }
  // Reduced onto rank 0, then broadcast from it: every rank gets rank 0's bits (an all-reduce may leave
  // ranks with sums taken in different orders).
  void sum_chunk(void* data, int count, Handle type) {
    Handle request = nullptr;
    check(mpi_.Ireduce(rank_ == 0 ? kInPlace : data, data, count, type, mpi_.op_sum, 0, mpi_.comm_world, &request),
          "a sum");
    wait(request, "a sum");
    bcast(data, count, type, 0);
  }
  void bcast(void* data, int count, Handle type, int root) {
    Handle request = nullptr;
    check(mpi_.Ibcast(data, count, type, root, mpi_.comm_world, &request), "a broadcast");
    wait(request, "a broadcast");
  }
  void check(int code, const char* what) {
    if (code == kSuccess) return;
    broken_ = true;
    throw Error(ErrorKind::Distributed, "rank " + std::to_string(rank_) + ": MPI failed in " + what + ": " +
                                            error_text(mpi_, code));
  }
  // Polls the request against a WaitClock: spins briefly, then sleeps in short steps.
  void wait(Handle& request, const char* what) {
    if (broken_)
      throw Error(ErrorKind::Distributed, "rank " + std::to_string(rank_) +
                                              ": an earlier collective failed; the MPI job cannot go on (start it again)");
    WaitClock clock(timeout_, cancel_);
    for (int polls = 0;; ++polls) {
      int done = 0;
      check(mpi_.Test(&request, &done, nullptr), what);
      if (done) return;
      if (clock.cancel_expired()) {
        broken_ = true;
        throw Error(ErrorKind::Aborted, "training was aborted while rank " + std::to_string(rank_) +
                                            " waited for the other ranks, which did not answer");
      }
      if (clock.timed_out()) {
        broken_ = true;
        throw Error(ErrorKind::Distributed,
                    "rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": no answer from the other ranks in " +
                        what + " for " + number_text(timeout_) +
                        " s; a rank has died, failed or stopped training (see its own error)");
      }
      if (polls < 1000) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(polls < 20000 ? 20 : 500));
    }
  }

  const Api& mpi_;
  int rank_, size_;
  double timeout_ = 60;
  const std::atomic<bool>* cancel_ = nullptr;
  bool broken_ = false;
  std::vector<float> staging_;
};

std::mutex g_mutex;
MpiWorld* g_world = nullptr;
WorldInfo g_info;
bool g_finalized = false;

}  // namespace

WorldInfo init() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world) return g_info;
  if (g_finalized) throw Error(ErrorKind::Distributed, "MPI was already finalized in this process; it cannot start again");
  const Api& mpi = api();
  int already = 0;
  mpi.Initialized(&already);
  if (!already) {
    int provided = 0;
    const int code = mpi.Init_thread(nullptr, nullptr, kThreadSerialized, &provided);
    if (code != kSuccess) throw Error(ErrorKind::Distributed, "MPI_Init_thread failed: " + error_text(mpi, code));
    if (provided < kThreadSerialized)
      throw Error(ErrorKind::Distributed, "this MPI build does not allow calls from more than one thread "
                                          "(MPI_THREAD_SERIALIZED); training runs on its own thread");
  }
  mpi.Comm_set_errhandler(mpi.comm_world, mpi.errors_return);
  int rank = 0, size = 1;
  mpi.Comm_rank(mpi.comm_world, &rank);
  mpi.Comm_size(mpi.comm_world, &size);
  char version[kMaxLibraryVersion] = {};
  int length = 0;
  mpi.Get_library_version(version, &length);
  g_info = WorldInfo{rank, size, mpi.library, std::string(version, std::min(length, kMaxLibraryVersion))};
  while (!g_info.version.empty() && (g_info.version.back() == '\n' || g_info.version.back() == '\0'))
    g_info.version.pop_back();
  g_world = new MpiWorld(mpi, rank, size);  // lives until exit: finalize() decides how MPI ends
  return g_info;
}

bool initialized() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_world != nullptr;
}

Collective& world(double timeout_seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_world) throw Error(ErrorKind::Distributed, "distributed training was not initialised (initDistributed())");
  g_world->set_timeout(timeout_seconds);
  return *g_world;
}

void finalize() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_world || g_finalized) return;
  g_finalized = true;
  const Api& mpi = api();
  int done = 0;
  mpi.Finalized(&done);
  if (done) return;
  if (g_world->broken()) mpi.Abort(mpi.comm_world, 1);
  else mpi.Finalize();
}

}  // namespace kb::mpi
