// The sums and broadcasts that data-parallel training needs (algorithm.md §13). Every rank runs the same
// program on its share of each minibatch; what the methods average over the batch is summed over the ranks
// here, so that every rank holds the same factors and takes the same step. A single process uses
// single_process(), whose operations do nothing: its arithmetic is exactly the undistributed one.
#pragma once

#include <atomic>
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

// The one-rank world: sums and broadcasts leave the data as it is.
Collective& single_process();

}  // namespace kb
