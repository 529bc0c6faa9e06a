#include "onednn_conv.h"

#if defined(_WIN32) || defined(__EMSCRIPTEN__)

namespace kb::cpu {
bool onednn_conv_forward(const PatchShape&, const float*, int, const float*, int, float*, int) { return false; }
bool onednn_conv_backward_data(const PatchShape&, const float*, int, const float*, int, float*, int) { return false; }
bool onednn_conv_backward_weights(const PatchShape&, const float*, const float*, int, int, float, float*, int) {
  return false;
}
std::string onednn_conv_status() { return "not in this build (Windows and WebAssembly open no oneDNN)"; }
}  // namespace kb::cpu

#else

#include <dlfcn.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace kb::cpu {
namespace {

// The part of oneDNN 2's C API (dnnl.h, dnnl_types.h) used here, declared by hand so that the build needs
// no oneDNN: opaque handles, the enumerators' values (fixed within the major version 2) and descriptors kept
// as opaque storage larger than the library's (696 and 5,976 bytes in 2.6).
using Status = int;
using Handle = void*;
using Dims = int64_t[12];
struct ExecArg {
  int arg;
  Handle memory;
};
struct Version {
  int major, minor, patch;
  const char* hash;
  unsigned cpu_runtime, gpu_runtime;
};
constexpr Status kSuccess = 0;
constexpr int kCpuEngine = 1, kStreamDefault = 1, kF32 = 3, kFormatAny = 1, kForwardTraining = 64, kDirect = 1;
constexpr int kQueryImplInfo = 8, kQueryWeightsMd = 131, kQueryDiffWeightsMd = 132;
constexpr int kArgSrc = 1, kArgDst = 17, kArgWeights = 33, kArgBias = 41, kArgDiffSrc = 129, kArgDiffDst = 145,
              kArgDiffWeights = 161, kArgDiffBias = 169;
constexpr int kArgFrom = 1, kArgTo = 17;
void* const kAllocate = (void*)(size_t)-1;  // DNNL_MEMORY_ALLOCATE
template <size_t bytes>
struct Opaque {
  alignas(16) unsigned char storage[bytes] = {};
  void* data() { return storage; }
};
using MemoryDesc = Opaque<2048>;
using ConvDesc = Opaque<16384>;

struct Api {
  const Version* (*version)();
  Status (*engine_create)(Handle*, int, size_t);
  Status (*stream_create)(Handle*, Handle, unsigned);
  Status (*md_by_strides)(void*, int, const Dims, int, const Dims);
  Status (*md_by_tag)(void*, int, const Dims, int, int);
  Status (*conv_forward_desc)(void*, int, int, const void*, const void*, const void*, const void*, const Dims,
                              const Dims, const Dims);
  Status (*conv_backward_data_desc)(void*, int, const void*, const void*, const void*, const Dims, const Dims,
                                    const Dims);
  Status (*conv_backward_weights_desc)(void*, int, const void*, const void*, const void*, const void*, const Dims,
                                       const Dims, const Dims);
  Status (*pd_create)(Handle*, const void*, const void*, Handle, Handle);
  const void* (*pd_query_md)(Handle, int, int);
  Status (*pd_query)(Handle, int, int, void*);
  Status (*primitive_create)(Handle*, Handle);
  Status (*reorder_pd_create)(Handle*, const void*, Handle, const void*, Handle, const void*);
  Status (*memory_create)(Handle*, const void*, Handle, void*);
  Status (*memory_set_data_handle)(Handle, void*);
  Status (*execute)(Handle, Handle, int, const ExecArg*);
  Status (*stream_wait)(Handle);
  void (*omp_set_num_threads)(int);  // libgomp's, which Debian's oneDNN runs its threads on (may be absent)
  Handle engine = nullptr;
  std::string status;
};

enum class Use { Off, Measured, All };

Use use_setting() {
  const char* v = std::getenv("KBFGS_ONEDNN");
  if (v && std::strcmp(v, "off") == 0) return Use::Off;
  if (v && std::strcmp(v, "all") == 0) return Use::All;
  return Use::Measured;
}

template <typename F>
bool bind(void* lib, const char* symbol, F& out) {
  out = reinterpret_cast<F>(dlsym(lib, symbol));
  return out != nullptr;
}

// Opened once per process; a null result (with api.status saying why) leaves every convolution to the engine.
const Api* load(Api& api) {
  if (use_setting() == Use::Off) return api.status = "off (KBFGS_ONEDNN=off)", nullptr;
  // Its OpenMP threads sleep between calls instead of spinning on cores the BLAS threads need, unless the user
  // chose otherwise (libgomp reads this when the library loads).
  setenv("OMP_WAIT_POLICY", "passive", 0);
  void* lib = nullptr;
  for (const char* name : {"libdnnl.so.2", "libdnnl.2.dylib"})
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) return api.status = "not found (libdnnl.so.2: oneDNN 2, e.g. Debian's libdnnl2)", nullptr;
  const bool all = bind(lib, "dnnl_version", api.version) && bind(lib, "dnnl_engine_create", api.engine_create) &&
                   bind(lib, "dnnl_stream_create", api.stream_create) &&
                   bind(lib, "dnnl_memory_desc_init_by_strides", api.md_by_strides) &&
                   bind(lib, "dnnl_memory_desc_init_by_tag", api.md_by_tag) &&
                   bind(lib, "dnnl_convolution_forward_desc_init", api.conv_forward_desc) &&
                   bind(lib, "dnnl_convolution_backward_data_desc_init", api.conv_backward_data_desc) &&
                   bind(lib, "dnnl_convolution_backward_weights_desc_init", api.conv_backward_weights_desc) &&
                   bind(lib, "dnnl_primitive_desc_create", api.pd_create) &&
                   bind(lib, "dnnl_primitive_desc_query_md", api.pd_query_md) &&
                   bind(lib, "dnnl_primitive_desc_query", api.pd_query) &&
                   bind(lib, "dnnl_primitive_create", api.primitive_create) &&
                   bind(lib, "dnnl_reorder_primitive_desc_create", api.reorder_pd_create) &&
                   bind(lib, "dnnl_memory_create", api.memory_create) &&
                   bind(lib, "dnnl_memory_set_data_handle", api.memory_set_data_handle) &&
                   bind(lib, "dnnl_primitive_execute", api.execute) && bind(lib, "dnnl_stream_wait", api.stream_wait);
  if (!all || api.version()->major != 2) return api.status = "libdnnl.so.2 lacks oneDNN 2's C API", nullptr;
  bind(lib, "omp_set_num_threads", api.omp_set_num_threads);
  if (api.engine_create(&api.engine, kCpuEngine, 0) != kSuccess)
    return api.status = "its CPU engine could not be made", nullptr;
  const Version* v = api.version();
  api.status = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->patch) + " (libdnnl.so.2)";
  return &api;
}

Api the_api;
std::once_flag loaded;
const Api* api() {
  static const Api* usable = nullptr;
  std::call_once(loaded, [] { usable = load(the_api); });
  return usable;
}

// The shapes where oneDNN's direct kernels measured faster than patches and SGEMM (bench/RESULTS.md): kernels
// of 5 x 5 and more. On 3 x 3 kernels over 64-512 channels they were 1.2-1.5 x slower.
bool chosen(const PatchShape& s) { return use_setting() == Use::All || (s.kernel_h >= 5 && s.kernel_w >= 5); }

bool has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

// The weight gradient only on CPUs with AVX-512: there oneDNN's kernels for a 5 x 5 kernel over 32 channels
// measured twice as fast as patches and SGEMM, on an AVX2 EPYC slower; over one channel 1.4 x slower than
// SGEMM on the first layer's kept patches (bench/RESULTS.md; algorithm.md §12.7).
bool chosen_for_weights(const PatchShape& s) {
  static const bool avx512 = has_avx512();
  return use_setting() == Use::All || (avx512 && s.kernel_h >= 5 && s.kernel_w >= 5 && s.in.channels > 1);
}

// A layer's image batch as oneDNN's N, C, H, W dimensions with the strides of the engine's layout. One channel
// is the same memory in both layouts: described channels-last like the outputs, since with the images channels
// first and the outputs channels last oneDNN's weight gradient fell to its reference kernel.
void image_desc(const Api& a, void* md, int m, const ImageShape& in) {
  const Dims dims{m, in.channels, in.height, in.width};
  const int64_t size = (int64_t)in.size();
  const Dims cf{size, (int64_t)in.height * in.width, in.width, 1}, hwc{size, 1, (int64_t)in.width * in.channels,
                                                                     in.channels};
  a.md_by_strides(md, 4, dims, kF32, in.channels_first && in.channels > 1 ? cf : hwc);
}

// oneDNN's reference kernels (plain loops, "ref:any") ran the weight gradient 300 times slower than the patches.
bool reference_kernel(const Api& a, Handle pd) {
  const char* info = nullptr;
  return a.pd_query(pd, kQueryImplInfo, 0, &info) != kSuccess || !info || std::strncmp(info, "ref", 3) == 0;
}

enum class Kind { Forward, BackwardData, BackwardWeights };

// One pass of one layer shape and batch: the primitive, its weights (or their gradient) in oneDNN's own format,
// the reorder from the engine's W (d x n: strides n, 1, kw·C, C over O, I, H, W), or for the weight gradient
// back into that layout, and memory objects pointed at the caller's buffers on each call. Failing to build one
// leaves `primitive` null: that shape stays with the engine.
struct Pass {
  std::mutex lock;  // one call at a time (the memory objects are re-pointed per call)
  Handle primitive = nullptr, reorder = nullptr, user_weights = nullptr, weights = nullptr;
  Handle images = nullptr, outputs = nullptr, bias = nullptr;
  std::vector<float> bias_values;
};

using Key = std::array<int, 12>;
std::mutex cache_lock;
std::map<Key, std::unique_ptr<Pass>>& cache() {
  static std::map<Key, std::unique_ptr<Pass>> passes;
  return passes;
}
constexpr size_t kMaxPasses = 64;  // batch sizes and shapes of a process's models; beyond, the engine's kernels

void build(const Api& a, Pass& p, Kind kind, const PatchShape& s, int m, int d) {
  MemoryDesc images{}, outputs{}, any_weights{}, user_weights{}, bias{};
  image_desc(a, images.data(), m, s.in);
  const int oh = s.out_h(), ow = s.out_w(), C = s.in.channels, n = s.patch_size() + 1;
  const Dims out_dims{m, d, oh, ow}, out_strides{(int64_t)oh * ow * d, 1, (int64_t)ow * d, d};
  a.md_by_strides(outputs.data(), 4, out_dims, kF32, out_strides);
  const Dims w_dims{d, C, s.kernel_h, s.kernel_w}, w_strides{n, 1, (int64_t)s.kernel_w * C, C};
  a.md_by_tag(any_weights.data(), 4, w_dims, kF32, kFormatAny);
  a.md_by_strides(user_weights.data(), 4, w_dims, kF32, w_strides);
  const Dims b_dims{d}, b_strides{1};
  a.md_by_strides(bias.data(), 1, b_dims, kF32, b_strides);
  const Dims strides{s.stride, s.stride}, pad{s.padding, s.padding};
  // Padding on the far side as the engine's windows reach it (windows that do not fit are dropped).
  const Dims pad_r{(oh - 1) * s.stride + s.kernel_h - s.in.height - s.padding,
                   (ow - 1) * s.stride + s.kernel_w - s.in.width - s.padding};
  auto forward_desc = std::make_unique<ConvDesc>(), data_desc = std::make_unique<ConvDesc>();
  Handle forward_pd = nullptr, pd = nullptr;
  if (a.conv_forward_desc(forward_desc->data(), kForwardTraining, kDirect, images.data(), any_weights.data(),
                          s.bias ? bias.data() : nullptr, outputs.data(), strides, pad, pad_r) != kSuccess ||
      a.pd_create(&forward_pd, forward_desc->data(), nullptr, a.engine, nullptr) != kSuccess)
    return;
  if (kind == Kind::Forward) {
    pd = forward_pd;
  } else if (kind == Kind::BackwardData) {
    if (a.conv_backward_data_desc(data_desc->data(), kDirect, images.data(), any_weights.data(), outputs.data(),
                                  strides, pad, pad_r) != kSuccess ||
        a.pd_create(&pd, data_desc->data(), nullptr, a.engine, forward_pd) != kSuccess)
      return;
  } else if (a.conv_backward_weights_desc(data_desc->data(), kDirect, images.data(), any_weights.data(),
                                          s.bias ? bias.data() : nullptr, outputs.data(), strides, pad,
                                          pad_r) != kSuccess ||
             a.pd_create(&pd, data_desc->data(), nullptr, a.engine, forward_pd) != kSuccess ||
             (use_setting() != Use::All && reference_kernel(a, pd))) {
    return;
  }
  const bool gradient = kind == Kind::BackwardWeights;
  const void* weights_md = a.pd_query_md(pd, gradient ? kQueryDiffWeightsMd : kQueryWeightsMd, 0);
  Handle reorder_pd = nullptr, primitive = nullptr, reorder = nullptr;
  if (!weights_md ||
      (gradient ? a.reorder_pd_create(&reorder_pd, weights_md, a.engine, user_weights.data(), a.engine, nullptr)
                : a.reorder_pd_create(&reorder_pd, user_weights.data(), a.engine, weights_md, a.engine, nullptr)) ||
      a.primitive_create(&reorder, reorder_pd) || a.primitive_create(&primitive, pd) ||
      a.memory_create(&p.user_weights, user_weights.data(), a.engine, nullptr) ||
      a.memory_create(&p.weights, weights_md, a.engine, kAllocate) ||
      a.memory_create(&p.images, images.data(), a.engine, nullptr) ||
      a.memory_create(&p.outputs, outputs.data(), a.engine, nullptr) ||
      a.memory_create(&p.bias, bias.data(), a.engine, nullptr))
    return;
  p.bias_values.resize(d);
  p.reorder = reorder;
  p.primitive = primitive;
}

Pass* pass_for(const Api& a, Kind kind, const PatchShape& s, int m, int d) {
  const Key key{(int)kind, s.in.channels, s.in.height, s.in.width, s.in.channels_first, s.kernel_h, s.kernel_w,
                s.stride, s.padding, s.bias, m, d};
  std::lock_guard<std::mutex> hold(cache_lock);
  auto& passes = cache();
  auto found = passes.find(key);
  if (found != passes.end()) return found->second.get();
  if (passes.size() >= kMaxPasses) return nullptr;
  auto made = std::make_unique<Pass>();
  build(a, *made, kind, s, m, d);
  return passes.emplace(key, std::move(made)).first->second.get();
}

// A stream per calling thread, shared by its passes (models may train on several threads at once); null where
// oneDNN cannot make one.
Handle calling_thread_stream(const Api& a) {
  thread_local Handle stream = nullptr;
  if (!stream && a.stream_create(&stream, a.engine, kStreamDefault) != kSuccess) stream = nullptr;
  return stream;
}

// The engine's W into oneDNN's weights format (and its bias column into a vector), then the pass on the
// images and the outputs (forward: source and destination; input gradient: their gradients).
bool run(const Api& a, Pass& p, const float* w, int d, int n, bool with_bias, int images_arg, const float* images,
         int outputs_arg, const float* outputs, int threads) {
  const Handle stream = calling_thread_stream(a);
  if (!stream) return false;
  std::lock_guard<std::mutex> hold(p.lock);
  if (a.omp_set_num_threads) a.omp_set_num_threads(threads);  // OpenMP's count is the calling thread's own
  a.memory_set_data_handle(p.user_weights, const_cast<float*>(w));
  a.memory_set_data_handle(p.images, const_cast<float*>(images));
  a.memory_set_data_handle(p.outputs, const_cast<float*>(outputs));
  const ExecArg to_own[] = {{kArgFrom, p.user_weights}, {kArgTo, p.weights}};
  if (a.execute(p.reorder, stream, 2, to_own) != kSuccess) return false;
  std::vector<ExecArg> args{{images_arg, p.images}, {kArgWeights, p.weights}, {outputs_arg, p.outputs}};
  if (with_bias) {
    for (int j = 0; j < d; ++j) p.bias_values[j] = w[(size_t)j * n + n - 1];
    a.memory_set_data_handle(p.bias, p.bias_values.data());
    args.push_back({kArgBias, p.bias});
  }
  return a.execute(p.primitive, stream, (int)args.size(), args.data()) == kSuccess &&
         a.stream_wait(stream) == kSuccess;
}

// The weight gradient summed over the batch in oneDNN's format (and the bias gradient into a vector), reordered
// into dw's d x n layout and scaled by alpha there; the bias column is alpha times the summed output gradient,
// or 0 without a bias as the patches' homogeneous column is then 0 (algorithm.md §12.1).
bool run_weights(const Api& a, Pass& p, const float* x, const float* g, int d, int n, bool with_bias, float alpha,
                 float* dw, int threads) {
  const Handle stream = calling_thread_stream(a);
  if (!stream) return false;
  std::lock_guard<std::mutex> hold(p.lock);
  if (a.omp_set_num_threads) a.omp_set_num_threads(threads);
  a.memory_set_data_handle(p.images, const_cast<float*>(x));
  a.memory_set_data_handle(p.outputs, const_cast<float*>(g));
  a.memory_set_data_handle(p.bias, p.bias_values.data());
  std::vector<ExecArg> args{{kArgSrc, p.images}, {kArgDiffDst, p.outputs}, {kArgDiffWeights, p.weights}};
  if (with_bias) args.push_back({kArgDiffBias, p.bias});
  if (a.execute(p.primitive, stream, (int)args.size(), args.data()) != kSuccess) return false;
  a.memory_set_data_handle(p.user_weights, dw);
  const ExecArg to_engine[] = {{kArgFrom, p.weights}, {kArgTo, p.user_weights}};
  if (a.execute(p.reorder, stream, 2, to_engine) != kSuccess || a.stream_wait(stream) != kSuccess) return false;
  for (int j = 0; j < d; ++j) {
    float* row = dw + (size_t)j * n;
    for (int k = 0; k + 1 < n; ++k) row[k] *= alpha;
    row[n - 1] = with_bias ? alpha * p.bias_values[j] : 0.0f;
  }
  return true;
}

}  // namespace

bool onednn_conv_forward(const PatchShape& s, const float* x, int m, const float* w, int d, float* h, int threads) {
  const Api* a = chosen(s) ? api() : nullptr;
  Pass* p = a ? pass_for(*a, Kind::Forward, s, m, d) : nullptr;
  return p && p->primitive && run(*a, *p, w, d, s.patch_size() + 1, s.bias, kArgSrc, x, kArgDst, h, threads);
}

bool onednn_conv_backward_data(const PatchShape& s, const float* g, int m, const float* w, int d, float* dx,
                               int threads) {
  const Api* a = chosen(s) ? api() : nullptr;
  Pass* p = a ? pass_for(*a, Kind::BackwardData, s, m, d) : nullptr;
  return p && p->primitive &&
         run(*a, *p, w, d, s.patch_size() + 1, false, kArgDiffSrc, dx, kArgDiffDst, g, threads);
}

bool onednn_conv_backward_weights(const PatchShape& s, const float* g, const float* x, int m, int d, float alpha,
                                  float* dw, int threads) {
  const Api* a = chosen_for_weights(s) ? api() : nullptr;
  Pass* p = a ? pass_for(*a, Kind::BackwardWeights, s, m, d) : nullptr;
  return p && p->primitive && run_weights(*a, *p, x, g, d, s.patch_size() + 1, s.bias, alpha, dw, threads);
}

std::string onednn_conv_status() {
  api();
  return the_api.status;
}

}  // namespace kb::cpu

#endif
