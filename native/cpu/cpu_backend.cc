// The CPU Backend: BLAS and LAPACK from OpenBLAS (linked statically), element-wise work in plain loops.
//
// Row-major conventions: OpenBLAS's CBLAS takes row-major directly. The Fortran LAPACK routines are
// column-major; a row-major symmetric matrix is its own column-major view, and the column-major 'U' factor
// (A = U^T U) read row-major is the lower factor L = U^T with A = L L^T, so potrf/potri pass 'U'.
// potrs is the two triangular solves with that L (strsm), which works on row-major right-hand sides.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#endif
#ifdef __EMSCRIPTEN__
#include <emscripten/heap.h>
#include <malloc.h>
#endif

#include "../core/backend.h"
#include "../core/names.h"
#include "../rules/curvature_rules.h"
#include "../rules/elementwise_rules.h"
#include "../rules/first_order_rule.h"
#include "../rules/rng.h"
#include "blas_kernels.h"
#include "image_ops.h"
#include "onednn_conv.h"
#include "parallel_rows.h"
#include "token_ops.h"

extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
            const int* lwork, int* info);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace kb {
namespace {

// Copies the lower triangle of a row-major n x n matrix onto its upper triangle, in 64 x 64 tiles so the
// transposed reads stay in cache (a plain loop strides through memory a row per element). A band of tile rows
// writes only its own columns of the upper triangle, so bands go to the threads, in pairs b and last − b so
// that each pair copies about as much as the others.
void mirror_lower(float* a, int n, int lda, int threads) {
  constexpr int T = 64;
  const int bands = (n + T - 1) / T;
  auto mirror_band = [&](int band) {
    const int bi = band * T;
    for (int bj = 0; bj <= bi; bj += T)
      for (int i = bi; i < std::min(bi + T, n); ++i)
        for (int j = bj; j < std::min(bj + T, i); ++j) a[(size_t)j * lda + i] = a[(size_t)i * lda + j];
  };
  cpu::parallel_rows((bands + 1) / 2, (size_t)T * n, threads, [&](int first, int last) {
    for (int pair = first; pair < last; ++pair) {
      mirror_band(pair);
      if (bands - 1 - pair != pair) mirror_band(bands - 1 - pair);
    }
  });
}


// Calls body(kind) with kind() the activation as a compile-time constant, so that a loop over elements has no
// switch per element and vectorizes.
template <class Body>
void with_activation(Activation act, Body&& body) {
  switch (act) {
    case Activation::Relu: return body(std::integral_constant<Activation, Activation::Relu>{});
    case Activation::Sigmoid: return body(std::integral_constant<Activation, Activation::Sigmoid>{});
    case Activation::Tanh: return body(std::integral_constant<Activation, Activation::Tanh>{});
    case Activation::Gelu: return body(std::integral_constant<Activation, Activation::Gelu>{});
    case Activation::Linear: return body(std::integral_constant<Activation, Activation::Linear>{});
  }
}

#if defined(__EMSCRIPTEN__)
// WebAssembly: what the heap can still grow by (wasm32 addresses 4 GiB at most) plus what malloc holds free.
size_t host_available_bytes() {
  const size_t top = (size_t)sbrk(0);
  const size_t max = emscripten_get_heap_max();
  return (max > top ? max - top : 0) + (size_t)mallinfo().fordblks;
}
#elif defined(_WIN32)
// What the system can still commit (free RAM and page file), within the process's free address space.
size_t host_available_bytes() {
  MEMORYSTATUSEX status{};
  status.dwLength = sizeof(status);
  if (!GlobalMemoryStatusEx(&status)) return SIZE_MAX;
  return (size_t)std::min(status.ullAvailPageFile, status.ullAvailVirtual);
}
#else
// /proc/meminfo's MemAvailable + SwapFree, within what RLIMIT_AS leaves of the address space.
size_t host_available_bytes() {
  size_t available = SIZE_MAX;
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char key[64];
    unsigned long long kib = 0;
    size_t sum = 0;
    int found = 0;
    while (std::fscanf(f, "%63s %llu kB\n", key, &kib) == 2) {
      if (std::strcmp(key, "MemAvailable:") == 0 || std::strcmp(key, "SwapFree:") == 0) {
        sum += (size_t)kib * 1024;
        ++found;
      }
    }
    std::fclose(f);
    if (found > 0) available = sum;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    size_t used = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      unsigned long long pages = 0;
      if (std::fscanf(f, "%llu", &pages) == 1) used = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
      std::fclose(f);
    }
    available = std::min(available, limit.rlim_cur > used ? (size_t)(limit.rlim_cur - used) : size_t(0));
  }
  return available;
}
#endif

// The first-order rule over elements [begin, end), one instance per protocol and method so that the compiler
// folds the rule's branches out of the loop and vectorizes it (algorithm.md §9.1). The settings come by value:
// read through a lambda's captures, their branches stayed in the loop.
template <bool Paper, FirstOrderUpdate::Kind Kind>
void first_order_range(FirstOrderUpdate u, float bias1, float bias2, size_t begin, size_t end, float* theta,
                       const float* grad, float* m, float* v) {
  u.paper = Paper;
  u.kind = Kind;
  for (size_t i = begin; i < end; ++i) first_order_element(u, bias1, bias2, theta[i], grad[i], m[i], v[i]);
}

// The loss of one row (zi, ti of d values), and its gradient into gi when gi is not null.
double row_loss(Loss kind, const float* zi, const float* ti, float* gi, int d) {
  double row = 0;
  switch (kind) {
    case Loss::SigmoidCrossEntropy:
    {
      // The log1p(e) terms are summed as the log of products of 16 factors 1 + e in (1, 2], in double:
      // one log per 16 elements instead of one per element, the costliest part of this loss on a CPU
      // (a GPU thread computes log1pf per element; the two agree to float rounding).
      double product = 1;
      for (int j = 0; j < d; ++j) {
        const SigmoidCrossEntropyTerm term = sigmoid_cross_entropy(zi[j], ti[j]);
        row += (double)term.linear;
        product *= 1.0 + (double)term.e;
        if ((j & 15) == 15) {
          row += std::log(product);
          product = 1;
        }
        if (gi) gi[j] = term.gradient;
      }
      row += std::log(product);
      break;
    }
    case Loss::HalfSquaredError:
      for (int j = 0; j < d; ++j) {
        const float r = squared_error_residual(zi[j], ti[j]);
        row += 0.5 * (double)r * r;
        if (gi) gi[j] = r;
      }
      break;
    case Loss::SoftmaxCrossEntropy: {
      float zmax = zi[0];
      for (int j = 1; j < d; ++j) zmax = std::max(zmax, zi[j]);
      double denom = 0, tsum = 0;
      for (int j = 0; j < d; ++j) denom += std::exp((double)zi[j] - zmax);
      const double lse = zmax + std::log(denom);
      for (int j = 0; j < d; ++j) {
        row += (double)ti[j] * (lse - zi[j]);
        tsum += ti[j];
      }
      if (gi)
        for (int j = 0; j < d; ++j) gi[j] = (float)(std::exp(zi[j] - lse) * tsum - ti[j]);
      break;
    }
  }
  return row;
}

struct alignas(64) BufferHeader {
  size_t bytes;  // the whole allocation, header included
  bool mapped;
};
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kMapThreshold = SIZE_MAX;  // under AddressSanitizer every buffer goes through malloc, with redzones
#elif defined(__EMSCRIPTEN__)
constexpr size_t kMapThreshold = SIZE_MAX;  // WebAssembly has no kernel to map from: malloc's heap is all there is
#else
constexpr size_t kMapThreshold = size_t(1) << 20;
#endif

class CpuBackend final : public Backend {
 public:
  // The kernel family is settled before the first BLAS call (blas_kernels.h).
  CpuBackend() { cpu::use_best_blas_kernels(); }
  const char* name() const override { return kCpuDevice; }
  bool host_memory() const override { return true; }

  // Buffers of 1 MiB and more are mapped from the kernel: freeing one returns its memory at once (through
  // malloc, models made and disposed in turn left the heap fragmented and the RSS growing), and they arrive
  // zeroed. A 64-byte header in front of each buffer records how it was made; the data stays 64-byte aligned.
  float* alloc(size_t count) override {
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(float) + sizeof(BufferHeader);
    void* p = nullptr;
    const bool mapped = bytes >= kMapThreshold;
    if (mapped) {
#ifdef _WIN32
      p = VirtualAlloc(nullptr, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);  // zeroed, as mmap's
      if (!p) throw std::bad_alloc();
#else
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
#endif
    } else {
#ifdef _WIN32
      if (!(p = _aligned_malloc((bytes + 63) / 64 * 64, 64))) throw std::bad_alloc();
#else
      if (posix_memalign(&p, 64, (bytes + 63) / 64 * 64) != 0) throw std::bad_alloc();
#endif
      std::memset(p, 0, bytes);
    }
    new (p) BufferHeader{bytes, mapped};
    return reinterpret_cast<float*>(static_cast<char*>(p) + sizeof(BufferHeader));
  }
  size_t available_bytes() override { return host_available_bytes(); }
  void release(float* p) override {
    if (!p) return;
    auto* header = reinterpret_cast<BufferHeader*>(reinterpret_cast<char*>(p) - sizeof(BufferHeader));
#ifdef _WIN32
    if (header->mapped) VirtualFree(header, 0, MEM_RELEASE);
    else _aligned_free(header);
#else
    if (header->mapped) munmap(header, header->bytes);
    else std::free(header);
#endif
  }
  void to_device(float* dst, const float* host, size_t n) override { std::memcpy(dst, host, n * sizeof(float)); }
  void to_host(float* host, const float* src, size_t n) override { std::memcpy(host, src, n * sizeof(float)); }
  // One thread: a copy is bound by memory bandwidth, which one core's copy already uses (bench/elementwise.js).
  void copy(float* dst, const float* src, size_t n) override { std::memmove(dst, src, n * sizeof(float)); }
  void fill(float* x, float value, size_t n) override { std::fill(x, x + n, value); }
  const float* stage_dataset(const float* host, size_t) override { return host; }
  void release_dataset(const float*) override {}

  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
            float beta, float* c, int ldc) override {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
                lda, b, ldb, beta, c, ldc);
  }
  void syrk(bool trans, int n, int k, float alpha, const float* a, int lda, float beta, float* c,
            int ldc) override {
    cblas_ssyrk(CblasRowMajor, CblasLower, trans ? CblasTrans : CblasNoTrans, n, k, alpha, a, lda, beta, c, ldc);
    mirror_lower(c, n, ldc, threads());
  }
  void gemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
            float* y) override {
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
  }
  void ger(int m, int n, float alpha, const float* x, const float* y, float* a, int lda) override {
    cblas_sger(CblasRowMajor, m, n, alpha, x, 1, y, 1, a, lda);
  }
  void trsm_upper(bool trans, int k, int ncols, const float* r, int ldr, float* b, int ldb) override {
    cblas_strsm(CblasRowMajor, CblasLeft, CblasUpper, trans ? CblasTrans : CblasNoTrans, CblasNonUnit, k, ncols, 1.0f,
                r, ldr, b, ldb);
  }
  double dot(size_t n, const float* x, const float* y) override {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += (double)x[i] * y[i];
    return s;
  }
  void axpby(size_t n, float alpha, const float* x, float beta, float* y) override {
    cpu::parallel_elements(n, threads(), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) y[i] = alpha * x[i] + beta * y[i];
    });
  }

  int potrf(int n, float* a, int lda) override {
    int info = 0;
    spotrf_("U", &n, a, &lda, &info);
    return info;
  }
  int potri(int n, float* a, int lda) override {
    int info = 0;
    spotri_("U", &n, a, &lda, &info);
    if (info == 0) mirror_lower(a, n, lda, threads());
    return info;
  }
  int potrs(int n, int nrhs, const float* l, int lda, float* b, int ldb) override {
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, n, nrhs, 1.0f, l, lda, b, ldb);
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, n, nrhs, 1.0f, l, lda, b, ldb);
    return 0;
  }

  // In float64 for the small eigenvalues that Shampoo's inverse roots raise to −1/4 (algorithm.md §17.2); the
  // copies cost O(n²) against the O(n³) decomposition. DSYEV (tridiagonal QR), not the divide-and-conquer DSYEVD:
  // DSYEVD's DORMTR concatenates Fortran strings, which pulls libgfortran's I/O runtime into the addon, and the
  // static libgfortran's thread-local storage cannot be linked into a shared object. LAPACK returns column-major
  // eigenvectors, which read row-major are rows, as the interface wants.
  int symmetric_eigen(int n, float* a, int lda, float* w) override {
    if (n == 0) return 0;
    std::vector<double> m((size_t)n * n), values(n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) m[(size_t)i * n + j] = a[(size_t)i * lda + j];
    int info = 0, lwork = -1;
    double work_size = 0;
    dsyev_("V", "U", &n, m.data(), &n, values.data(), &work_size, &lwork, &info);
    if (info != 0) return info;
    lwork = std::max((int)work_size, 1);
    std::vector<double> work(lwork);
    dsyev_("V", "U", &n, m.data(), &n, values.data(), work.data(), &lwork, &info);
    if (info != 0) return info;
    for (int i = 0; i < n; ++i) {
      w[i] = (float)values[i];
      for (int j = 0; j < n; ++j) a[(size_t)i * lda + j] = (float)m[(size_t)i * n + j];
    }
    return 0;
  }

  void gather_rows(float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows, int count) override {
    for (int i = 0; i < count; ++i)
      std::memcpy(dst + (size_t)i * ld_dst, src + (size_t)rows[i] * cols, (size_t)cols * sizeof(float));
  }
  void set_column(float* a, int rows, int ld, int col, float value) override {
    for (int i = 0; i < rows; ++i) a[(size_t)i * ld + col] = value;
  }

  void activation_forward(Activation act, const float* h, int m, int d, int ldh, float* out, int ldo) override {
    cpu::parallel_rows(m, d, threads(), [&](int begin, int end) {
      with_activation(act, [&](auto kind) {
        for (int i = begin; i < end; ++i) {
          const float* hi = h + (size_t)i * ldh;
          float* oi = out + (size_t)i * ldo;
          for (int j = 0; j < d; ++j) oi[j] = activate(kind(), hi[j]);
        }
      });
    });
  }
  void activation_backward(Activation act, const float* h, int m, int d, float* g, int ldg) override {
    if (act == Activation::Linear) return;
    cpu::parallel_rows(m, d, threads(), [&](int begin, int end) {
      with_activation(act, [&](auto kind) {
        for (int i = begin; i < end; ++i) {
          const float* hi = h + (size_t)i * d;
          float* gi = g + (size_t)i * ldg;
          for (int j = 0; j < d; ++j) gi[j] = activation_gradient(kind(), hi[j], gi[j]);
        }
      });
    });
  }

  // The rows go to the threads; their losses are then added in row order, so the total does not depend on
  // the thread count.
  double loss(Loss kind, const float* z, const float* t, int m, int d, float* grad,
              double* square_sum = nullptr) override {
    thread_local std::vector<double> kept;  // kept between steps: no allocation per step
    kept.resize(std::max(m, 0));
    double* rows = kept.data();  // a plain pointer: the worker threads must see this thread's vector
    cpu::parallel_rows(m, d, threads(), [&](int begin, int end) {
      for (int i = begin; i < end; ++i)
        rows[i] = row_loss(kind, z + (size_t)i * d, t + (size_t)i * d, grad ? grad + (size_t)i * d : nullptr, d);
    });
    double total = 0, squares = 0;
    for (int i = 0; i < m; ++i) total += rows[i], squares += rows[i] * rows[i];
    if (square_sum) *square_sum = squares;
    return total;
  }

  void loss_gradient(Loss kind, const float* z, const float* t, int m, int d, float* grad) override {
    loss(kind, z, t, m, d, grad);
  }

  void link(Loss kind, const float* z, int m, int d, float* out) override {
    const size_t n = (size_t)m * d;
    switch (kind) {
      case Loss::HalfSquaredError: std::memcpy(out, z, n * sizeof(float)); break;
      case Loss::SigmoidCrossEntropy: for (size_t i = 0; i < n; ++i) out[i] = sigmoid(z[i]); break;
      case Loss::SoftmaxCrossEntropy:
        for (int i = 0; i < m; ++i) {
          const float* zi = z + (size_t)i * d;
          float* oi = out + (size_t)i * d;
          const float zmax = *std::max_element(zi, zi + d);
          double denom = 0;
          for (int j = 0; j < d; ++j) denom += std::exp((double)zi[j] - zmax);
          for (int j = 0; j < d; ++j) oi[j] = (float)(std::exp((double)zi[j] - zmax) / denom);
        }
        break;
    }
  }

  // The image ops work sample by sample: each thread takes a range of samples.
  void im2col(const PatchShape& shape, const float* x, int m, float* patches) override {
    const size_t row = (size_t)shape.locations() * (shape.patch_size() + 1);
    cpu::parallel_rows(m, row, threads(), [&](int b, int e) {
      cpu::im2col(shape, x + b * shape.in.size(), e - b, patches + b * row);
    });
  }
  void col2im(const PatchShape& shape, const float* dpatches, int ld, int m, float* dx) override {
    const size_t row = (size_t)shape.locations() * ld;
    cpu::parallel_rows(m, row, threads(), [&](int b, int e) {
      cpu::col2im(shape, dpatches + b * row, ld, e - b, dx + b * shape.in.size());
    });
  }
  bool direct_conv_forward(const PatchShape& shape, const float* x, int m, const float* w, int d, float* h) override {
    return cpu::onednn_conv_forward(shape, x, m, w, d, h, threads());
  }
  bool direct_conv_backward_data(const PatchShape& shape, const float* g, int m, const float* w, int d,
                                 float* dx) override {
    return cpu::onednn_conv_backward_data(shape, g, m, w, d, dx, threads());
  }
  bool direct_conv_backward_weights(const PatchShape& shape, const float* g, const float* x, int m, int d,
                                    float alpha, float* dw) override {
    return cpu::onednn_conv_backward_weights(shape, g, x, m, d, alpha, dw, threads());
  }
  void pool_forward(const PoolShape& shape, const float* x, int m, float* y, int ldy) override {
    cpu::parallel_rows(m, shape.in_size(), threads(), [&](int b, int e) {
      cpu::pool_forward(shape, x + b * shape.in_size(), e - b, y + (size_t)b * ldy, ldy);
    });
  }
  void pool_backward(const PoolShape& shape, const float* x, const float* dy, int lddy, int m, float* dx) override {
    cpu::parallel_rows(m, shape.in_size(), threads(), [&](int b, int e) {
      cpu::pool_backward(shape, x + b * shape.in_size(), dy + (size_t)b * lddy, lddy, e - b, dx + b * shape.in_size());
    });
  }
  // The token layers (cpu/token_ops.cc).
  void copy_rows(const float* src, int ld_src, float* dst, int ld_dst, size_t rows, int width) override {
    for (size_t r = 0; r < rows; ++r) std::copy(src + r * ld_src, src + r * ld_src + width, dst + r * ld_dst);
  }
  void add_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows, int width) override {
    for (size_t r = 0; r < rows; ++r)
      for (int c = 0; c < width; ++c) out[r * ldo + c] = a[r * lda + c] + b[r * ldb + c];
  }
  void multiply_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows,
                     int width) override {
    for (size_t r = 0; r < rows; ++r)
      for (int c = 0; c < width; ++c) out[r * ldo + c] = a[r * lda + c] * b[r * ldb + c];
  }
  int64_t first_bad_id(const float* ids, int rows, int cols, int ld, int classes) override {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        if (!valid_token_id(ids[(size_t)r * ld + c], classes)) return (int64_t)r * cols + c;
    return -1;
  }
  void one_hot(const float* ids, size_t count, int classes, float* out) override {
    std::fill(out, out + count * classes, 0.0f);
    for (size_t r = 0; r < count; ++r) out[r * classes + (size_t)ids[r]] = 1.0f;
  }
  void embedding_forward(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float* w, float* abar,
                         float* h, float* out, int ldo) override {
    cpu::embedding_forward(shape, ids, ld_ids, m, w, abar, h, out, ldo, threads());
  }
  void embedding_weight_gradient(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float*,
                                 const float* g, int ldg, float scale, float* weight_grad) override {
    cpu::embedding_weight_gradient(shape, ids, ld_ids, m, g, ldg, scale, weight_grad, threads());
  }
  void layer_norm_forward(const float* x, int ldx, int rows, int width, const float* w, float* xhat, float* inv_std,
                          float* y, int ldy) override {
    cpu::layer_norm_forward(x, ldx, rows, width, w, xhat, inv_std, y, ldy, threads());
  }
  void layer_norm_backward(const float* g, int ldg, const float* xhat, const float* inv_std, int rows, int width,
                           const float* w, int batch, float* weight_grad, float* dx, int lddx) override {
    cpu::layer_norm_backward(g, ldg, xhat, inv_std, rows, width, w, batch, weight_grad, dx, lddx, threads());
  }
  void attention_forward(const AttentionShape& shape, const float* qkv, int ld, int m, float* P, float* out,
                         int ldo) override {
    cpu::attention_forward(shape, qkv, ld, m, P, out, ldo, threads());
  }
  void attention_backward(const AttentionShape& shape, const float* qkv, int ld, const float* P, const float* dout,
                          int lddout, int m, float*, float* dqkv, int lddqkv) override {
    cpu::attention_backward(shape, qkv, ld, P, dout, lddout, m, dqkv, lddqkv, threads());
  }
  void dropout_mask(double rate, uint64_t seed, const float* counter, uint64_t first, size_t count,
                    float* mask) override {
    cpu::dropout_mask(rate, seed, load_counter(counter), first, count, mask);
  }
  void advance_counter(float* counter) override { store_counter(counter, load_counter(counter) + 1); }

  void column_mean(const float* a, int m, int cols, int ld, float* out) override {
    // (1/m) Aᵀ 1 as one threaded GEMV; the ones vector is kept and grown as needed.
    thread_local std::vector<float> ones;
    if ((int)ones.size() < m) ones.assign(m, 1.0f);
    cblas_sgemv(CblasRowMajor, CblasTrans, m, cols, 1.0f / m, a, ld, ones.data(), 1, 0.0f, out, 1);
  }
  double sum_squares(const float* x, size_t n) override { return dot(n, x, x); }
  double trace(const float* a, int n, int lda) override {
    double s = 0;
    for (int i = 0; i < n; ++i) s += a[(size_t)i * lda + i];
    return s;
  }
  int64_t first_non_finite(const float* x, size_t n) override {
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(x[i])) return (int64_t)i;
    return -1;
  }
  void mark_non_finite(const float* x, size_t n, float* flag) override {
    // NaN and ±Inf are the floats whose exponent bits are all ones; an integer OR over the array vectorizes.
    std::atomic<bool> found{false};
    cpu::parallel_elements(n, threads(), [&](size_t begin, size_t end) {
      uint32_t any = 0;
      for (size_t i = begin; i < end; ++i) {
        uint32_t bits;
        std::memcpy(&bits, x + i, sizeof bits);
        any |= (bits & 0x7f800000u) == 0x7f800000u;
      }
      if (any) found = true;
    });
    if (found) flag[0] = 1;
  }
  void add_diagonal(float* a, int n, int lda, float value) override {
    for (int i = 0; i < n; ++i) a[(size_t)i * lda + i] += value;
  }

  void add_diagonal_from(float* a, int n, int lda, const float* src, int stride) override {
    for (int i = 0; i < n; ++i) a[(size_t)i * lda + i] += src[(size_t)i * stride];
  }

  void sample_targets(Loss kind, const float* z, int m, int d, uint64_t seed, uint64_t first, float* out) override {
    const size_t n = (size_t)m * d;
    switch (kind) {
      case Loss::SigmoidCrossEntropy:
        for (size_t i = 0; i < n; ++i) out[i] = bernoulli_target(seed, first + i, sigmoid(z[i]));
        break;
      case Loss::HalfSquaredError:
        for (size_t i = 0; i < n; ++i) out[i] = normal_target(seed, first + i, z[i]);
        break;
      case Loss::SoftmaxCrossEntropy:
        link(kind, z, m, d, out);
        for (int r = 0; r < m; ++r) {  // inverse CDF with the row's first uniform
          float* p = out + (size_t)r * d;
          const int pick = categorical_target(p, d, uniform_at(seed, 2 * (first + (size_t)r * d)));
          std::fill(p, p + d, 0.0f);
          p[pick] = 1.0f;
        }
        break;
    }
  }

  void sampled_gradient(Loss kind, const float* z, int m, int d, uint64_t seed, uint64_t first, float* out,
                        float* grad) override {
    if (kind != Loss::SigmoidCrossEntropy) return Backend::sampled_gradient(kind, z, m, d, seed, first, out, grad);
    // One pass: sigmoid(z), the Bernoulli draw against it, and the gradient sigmoid(z) − t.
    // Draw i is the stream's element first + i whichever thread takes it.
    cpu::parallel_elements((size_t)m * d, threads(), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        const float p = sigmoid(z[i]);
        const float t = bernoulli_target(seed, first + i, p);
        out[i] = t;
        grad[i] = p - t;
      }
    });
  }

  void first_order_update(const FirstOrderUpdate& u, size_t n, float* theta, const float* grad, float* m,
                          float* v) override {
    // Plain variables, not a structured binding: a lambda may capture those only from C++20 (Clang 14 refuses).
    const BiasCorrections bias = bias_corrections(u);
    const float bias1 = bias.first, bias2 = bias.square;
    // One loop per method and protocol (first_order_range), each thread's blocks in turn.
    auto run = [&](auto range) {
      cpu::parallel_elements(n, threads(), [&](size_t begin, size_t end) { range(u, bias1, bias2, begin, end, theta, grad, m, v); });
    };
    using K = FirstOrderUpdate;
    switch (u.kind) {
      case K::Sgd: return u.paper ? run(first_order_range<true, K::Sgd>) : run(first_order_range<false, K::Sgd>);
      case K::Adam: return u.paper ? run(first_order_range<true, K::Adam>) : run(first_order_range<false, K::Adam>);
      case K::RmsProp:
        return u.paper ? run(first_order_range<true, K::RmsProp>) : run(first_order_range<false, K::RmsProp>);
    }
  }

  void gradient_momentum(size_t n, float rho, float tau, const float* theta, const float* grad, float* m) override {
    cpu::parallel_elements(n, threads(), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) m[i] = kb::gradient_momentum(rho, tau, theta[i], grad[i], m[i]);
    });
  }
  void running_mean_of_squares(size_t n, int j, float tau, const float* theta, const float* grad,
                               float* v) override {
    const float keep = (float)(j - 1) / j, add = 1.0f / j;
    for (size_t i = 0; i < n; ++i) v[i] = kb::running_mean_of_squares(keep, add, tau, theta[i], grad[i], v[i]);
  }

  void damp_pair(int d, float* s, float* y, const float* hy, double mu1, double mu2, float* gate,
                 float* counts) override {
    gate[0] = 1;
    const DampingStep powell = powell_step(dot(d, y, hy), dot(d, s, y), mu1);
    if (powell.degenerate) return;
    if (powell.apply) {
      axpby(d, (float)(1 - powell.theta), hy, (float)powell.theta, s);
      counts[0] += 1;
    }
    const DampingStep lm = lm_step(dot(d, s, s), dot(d, s, y), mu2);
    if (lm.degenerate) return;
    if (lm.apply) {
      axpby(d, (float)(1 - lm.theta), s, (float)lm.theta, y);
      counts[1] += 1;
    }
    gate[0] = 0;
  }
  void bfgs_update(int n, float* h, const float* s, const float* y, const float* hy, const float* ref, int ref_n,
                   double threshold, const float* gate, float* skipped) override {
    BfgsCoefficients c;
    if (!gate || gate[0] == 0)
      c = bfgs_coefficients(dot(n, s, y), dot(n, s, s), dot(n, y, hy), std::sqrt(dot(ref_n, ref, ref)), threshold);
    if (!c.apply) {
      skipped[0] += 1;
      return;
    }
    // H += c_ss s sᵀ − ρ (s (Hy)ᵀ + (Hy) sᵀ) in one pass over H (three rank-one updates would make three):
    // row i gains s_i u + (−ρ (Hy)_i) s with u = c_ss s − ρ Hy.
    thread_local std::vector<float> kept;  // kept between steps: no allocation per update
    kept.resize(n);
    float* u = kept.data();  // a plain pointer: the worker threads must see this thread's vector, not their own
    for (int j = 0; j < n; ++j) u[j] = (float)c.c_ss * s[j] - (float)c.rho * hy[j];
    const float minus_rho = (float)-c.rho;
    cpu::parallel_rows(n, n, threads(), [&](int begin, int end) {
      for (int i = begin; i < end; ++i) {
        float* row = h + (size_t)i * n;
        const float a = s[i], b = minus_rho * hy[i];
        for (int j = 0; j < n; ++j) row[j] += a * u[j] + b * s[j];
      }
    });
  }

  void lbfgs_append(int d, int memory, float* s_rows, float* y_rows, const float* s, const float* y, const float* ref,
                    int ref_n, double threshold, const float* gate, float* size, float* skipped) override {
    if ((gate && gate[0] != 0) || !lbfgs_keeps_pair(dot(d, s, s), dot(d, y, s), std::sqrt(dot(ref_n, ref, ref)), threshold)) {
      skipped[0] += 1;
      return;
    }
    int k = (int)size[0];
    if (k == memory) {  // drop the oldest pair
      std::memmove(s_rows, s_rows + d, (size_t)(memory - 1) * d * sizeof(float));
      std::memmove(y_rows, y_rows + d, (size_t)(memory - 1) * d * sizeof(float));
      --k;
    }
    std::copy(s, s + d, s_rows + (size_t)k * d);
    std::copy(y, y + d, y_rows + (size_t)k * d);
    size[0] = (float)(k + 1);
  }
  void pad_diagonal(float* a, int n, int lda, const float* count, float value) override {
    for (int i = std::max(0, (int)count[0]); i < n; ++i) a[(size_t)i * lda + i] = value;
  }

  void synchronize() override {}
  void set_threads(int threads) override { openblas_set_num_threads(threads); }
  int threads() const override { return openblas_get_num_threads(); }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace kb
