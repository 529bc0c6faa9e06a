// The worker threads of the WebAssembly build's BLAS, also used by the CPU backend's row splits there
// (cpu/parallel_rows.h). They are made once and then wait for work: under Emscripten a thread that ends
// returns its Web Worker to the pool only when the JS thread next runs its event loop, so threads started
// and joined inside one synchronous call would exhaust the pool.
#pragma once

#include <functional>

namespace kb::wasm_blas {

int thread_count();
void set_thread_count(int threads);

// Calls task(t) for every t in [0, tasks), on up to thread_count() threads, the calling one included; returns
// when all are done. A call from inside a task runs its tasks on the calling thread.
void run_parallel(int tasks, const std::function<void(int)>& task);

}  // namespace kb::wasm_blas
