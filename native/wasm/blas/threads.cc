#include "threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "cblas.h"

namespace kb::wasm_blas {
namespace {

constexpr int kMaxThreads = 16;

class Pool {
 public:
  // As many threads as the machine has cores (os.cpus() in Node, navigator.hardwareConcurrency in a browser),
  // as OpenBLAS starts with.
  Pool() { set_count((int)std::thread::hardware_concurrency()); }

  int count() const { return count_.load(); }
  void set_count(int threads) { count_.store(std::clamp(threads, 1, kMaxThreads)); }

  void run(int tasks, const std::function<void(int)>& task) {
    const int helpers = std::min(count(), tasks) - 1;
    if (helpers <= 0 || inside_task_) {
      for (int t = 0; t < tasks; ++t) task(t);
      return;
    }
    std::lock_guard<std::mutex> one_caller(call_);
    {
      std::unique_lock<std::mutex> lock(m_);
      while ((int)workers_.size() < helpers) {
        const int id = (int)workers_.size();
        workers_.emplace_back([this, id] { work(id); });
      }
      task_ = &task;
      tasks_ = tasks;
      next_.store(0);
      helpers_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    start_.notify_all();
    take_tasks();
    std::unique_lock<std::mutex> lock(m_);
    done_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void take_tasks() {
    inside_task_ = true;
    for (int t = next_.fetch_add(1); t < tasks_; t = next_.fetch_add(1)) (*task_)(t);
    inside_task_ = false;
  }

  void work(int id) {
    unsigned long long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(m_);
        start_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id >= helpers_) continue;  // not needed for this call
      }
      take_tasks();
      std::lock_guard<std::mutex> lock(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::atomic<int> count_{1};
  std::mutex call_, m_;
  std::condition_variable start_, done_;
  std::vector<std::thread> workers_;  // never joined: they live as long as the module
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0, helpers_ = 0, pending_ = 0;
  std::atomic<int> next_{0};
  unsigned long long generation_ = 0;
  static thread_local bool inside_task_;
};
thread_local bool Pool::inside_task_ = false;

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: its threads outlive static destruction
  return *p;
}

}  // namespace

int thread_count() { return pool().count(); }
void set_thread_count(int threads) { pool().set_count(threads); }
void run_parallel(int tasks, const std::function<void(int)>& task) { pool().run(tasks, task); }

}  // namespace kb::wasm_blas

extern "C" int openblas_get_num_threads(void) { return kb::wasm_blas::thread_count(); }
extern "C" void openblas_set_num_threads(int threads) { kb::wasm_blas::set_thread_count(threads); }
