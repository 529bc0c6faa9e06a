// Element-wise work of the CPU backend over rows, split across the backend's threads. Each row is computed
// the same way whichever thread takes it, so the result does not depend on the thread count (a property the
// checkpoint-resume and golden tests rely on). Small jobs stay on the calling thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

#ifdef __EMSCRIPTEN__
#include "../wasm/blas/threads.h"
#endif

namespace kb::cpu {

// Calls fn(begin, end) on contiguous ranges covering [0, rows); the calling thread takes the first range.
template <class Fn>
void parallel_rows(int rows, size_t values_per_row, int threads, Fn&& fn) {
  constexpr size_t kMinValuesPerThread = 1 << 16;  // below this a thread costs more than it saves
  const size_t total = (size_t)std::max(rows, 0) * values_per_row;
  const int workers = (int)std::clamp<size_t>(total / kMinValuesPerThread, 1, (size_t)std::max(1, std::min(threads, rows)));
  if (workers <= 1) {
    if (rows > 0) fn(0, rows);
    return;
  }
  const int per = (rows + workers - 1) / workers;
#ifdef __EMSCRIPTEN__
  // WebAssembly: the BLAS's waiting threads take the ranges (threads started here could not be joined within
  // one call from the JS thread; native/wasm/blas/threads.h).
  wasm_blas::run_parallel(workers, [&](int w) {
    const int begin = w * per, end = std::min(rows, begin + per);
    if (begin < end) fn(begin, end);
  });
  return;
#endif
  std::vector<std::thread> others;
  for (int w = 1; w < workers; ++w) {
    const int begin = w * per, end = std::min(rows, begin + per);
    if (begin < end) others.emplace_back([&fn, begin, end] { fn(begin, end); });
  }
  fn(0, std::min(rows, per));
  for (std::thread& t : others) t.join();
}

// Calls fn(begin, end) on contiguous ranges covering [0, n) of a pass over n independent elements (the
// first-order updates, the gradient momentum, KFAC's draws): blocks of kElementBlock values go to the
// threads as rows, so every element is computed by the same operations whatever the thread count.
template <class Fn>
void parallel_elements(size_t n, int threads, Fn&& fn) {
  constexpr size_t kElementBlock = 1 << 14;
  const size_t blocks = (n + kElementBlock - 1) / kElementBlock;
  parallel_rows((int)blocks, kElementBlock, threads, [&](int first, int last) {
    fn((size_t)first * kElementBlock, std::min(n, (size_t)last * kElementBlock));
  });
}

}  // namespace kb::cpu
