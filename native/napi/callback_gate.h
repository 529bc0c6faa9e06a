// Callbacks in step with training: after sending an event that a JavaScript callback handles, the training
// thread waits here until the TypeScript layer says the callback (sync or async) has returned, and whether it
// asked training to stop. While it waits it sends a heartbeat every kHeartbeatSeconds, so that an environment
// torn down in the meantime (a terminated worker, whose callback will never return) is noticed and the wait
// ends with the cancellation.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace kb::napi {

class CallbackGate {
 public:
  // Training thread, before sending the event.
  void arm() {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_ = true;
  }
  // Training thread, after sending it: returns once resumed or cancelled.
  void wait(const std::atomic<bool>& cancel, double heartbeat_seconds, const std::function<void()>& heartbeat) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto interval = std::chrono::duration<double>(heartbeat_seconds);
    while (waiting_ && !cancel.load()) {
      if (cv_.wait_for(lock, interval, [&] { return !waiting_ || cancel.load(); })) break;
      lock.unlock();
      heartbeat();
      lock.lock();
    }
    waiting_ = false;
  }
  // JS thread: the callback has returned (stop: it asked training to stop).
  void resume(bool stop) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      waiting_ = false;
      if (stop) stop_ = true;
    }
    cv_.notify_all();
  }
  // Any thread, after setting the cancel flag: ends a wait at once.
  void wake() {
    { std::lock_guard<std::mutex> lock(mutex_); }
    cv_.notify_all();
  }
  bool stop_requested() const { return stop_.load(); }
  // Whether the training thread is waiting for a callback: then the JS thread may change its state.
  bool holding() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_;
  }
  // Before a fit.
  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_ = false;
    stop_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool waiting_ = false;
  std::atomic<bool> stop_{false};
};

}  // namespace kb::napi
