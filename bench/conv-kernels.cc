// Candidate CPU convolution kernels timed side by side on the same shapes, forward, backward data and
// backward weights (the range: kernels 1-7, stride 1-2, channels 1-512, batch 1-256):
//   im2col   the engine's path before this bench: the whole batch's patches, one SGEMM (native/cpu/image_ops.cc)
//   blocked  the engine's path now (core/layers/conv_passes.cc): a few images at a time, their patches (or
//            patch gradients) formed and used while in cache, the patches still kept for the weight gradient
//            (one SGEMM) and the curvature
//   reformed as blocked, but no patches kept: the weight gradient summed chunk by chunk from re-formed ones
//   flipped  as blocked, but with stride 1 the input gradient is a convolution of the output gradient with the
//            flipped kernel: patches of g times W flipped, no col2im
//   gemm1x1  a 1x1 convolution with stride 1 and no padding: the image rows are the patches, no copy
//   onednn   oneDNN's convolution primitives (only when built with -DWITH_ONEDNN), channels-last, weights in
//            the format oneDNN picks, reorders from and to the engine's layout included
// Images channels-last (the engine's layout inside a network); weights d x (k·k·c + 1), the bias last.
// Build and run (bench/conv-kernels.sh does both):
//   g++ -O3 -std=c++17 -fopenmp bench/conv-kernels.cc native/cpu/image_ops.cc [-DWITH_ONEDNN -ldnnl] -lopenblas
//   [CLOCK=cpu] [ONLY=substring] [CHUNK_KB=2048] ./conv-kernels [threads] [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>

#include "../native/cpu/image_ops.h"

#ifdef WITH_ONEDNN
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

extern "C" void openblas_set_num_threads(int);

namespace {

using kb::PatchShape;

struct Case {
  const char* name;
  int batch, channels, size, kernel, stride, padding, filters;
};

// The benchmark CNN's two convolutions (lib/cli/problems.ts cnnClassifier) at batch 128, then a spread.
const Case kCases[] = {
    {"cnn conv1 1->32 5x5 28x28 b128", 128, 1, 28, 5, 1, 2, 32},
    {"cnn conv2 32->64 5x5 14x14 b128", 128, 32, 14, 5, 1, 2, 64},
    {"cnn conv2 32->64 5x5 14x14 b32", 32, 32, 14, 5, 1, 2, 64},
    {"cnn conv2 32->64 5x5 14x14 b256", 256, 32, 14, 5, 1, 2, 64},
    {"3x3 64->64 32x32 b32", 32, 64, 32, 3, 1, 1, 64},
    {"3x3 s2 128->256 28x28 b16", 16, 128, 28, 3, 2, 1, 256},
    {"3x3 512->512 7x7 b32", 32, 512, 7, 3, 1, 1, 512},
    {"1x1 256->64 14x14 b32", 32, 256, 14, 1, 1, 0, 64},
    {"7x7 s2 3->64 64x64 b16", 16, 3, 64, 7, 2, 3, 64},
    {"3x3 64->64 56x56 b1", 1, 64, 56, 3, 1, 1, 64},
};

// CLOCK=cpu: the process's processor time instead of wall-clock time (at one thread, what other jobs on a
// shared machine disturb least).
bool cpu_clock = false;
double now() {
  if (!cpu_clock) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

double seconds_of(int repeats, const std::function<void()>& run) {
  run();  // warm up: pages touched, primitives created
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now();
    run();
    times.push_back(now() - t0);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Buffers {
  PatchShape shape;
  int m, d, n, T;
  std::vector<float> x, w, h, g, dx, dw, patches, scratch;
  Buffers(const Case& c) {
    shape = {{c.channels, c.size, c.size, false}, c.kernel, c.kernel, c.stride, c.padding, true};
    m = c.batch, d = c.filters, n = shape.patch_size() + 1, T = shape.locations();
    auto fill = [](std::vector<float>& v, size_t count, unsigned seed) {
      v.resize(count);
      for (float& e : v) e = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / (1 << 24) - 0.5f;
    };
    fill(x, (size_t)m * shape.in.size(), 1);
    fill(w, (size_t)d * n, 2);
    fill(g, (size_t)m * T * d, 3);
    h.resize((size_t)m * T * d);
    dx.resize(x.size());
    dw.resize(w.size());
    patches.resize((size_t)m * T * n);
    scratch.resize((size_t)m * T * n);
  }
};

// Images per chunk so that a chunk's patches take about `bytes`, with at least 512 rows (as
// core/layers/conv_passes.cc).
int chunk_images(const Buffers& b, size_t bytes) {
  const size_t images = std::max(bytes / ((size_t)b.T * b.n * sizeof(float)), (size_t)(512 + b.T - 1) / b.T);
  return (int)std::clamp<size_t>(images, 1, b.m);
}

// ---- im2col: the whole batch (the engine's path) ----
void im2col_forward(Buffers& b) {
  kb::cpu::im2col(b.shape, b.x.data(), b.m, b.patches.data());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b.m * b.T, b.d, b.n, 1.0f, b.patches.data(), b.n, b.w.data(),
              b.n, 0.0f, b.h.data(), b.d);
}
void im2col_weights(Buffers& b) {  // the patches kept from the forward pass
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b.d, b.n, b.m * b.T, 1.0f, b.g.data(), b.d, b.patches.data(),
              b.n, 0.0f, b.dw.data(), b.n);
}
void im2col_data(Buffers& b) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b.m * b.T, b.n - 1, b.d, 1.0f, b.g.data(), b.d, b.w.data(),
              b.n, 0.0f, b.scratch.data(), b.n - 1);
  kb::cpu::col2im(b.shape, b.scratch.data(), b.n - 1, b.m, b.dx.data());
}

// ---- blocked: a chunk of images at a time ----
size_t kChunkBytes = 2 << 20;  // as core/layers/conv_passes.cc; CHUNK_KB overrides
void chunked_forward(Buffers& b, bool keep) {
  const int chunk = chunk_images(b, kChunkBytes);
  for (int first = 0; first < b.m; first += chunk) {
    const int count = std::min(chunk, b.m - first);
    float* p = keep ? b.patches.data() + (size_t)first * b.T * b.n : b.scratch.data();
    kb::cpu::im2col(b.shape, b.x.data() + (size_t)first * b.shape.in.size(), count, p);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count * b.T, b.d, b.n, 1.0f, p, b.n, b.w.data(), b.n, 0.0f,
                b.h.data() + (size_t)first * b.T * b.d, b.d);
  }
}
void blocked_forward(Buffers& b) { chunked_forward(b, true); }
void reformed_forward(Buffers& b) { chunked_forward(b, false); }
void reformed_weights(Buffers& b) {  // patches formed again, chunk by chunk, the products summed
  const int chunk = chunk_images(b, kChunkBytes);
  for (int first = 0; first < b.m; first += chunk) {
    const int count = std::min(chunk, b.m - first);
    kb::cpu::im2col(b.shape, b.x.data() + (size_t)first * b.shape.in.size(), count, b.scratch.data());
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b.d, b.n, count * b.T, 1.0f,
                b.g.data() + (size_t)first * b.T * b.d, b.d, b.scratch.data(), b.n, first ? 1.0f : 0.0f, b.dw.data(), b.n);
  }
}
void blocked_data(Buffers& b) {
  const int chunk = chunk_images(b, kChunkBytes);
  for (int first = 0; first < b.m; first += chunk) {
    const int count = std::min(chunk, b.m - first);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, count * b.T, b.n - 1, b.d, 1.0f,
                b.g.data() + (size_t)first * b.T * b.d, b.d, b.w.data(), b.n, 0.0f, b.scratch.data(), b.n - 1);
    kb::cpu::col2im(b.shape, b.scratch.data(), b.n - 1, count, b.dx.data() + (size_t)first * b.shape.in.size());
  }
}

// ---- flipped: stride 1, the input gradient as a convolution of the output gradient with the flipped kernel ----
// dx = patches of g (padding k − 1 − p, input-sized) times W flipped and transposed: one product per chunk with
// k·k·d inner terms and no col2im.
bool stride_one(const Buffers& b) { return b.shape.stride == 1; }
void flipped_data(Buffers& b) {
  const PatchShape& s = b.shape;
  const int C = s.in.channels, k = s.kernel_h, nf = k * k * b.d + 1;
  const PatchShape gs{{b.d, s.out_h(), s.out_w(), false}, k, k, 1, k - 1 - s.padding, false};
  static std::vector<float> wf;  // C x nf: wf[c][(ky, kx, f)] = w[f][(k−1−ky, k−1−kx, c)]
  wf.assign((size_t)C * nf, 0.0f);
  for (int c = 0; c < C; ++c)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx)
        for (int f = 0; f < b.d; ++f)
          wf[(size_t)c * nf + (ky * k + kx) * b.d + f] = b.w[(size_t)f * b.n + ((k - 1 - ky) * k + (k - 1 - kx)) * C + c];
  const size_t per_image = (size_t)s.in.height * s.in.width * nf;
  const int chunk = (int)std::clamp<size_t>(kChunkBytes / (per_image * sizeof(float)), 1, b.m);
  static std::vector<float> gp;
  gp.resize((size_t)chunk * per_image);
  const int locations = s.in.height * s.in.width;
  for (int first = 0; first < b.m; first += chunk) {
    const int count = std::min(chunk, b.m - first);
    kb::cpu::im2col(gs, b.g.data() + (size_t)first * b.T * b.d, count, gp.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count * locations, C, nf, 1.0f, gp.data(), nf, wf.data(), nf,
                0.0f, b.dx.data() + (size_t)first * s.in.size(), C);
  }
}

// ---- gemm1x1: the image is its own patch matrix (stride 1, no padding) ----
bool plain_1x1(const Buffers& b) { return b.shape.kernel_h == 1 && b.shape.stride == 1 && b.shape.padding == 0; }
void gemm1x1_forward(Buffers& b) {
  const int rows = b.m * b.T, c = b.n - 1;
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < b.d; ++j) b.h[(size_t)r * b.d + j] = b.w[(size_t)j * b.n + c];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, b.d, c, 1.0f, b.x.data(), c, b.w.data(), b.n, 1.0f,
              b.h.data(), b.d);
}
void gemm1x1_weights(Buffers& b) {
  const int rows = b.m * b.T, c = b.n - 1;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b.d, c, rows, 1.0f, b.g.data(), b.d, b.x.data(), c, 0.0f,
              b.dw.data(), b.n);
  for (int j = 0; j < b.d; ++j) b.dw[(size_t)j * b.n + c] = 0;
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < b.d; ++j) b.dw[(size_t)j * b.n + c] += b.g[(size_t)r * b.d + j];
}
void gemm1x1_data(Buffers& b) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b.m * b.T, b.n - 1, b.d, 1.0f, b.g.data(), b.d, b.w.data(),
              b.n, 0.0f, b.dx.data(), b.n - 1);
}

#ifdef WITH_ONEDNN
// oneDNN's primitives for one case: the engine's weights reordered into oneDNN's chosen format for each call
// (they change every step in training), the weight gradient reordered back.
struct OneDnn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::memory src, dst, wsrc_user, bias, dwsrc_user, dbias, diff_src, diff_dst, wts, data_wts, dwts;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
  dnnl::reorder to_wts, to_data_wts, to_dwts_user;
  std::vector<float> w_ohwi, b_vec, dw_ohwi, db_vec;

  explicit OneDnn(Buffers& b) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const auto& s = b.shape;
    const int oh = s.out_h();
    dnnl::memory::dims src_dims{b.m, s.in.channels, s.in.height, s.in.width}, dst_dims{b.m, b.d, oh, oh},
        w_dims{b.d, s.in.channels, s.kernel_h, s.kernel_w}, b_dims{b.d}, strides{s.stride, s.stride},
        pad{s.padding, s.padding};
    auto md = [](const dnnl::memory::dims& d, tag t) { return dnnl::memory::desc(d, dt::f32, t); };
    const auto src_md = md(src_dims, tag::nhwc), dst_md = md(dst_dims, tag::nhwc), b_md = md(b_dims, tag::x);
    const auto w_any = md(w_dims, tag::any), w_user = md(w_dims, tag::ohwi);
    dnnl::convolution_forward::primitive_desc fpd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        src_md, w_any, b_md, dst_md, strides, pad, pad),
        eng);
    dnnl::convolution_backward_data::primitive_desc dpd(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_md, w_any, dst_md, strides,
                                              pad, pad),
        eng, fpd);
    dnnl::convolution_backward_weights::primitive_desc wpd(
        dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_md, w_any, b_md, dst_md,
                                                 strides, pad, pad),
        eng, fpd);
    w_ohwi.resize((size_t)b.d * (b.n - 1));
    b_vec.resize(b.d);
    dw_ohwi.resize(w_ohwi.size());
    db_vec.resize(b.d);
    src = dnnl::memory(src_md, eng, b.x.data());
    dst = dnnl::memory(dst_md, eng, b.h.data());
    diff_src = dnnl::memory(src_md, eng, b.dx.data());
    diff_dst = dnnl::memory(dst_md, eng, b.g.data());
    wsrc_user = dnnl::memory(w_user, eng, w_ohwi.data());
    dwsrc_user = dnnl::memory(w_user, eng, dw_ohwi.data());
    bias = dnnl::memory(b_md, eng, b_vec.data());
    dbias = dnnl::memory(b_md, eng, db_vec.data());
    wts = dnnl::memory(fpd.weights_desc(), eng);
    dwts = dnnl::memory(wpd.diff_weights_desc(), eng);
    data_wts = dnnl::memory(dpd.weights_desc(), eng);
    to_wts = dnnl::reorder(wsrc_user, wts);
    to_data_wts = dnnl::reorder(wsrc_user, data_wts);
    to_dwts_user = dnnl::reorder(dwts, dwsrc_user);
    fwd = dnnl::convolution_forward(fpd);
    bwd_data = dnnl::convolution_backward_data(dpd);
    bwd_weights = dnnl::convolution_backward_weights(wpd);
  }
  // The engine's d x n weights to ohwi and the bias (the layout change is a strided copy).
  void take_weights(const Buffers& b, dnnl::reorder& to, dnnl::memory& out) {
    for (int j = 0; j < b.d; ++j) {
      std::memcpy(&w_ohwi[(size_t)j * (b.n - 1)], &b.w[(size_t)j * b.n], (b.n - 1) * sizeof(float));
      b_vec[j] = b.w[(size_t)j * b.n + b.n - 1];
    }
    to.execute(strm, wsrc_user, out);
  }
  void forward(Buffers& b) {
    take_weights(b, to_wts, wts);
    fwd.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  void data(Buffers& b) {
    take_weights(b, to_data_wts, data_wts);
    bwd_data.execute(strm, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, data_wts}, {DNNL_ARG_DIFF_SRC, diff_src}});
    strm.wait();
  }
  void weights(Buffers& b) {
    bwd_weights.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, dwts},
                               {DNNL_ARG_DIFF_BIAS, dbias}});
    to_dwts_user.execute(strm, dwts, dwsrc_user);
    strm.wait();
    for (int j = 0; j < b.d; ++j) {
      std::memcpy(&b.dw[(size_t)j * b.n], &dw_ohwi[(size_t)j * (b.n - 1)], (b.n - 1) * sizeof(float));
      b.dw[(size_t)j * b.n + b.n - 1] = db_vec[j];
    }
  }
};
#endif

// Largest absolute difference between two results of the same pass (each method against im2col's).
float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  openblas_set_num_threads(threads);
  if (const char* kb = std::getenv("CHUNK_KB")) kChunkBytes = (size_t)std::atoi(kb) << 10;
  const char* only = std::getenv("ONLY");  // a substring of the shapes to run
  cpu_clock = std::getenv("CLOCK") && std::string(std::getenv("CLOCK")) == "cpu";
#ifdef WITH_ONEDNN
  omp_set_num_threads(threads);
#endif
  std::printf("%s clock, %d threads, median of %d; milliseconds per pass (fwd / bwd data / bwd weights), GFLOP/s of the total\n",
              cpu_clock ? "processor" : "wall", threads, repeats);
  std::printf("| shape | method | forward | backward data | backward weights | total | GFLOP/s | max diff |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Case& c : kCases) {
    if (only && !std::strstr(c.name, only)) continue;
    Buffers b(c);
    const double flops = 2.0 * b.m * b.T * b.d * (b.n - 1) * 3;
    std::vector<float> ref_h, ref_dx, ref_dw;
    struct Method {
      const char* name;
      std::function<void(Buffers&)> fwd, data, weights;
    };
    std::vector<Method> methods{{"im2col", im2col_forward, im2col_data, im2col_weights},
                                {"blocked", blocked_forward, blocked_data, im2col_weights},
                                {"reformed", reformed_forward, blocked_data, reformed_weights}};
    if (stride_one(b)) methods.push_back({"flipped", blocked_forward, flipped_data, im2col_weights});
    if (plain_1x1(b)) methods.push_back({"gemm1x1", gemm1x1_forward, gemm1x1_data, gemm1x1_weights});
#ifdef WITH_ONEDNN
    OneDnn dnn(b);
    methods.push_back({"onednn", [&](Buffers& x) { dnn.forward(x); }, [&](Buffers& x) { dnn.data(x); },
                       [&](Buffers& x) { dnn.weights(x); }});
#endif
    for (const Method& method : methods) {
      const double f = seconds_of(repeats, [&] { method.fwd(b); });
      const double dd = seconds_of(repeats, [&] { method.data(b); });
      const std::string name = method.name;
      if (name == "im2col" || name == "blocked" || name == "flipped") method.fwd(b);  // the weight gradient reads the kept patches
      const double dw = seconds_of(repeats, [&] { method.weights(b); });
      float diff = 0;
      if (ref_h.empty()) {
        ref_h = b.h, ref_dx = b.dx, ref_dw = b.dw;
      } else {
        diff = std::max({max_diff(ref_h, b.h), max_diff(ref_dx, b.dx), max_diff(ref_dw, b.dw)});
        if (diff > 1e-2f) std::fprintf(stderr, "%s: forward %g data %g weights %g\n", method.name, max_diff(ref_h, b.h), max_diff(ref_dx, b.dx), max_diff(ref_dw, b.dw));
      }
      std::printf("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.1f | %.1e |\n", c.name, method.name, f * 1e3, dd * 1e3,
                  dw * 1e3, (f + dd + dw) * 1e3, flops / (f + dd + dw) / 1e9, diff);
      std::fflush(stdout);
    }
  }
}
