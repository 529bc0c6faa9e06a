// The sums and broadcasts that data-parallel training needs (algorithm.md §13). Every rank runs the same
// program on its share of each minibatch; what the methods average over the batch is summed over the ranks
// here, so that every rank holds the same factors and takes the same step. A single process uses
// single_process(), whose operations do nothing: its arithmetic is exactly the undistributed one.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace kb {

class Backend;

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool distributed() const { return size() > 1; }

  // Sums count floats of backend memory over the ranks, in place. Every rank ends with the same bits (the
  // engines reduce to one rank, then broadcast), so replicated state never drifts apart.
  virtual void sum(Backend& be, float* data, size_t count) = 0;
  // The same for host doubles (losses, counters, decisions).
  virtual void sum_host(double* data, size_t count) = 0;
  // Copies count floats of backend memory (bytes of host memory) from rank root to every rank.
  virtual void broadcast(Backend& be, float* data, size_t count, int root) = 0;
  virtual void broadcast_host(void* data, size_t bytes, int root) = 0;

  // While training runs, a wait for the other ranks also ends (Aborted) when cancel becomes true.
  virtual void watch(const std::atomic<bool>* cancel) { (void)cancel; }

  // What the collectives since the last call moved (per-epoch diagnostics, bench/): the bytes of the sums and of
  // the broadcasts (each counted once, as the data's size), and how many collective calls there were.
  struct Traffic {
    double summed_bytes = 0, broadcast_bytes = 0, calls = 0;
  };
  Traffic take_traffic() {
    const Traffic t = traffic_;
    traffic_ = Traffic{};
    return t;
  }

 protected:
  Traffic traffic_;
};

// The clock of one wait for the other ranks, which both engines poll instead of blocking (a dead rank would
// never answer): the wait fails after `timeout` seconds, or, once the run is cancelled, after a short grace in
// which live ranks still answer (the next step's vote then stops them all at the same step).
class WaitClock {
 public:
  static constexpr double kCancelGraceSeconds = 5;
  WaitClock(double timeout, const std::atomic<bool>* cancel)
      : timeout_(timeout), cancel_(cancel), start_(std::chrono::steady_clock::now()) {}
  bool timed_out() const { return since(start_) > timeout_; }
  bool cancel_expired() {
    if (!cancel_ || !cancel_->load(std::memory_order_relaxed)) return false;
    if (!cancelled_) {
      cancelled_ = true;
      cancelled_at_ = std::chrono::steady_clock::now();
    }
    return since(cancelled_at_) > std::min(timeout_, kCancelGraceSeconds);
  }

 private:
  static double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }
  double timeout_;
  const std::atomic<bool>* cancel_;
  std::chrono::steady_clock::time_point start_, cancelled_at_;
  bool cancelled_ = false;
};

// The one-rank world: sums and broadcasts leave the data as it is.
Collective& single_process();

}  // namespace kb
