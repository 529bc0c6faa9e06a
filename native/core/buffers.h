// Small shared helpers: backend buffers released together, and phase timing.
#pragma once

#include <chrono>
#include <cstdlib>
#include <vector>

#include "backend.h"

namespace kb {

// Allocations that live as long as their owner (an optimizer's state, a workspace).
class OwnedBuffers {
 public:
  OwnedBuffers() = default;
  OwnedBuffers(const OwnedBuffers&) = delete;
  OwnedBuffers& operator=(const OwnedBuffers&) = delete;
  ~OwnedBuffers() {
    for (float* p : buffers_) backend_->release(p);
  }
  void bind(Backend& backend) { backend_ = &backend; }
  float* take(size_t count) {
    float* p = backend_->alloc(count);
    buffers_.push_back(p);
    return p;
  }

 private:
  Backend* backend_ = nullptr;
  std::vector<float*> buffers_;
};

using Clock = std::chrono::steady_clock;
inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The clock reading at a phase boundary of the step diagnostics. A GPU runs behind the host, so its work
// lands in whichever phase next waits for it; with KBFGS_SYNC_PHASES=1 every boundary first waits for the
// backend, which charges each phase its own device time (for profiling: the waits cost speed).
inline bool phases_synchronized() {
  static const bool sync = [] {
    const char* v = std::getenv("KBFGS_SYNC_PHASES");
    return v && *v && *v != '0';
  }();
  return sync;
}
inline Clock::time_point phase_boundary(Backend& backend) {
  if (phases_synchronized()) backend.synchronize();
  return Clock::now();
}

// Times the consecutive phases of a step, so that the step's code reads as its equations with one lap() between
// phases: each lap adds the seconds since the previous boundary to the phase's counter.
class PhaseTimer {
 public:
  explicit PhaseTimer(Backend& backend) : backend_(backend), last_(phase_boundary(backend)) {}
  void lap(double& phase_seconds) {
    const Clock::time_point now = phase_boundary(backend_);
    phase_seconds += seconds_between(last_, now);
    last_ = now;
  }

 private:
  Backend& backend_;
  Clock::time_point last_;
};

}  // namespace kb
