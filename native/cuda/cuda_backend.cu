// The CUDA Backend: cuBLAS for the BLAS calls, cuSOLVER for the Cholesky factor, own kernels for the rest
// (cuda_kernels.cu). One backend per model: its own stream, handles and scratch, so models on other threads
// never share a handle. Everything is enqueued on the stream; the host waits only where the interface returns
// a value (dot, loss, Cholesky info, first_non_finite) or hands data back (to_host).
//
// Row-major on cuBLAS's column-major: a row-major matrix is the column-major view of its transpose, so
// C = op(A) op(B) is computed as Cᵀ = op(B)ᵀ op(A)ᵀ, a symmetric row-major lower triangle is the
// column-major upper one, and the row-major triangular solves become right-side solves.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <unordered_map>

#include "../core/buffers.h"
#include "../core/devices.h"
#include "../core/errors.h"
#include "../core/names.h"
#include "../rules/first_order_rule.h"
#include "cuda_kernels.h"
#include "cuda_libraries.h"
#include "token_kernels.h"

namespace kb::cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(ErrorKind::Device, std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}
void check_library(int status, const char* what) {
  if (status != 0)
    throw Error(ErrorKind::Device, std::string(what) + " failed with status " + std::to_string(status));
}

// Bumped whenever device memory is freed: a recording that may point into freed memory is not replayed.
using MemoryGeneration = uint64_t;

// A device buffer that grows on demand (scratch space, index lists, partial sums).
template <typename T>
class Scratch {
 public:
  explicit Scratch(MemoryGeneration& generation) : generation_(generation) {}
  ~Scratch() { cudaFree(p_); }
  T* get(size_t count) {
    if (count > size_) {
      cudaDeviceSynchronize();  // queued work may still read the old buffer
      ++generation_;
      cudaFree(p_);
      p_ = nullptr;
      size_ = 0;
      check(cudaMalloc(&p_, std::max<size_t>(count, 1) * sizeof(T)), "scratch allocation");
      size_ = count;
    }
    return p_;
  }

 private:
  MemoryGeneration& generation_;
  T* p_ = nullptr;
  size_t size_ = 0;
};

bool graphs_enabled() {
  const char* v = std::getenv("KBFGS_CUDA_GRAPHS");
  return !(v && *v == '0');
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(bool tf32) : api_(api()) {
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_library(api_.blas_create(&blas_), "cublasCreate");
    check_library(api_.blas_set_stream(blas_, stream_), "cublasSetStream");
    check_library(api_.blas_set_math_mode(blas_, tf32 ? kTf32Math : kDefaultMath), "cublasSetMathMode");
    if (api_.blas_set_workspace) {  // a workspace of our own, so cuBLAS allocates nothing while a step is recorded
      check(cudaMalloc(&blas_workspace_, kBlasWorkspaceBytes), "cudaMalloc");
      check_library(api_.blas_set_workspace(blas_, blas_workspace_, kBlasWorkspaceBytes), "cublasSetWorkspace");
    }
    check_library(api_.solver_create(&solver_), "cusolverDnCreate");
    check_library(api_.solver_set_stream(solver_, stream_), "cusolverDnSetStream");
    check(cudaMallocHost(&host_double_, sizeof(double)), "cudaMallocHost");
    check(cudaMallocHost(&host_index_, sizeof(unsigned long long)), "cudaMallocHost");
    check(cudaMallocHost(&host_info_, sizeof(int)), "cudaMallocHost");
    for (IndexSlot& slot : index_slots_) check(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming), "event");
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (auto& [key, recording] : recordings_)
      if (recording.exec) cudaGraphExecDestroy(recording.exec);
    if (solver_) api_.solver_destroy(solver_);
    if (blas_) api_.blas_destroy(blas_);
    cudaFreeHost(host_double_);
    cudaFreeHost(host_index_);
    cudaFreeHost(host_info_);
    for (IndexSlot& slot : index_slots_) {
      cudaFreeHost(slot.host);
      cudaFree(slot.device);
      if (slot.done) cudaEventDestroy(slot.done);
    }
    cudaFree(blas_workspace_);
    cudaStreamDestroy(stream_);
  }

  const char* name() const override { return kCudaDevice; }

  // ---- memory ---------------------------------------------------------------------------------------------
  float* alloc(size_t count) override {
    float* p = nullptr;
    if (cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(float)) != cudaSuccess) {
      cudaGetLastError();
      throw std::bad_alloc();
    }
    check(cudaMemsetAsync(p, 0, count * sizeof(float), stream_), "cudaMemset");
    return p;
  }
  size_t available_bytes() override {
    size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    return free_bytes;
  }
  void release(float* p) override {
    cudaStreamSynchronize(stream_);
    ++memory_generation_;
    cudaFree(p);
  }
  void to_device(float* dst, const float* host, size_t n) override {
    check(cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, stream_), "copy to device");
    sync();
  }
  void to_host(float* host, const float* src, size_t n) override {
    check(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_), "copy to host");
    sync();
  }
  void copy(float* dst, const float* src, size_t n) override {
    if (dst == src || n == 0) return;
    const bool overlap = dst < src + n && src < dst + n;
    if (overlap) {  // memmove semantics through scratch (the L-BFGS history shift overlaps)
      float* tmp = scratch_.get(n);
      check(cudaMemcpyAsync(tmp, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
      src = tmp;
    }
    check(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void fill(float* x, float value, size_t n) override { launch_fill(stream_, x, value, n); }
  const float* stage_dataset(const float* host, size_t n) override {
    float* p = nullptr;
    if (cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)) != cudaSuccess) {
      cudaGetLastError();
      throw std::bad_alloc();
    }
    check(cudaMemcpyAsync(p, host, n * sizeof(float), cudaMemcpyHostToDevice, stream_), "dataset upload");
    sync();
    return p;
  }
  void release_dataset(const float* staged) override { release(const_cast<float*>(staged)); }

  // ---- BLAS -----------------------------------------------------------------------------------------------
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
            float beta, float* c, int ldc) override {
    if (m == 0 || n == 0) return;
    check_library(api_.sgemm(blas_, tb ? kTrans : kNoTrans, ta ? kTrans : kNoTrans, n, m, k, &alpha, b, ldb, a, lda,
                             &beta, c, ldc),
                  "cublasSgemm");
  }
  void syrk(bool trans, int n, int k, float alpha, const float* a, int lda, float beta, float* c,
            int ldc) override {
    if (n == 0) return;
    // As a full GEMM, then the lower triangle mirrored so C is exactly symmetric, as on the CPU: twice the
    // multiply-adds of SSYRK, yet K-BFGS on MNIST ran 7% faster per epoch on an H100 (bench/RESULTS.md).
    gemm(trans, !trans, n, n, k, alpha, a, lda, a, lda, beta, c, ldc);
    launch_mirror_lower(stream_, c, n, ldc);
  }
  void gemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
            float* y) override {
    if (m == 0 || n == 0) return;
    check_library(api_.sgemv(blas_, trans ? kNoTrans : kTrans, n, m, &alpha, a, lda, x, 1, &beta, y, 1),
                  "cublasSgemv");
  }
  void ger(int m, int n, float alpha, const float* x, const float* y, float* a, int lda) override {
    if (m == 0 || n == 0) return;
    check_library(api_.sger(blas_, n, m, &alpha, y, 1, x, 1, a, lda), "cublasSger");
  }
  void trsm_upper(bool trans, int k, int ncols, const float* r, int ldr, float* b, int ldb) override {
    if (k == 0 || ncols == 0) return;
    const float one = 1.0f;  // row-major op(R)⁻¹ B = column-major Bᵀ op(Rᵀ)⁻¹ with Rᵀ lower
    check_library(api_.strsm(blas_, kRight, kLower, trans ? kTrans : kNoTrans, kNonUnit, ncols, k, &one, r, ldr, b,
                             ldb),
                  "cublasStrsm");
  }
  double dot(size_t n, const float* x, const float* y) override {
    if (n == 0) return 0;
    double* out = reduce_out_.get(1);
    launch_dot(stream_, n, x, y, partials_.get(kReduceBlocks), out);
    return read_double(out);
  }
  void axpby(size_t n, float alpha, const float* x, float beta, float* y) override {
    launch_axpby(stream_, n, alpha, x, beta, y);
  }

  // ---- LAPACK ---------------------------------------------------------------------------------------------
  int potrf(int n, float* a, int lda) override {
    // Column-major 'U' (A = UᵀU) is the row-major lower factor L = Uᵀ, as in the CPU backend.
    int lwork = 0;
    check_library(api_.spotrf_buffer_size(solver_, kUpper, n, a, lda, &lwork), "cusolverDnSpotrf_bufferSize");
    int* info = info_.get(1);
    check_library(api_.spotrf(solver_, kUpper, n, a, lda, work_.get(std::max(lwork, 1)), lwork, info),
                  "cusolverDnSpotrf");
    return read_info(info);
  }
  int symmetric_eigen(int n, float* a, int lda, float* w) override {
    if (n == 0) return 0;
    // In float32 (SSYEVD), in place; the column-major eigenvectors are the rows of the row-major a.
    int lwork = 0;
    check_library(api_.ssyevd_buffer_size(solver_, kEigenvectors, kUpper, n, a, lda, w, &lwork),
                  "cusolverDnSsyevd_bufferSize");
    int* info = info_.get(1);
    check_library(api_.ssyevd(solver_, kEigenvectors, kUpper, n, a, lda, w, work_.get(std::max(lwork, 1)), lwork, info),
                  "cusolverDnSsyevd");
    return read_info(info);
  }
  int potri(int n, float* a, int lda) override {
    // The inverse as potrs against the identity: A X = I with the factor moved to scratch.
    float* factor = scratch_.get((size_t)n * lda);
    check(cudaMemcpyAsync(factor, a, (size_t)n * lda * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
    launch_identity(stream_, a, n, lda);
    int* info = info_.get(1);
    check_library(api_.spotrs(solver_, kUpper, n, n, factor, lda, a, lda, info), "cusolverDnSpotrs");
    const int status = read_info(info);
    if (status == 0) launch_mirror_lower(stream_, a, n, lda);  // exactly symmetric, like the CPU's
    return status;
  }
  int potrs(int n, int nrhs, const float* l, int lda, float* b, int ldb) override {
    if (n == 0 || nrhs == 0) return 0;
    // B ← L⁻ᵀ L⁻¹ B with the row-major lower L, i.e. right-side solves with the column-major upper Lᵀ.
    const float one = 1.0f;
    check_library(api_.strsm(blas_, kRight, kUpper, kNoTrans, kNonUnit, nrhs, n, &one, l, lda, b, ldb), "cublasStrsm");
    check_library(api_.strsm(blas_, kRight, kUpper, kTrans, kNonUnit, nrhs, n, &one, l, lda, b, ldb), "cublasStrsm");
    return 0;
  }

  // ---- engine helpers -------------------------------------------------------------------------------------
  void gather_rows(float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows, int count) override {
    if (count == 0) return;
    // The indices go up from a pinned slot: a copy from pageable memory would wait for the whole stream.
    IndexSlot& slot = index_slots_[next_slot_];
    next_slot_ = (next_slot_ + 1) % kIndexSlots;
    check(cudaEventSynchronize(slot.done), "event synchronize");  // its last use is normally long finished
    if ((size_t)count > slot.capacity) {
      cudaFreeHost(slot.host);
      cudaFree(slot.device);
      slot.host = nullptr;
      slot.device = nullptr;
      slot.capacity = 0;
      check(cudaMallocHost(&slot.host, count * sizeof(uint32_t)), "cudaMallocHost");
      check(cudaMalloc(&slot.device, count * sizeof(uint32_t)), "cudaMalloc");
      slot.capacity = count;
    }
    std::copy(rows, rows + count, slot.host);
    check(cudaMemcpyAsync(slot.device, slot.host, (size_t)count * sizeof(uint32_t), cudaMemcpyHostToDevice, stream_),
          "row indices upload");
    launch_gather_rows(stream_, dst, ld_dst, src, cols, slot.device, count);
    check(cudaEventRecord(slot.done, stream_), "event record");
  }
  void set_column(float* a, int rows, int ld, int col, float value) override {
    launch_set_column(stream_, a, rows, ld, col, value);
  }
  void activation_forward(Activation act, const float* h, int m, int d, int ldh, float* out, int ldo) override {
    launch_activation_forward(stream_, act, h, m, d, ldh, out, ldo);
  }
  void activation_backward(Activation act, const float* h, int m, int d, float* g, int ldg) override {
    launch_activation_backward(stream_, act, h, m, d, g, ldg);
  }
  double loss(Loss kind, const float* z, const float* t, int m, int d, float* grad,
              double* square_sum = nullptr) override {
    if (square_sum) *square_sum = 0;
    if (m == 0) return 0;
    double* rows = row_totals_.get(m);
    launch_row_losses(stream_, kind, z, t, m, d, grad, rows);
    double* out = reduce_out_.get(2);
    launch_sum(stream_, rows, m, out, square_sum ? out + 1 : nullptr);
    if (square_sum) *square_sum = read_double(out + 1);
    return read_double(out);
  }
  void loss_gradient(Loss kind, const float* z, const float* t, int m, int d, float* grad) override {
    if (m > 0) launch_row_losses(stream_, kind, z, t, m, d, grad, row_totals_.get(m));
  }
  void link(Loss kind, const float* z, int m, int d, float* out) override { launch_link(stream_, kind, z, m, d, out); }
  void im2col(const PatchShape& shape, const float* x, int m, float* patches) override {
    if (m > 0) launch_im2col(stream_, shape, x, m, patches);
  }
  void col2im(const PatchShape& shape, const float* dpatches, int ld, int m, float* dx) override {
    if (m > 0) launch_col2im(stream_, shape, dpatches, ld, m, dx);
  }
  void pool_forward(const PoolShape& shape, const float* x, int m, float* y, int ldy) override {
    if (m > 0) launch_pool_forward(stream_, shape, x, m, y, ldy);
  }
  void pool_backward(const PoolShape& shape, const float* x, const float* dy, int lddy, int m, float* dx) override {
    if (m > 0) launch_pool_backward(stream_, shape, x, dy, lddy, m, dx);
  }
  void column_mean(const float* a, int m, int cols, int ld, float* out) override {
    if (m == 0 || cols == 0) return;
    float* ones = ones_for(m);  // (1/m) Aᵀ 1 as one GEMV, as on the CPU
    const float alpha = 1.0f / m, beta = 0.0f;
    check_library(api_.sgemv(blas_, kNoTrans, cols, m, &alpha, a, ld, ones, 1, &beta, out, 1), "cublasSgemv");
  }
  double sum_squares(const float* x, size_t n) override { return dot(n, x, x); }
  double trace(const float* a, int n, int lda) override {
    if (n == 0) return 0;
    double* out = reduce_out_.get(1);
    launch_trace(stream_, a, n, lda, out);
    return read_double(out);
  }
  int64_t first_non_finite(const float* x, size_t n) override {
    if (n == 0) return -1;
    unsigned long long* out = index_.get(1);
    check(cudaMemsetAsync(out, 0xFF, sizeof(unsigned long long), stream_), "cudaMemset");
    launch_first_non_finite(stream_, x, n, out);
    return read_index(out);
  }
  void mark_non_finite(const float* x, size_t n, float* flag) override { launch_mark_non_finite(stream_, x, n, flag); }
  void add_diagonal(float* a, int n, int lda, float value) override { launch_add_diagonal(stream_, a, n, lda, value); }
  void add_diagonal_from(float* a, int n, int lda, const float* src, int stride) override {
    launch_add_diagonal_from(stream_, a, n, lda, src, stride);
  }
  void sample_targets(Loss kind, const float* z, int m, int d, uint64_t seed, uint64_t first, float* out) override {
    launch_sample_targets(stream_, kind, z, m, d, seed, nullptr, first, out);
  }
  void sampled_gradient_counted(Loss kind, const float* z, int m, int d, float* counter, uint64_t first, float* out,
                                float* grad) override {
    launch_sample_targets(stream_, kind, z, m, d, 0, counter, first, out);
    loss_gradient(kind, z, out, m, d, grad);
    launch_advance_counter(stream_, counter);
  }
  // ---- token layers (token_kernels.cu; attention's products as strided-batched GEMMs) ------------------------
  void copy_rows(const float* src, int ld_src, float* dst, int ld_dst, size_t rows, int width) override {
    launch_row_op(stream_, RowOp::Copy, src, ld_src, nullptr, 0, dst, ld_dst, rows, width);
  }
  void add_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows, int width) override {
    launch_row_op(stream_, RowOp::Add, a, lda, b, ldb, out, ldo, rows, width);
  }
  void multiply_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows,
                     int width) override {
    launch_row_op(stream_, RowOp::Multiply, a, lda, b, ldb, out, ldo, rows, width);
  }
  int64_t first_bad_id(const float* ids, int rows, int cols, int ld, int classes) override {
    if (rows <= 0 || cols <= 0) return -1;
    unsigned long long* out = index_.get(1);
    check(cudaMemsetAsync(out, 0xFF, sizeof(unsigned long long), stream_), "cudaMemset");
    launch_first_bad_id(stream_, ids, rows, cols, ld, classes, out);
    return read_index(out);
  }
  void one_hot(const float* ids, size_t count, int classes, float* out) override {
    launch_one_hot(stream_, ids, count, classes, out);
  }
  void embedding_forward(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float* w, float* abar,
                         float* h, float* out, int ldo) override {
    launch_embedding_forward(stream_, shape, ids, ld_ids, m, w, abar, h, out, ldo);
  }
  // The scatter-add as one GEMM, scale gᵀ ā over the token rows: the two-hot rows pick W's columns, and the sums
  // run in one order on every call (atomic adds would not).
  void embedding_weight_gradient(const EmbeddingShape& shape, const float*, int, int m, const float* abar,
                                 const float* g, int ldg, float scale, float* weight_grad) override {
    gemm(true, false, shape.width, shape.cols(), m * shape.tokens, scale, g, ldg, abar, shape.cols(), 0.0f,
         weight_grad, shape.cols());
  }
  void layer_norm_forward(const float* x, int ldx, int rows, int width, const float* w, float* xhat, float* inv_std,
                          float* y, int ldy) override {
    launch_layer_norm_forward(stream_, x, ldx, rows, width, w, xhat, inv_std, y, ldy);
  }
  void layer_norm_backward(const float* g, int ldg, const float* xhat, const float* inv_std, int rows, int width,
                           const float* w, int batch, float* weight_grad, float* dx, int lddx) override {
    launch_layer_norm_backward(stream_, g, ldg, xhat, inv_std, rows, width, w, batch, weight_grad, dx, lddx);
  }
  // Per head h, over the m samples as one strided batch: S = QₕKₕᵀ/√dh into P, the causal softmax of its rows, then
  // out_h = P Vₕ. The masked entries of P are 0, so the full products equal the masked sums.
  void attention_forward(const AttentionShape& s, const float* qkv, int ld, int m, float* P, float* out,
                         int ldo) override {
    if (m == 0) return;
    const int T = s.tokens, dh = s.head_width, w = s.width();
    const long long sample = (long long)T * ld, weights = s.weights_per_sample();
    for (int h = 0; h < s.heads; ++h) {
      float* Ph = P + (size_t)h * T * T;
      const float* q = qkv + h * dh;
      batched_gemm(false, true, T, T, dh, 1.0f / std::sqrt((float)dh), q, ld, sample, q + w, ld, sample, 0.0f, Ph, T,
                   weights, m);
    }
    launch_causal_softmax(stream_, m * s.heads * T, T, P);
    for (int h = 0; h < s.heads; ++h)
      batched_gemm(false, false, T, dh, T, 1.0f, P + (size_t)h * T * T, T, weights, qkv + 2 * w + h * dh, ld, sample,
                   0.0f, out + h * dh, ldo, (long long)T * ldo, m);
  }
  // dVₕ = Pᵀ dOₕ, dP = dOₕ Vₕᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √dh (in scratch), dQₕ = dS Kₕ, dKₕ = dSᵀ Qₕ (§18.4).
  void attention_backward(const AttentionShape& s, const float* qkv, int ld, const float* P, const float* dout,
                          int lddout, int m, float* scratch, float* dqkv, int lddqkv) override {
    if (m == 0) return;
    const int T = s.tokens, dh = s.head_width, w = s.width();
    const long long sample = (long long)T * ld, grad_sample = (long long)T * lddqkv, out_sample = (long long)T * lddout;
    const long long weights = s.weights_per_sample();
    const float scale = 1.0f / std::sqrt((float)dh);
    for (int h = 0; h < s.heads; ++h) {
      const float* Ph = P + (size_t)h * T * T;
      const float* d_out = dout + h * dh;
      batched_gemm(true, false, T, dh, T, 1.0f, Ph, T, weights, d_out, lddout, out_sample, 0.0f, dqkv + 2 * w + h * dh,
                   lddqkv, grad_sample, m);
      batched_gemm(false, true, T, T, dh, 1.0f, d_out, lddout, out_sample, qkv + 2 * w + h * dh, ld, sample, 0.0f,
                   scratch + (size_t)h * T * T, T, weights, m);
    }
    launch_causal_softmax_backward(stream_, m * s.heads * T, T, scale, P, scratch);
    for (int h = 0; h < s.heads; ++h) {
      const float* dS = scratch + (size_t)h * T * T;
      const float* q = qkv + h * dh;
      batched_gemm(false, false, T, dh, T, 1.0f, dS, T, weights, q + w, ld, sample, 0.0f, dqkv + h * dh, lddqkv,
                   grad_sample, m);
      batched_gemm(true, false, T, dh, T, 1.0f, dS, T, weights, q, ld, sample, 0.0f, dqkv + w + h * dh, lddqkv,
                   grad_sample, m);
    }
  }
  void dropout_mask(double rate, uint64_t seed, const float* counter, uint64_t first, size_t count,
                    float* mask) override {
    launch_dropout_mask(stream_, rate, seed, counter, first, count, mask);
  }
  void advance_counter(float* counter) override { launch_advance_counter(stream_, counter); }

  void first_order_update(const FirstOrderUpdate& u, size_t n, float* theta, const float* grad, float* m,
                          float* v) override {
    const auto [bias1, bias2] = bias_corrections(u);  // on the host, exactly as the CPU backend
    launch_first_order_update(stream_, u, bias1, bias2, n, theta, grad, m, v);
  }
  void gradient_momentum(size_t n, float rho, float tau, const float* theta, const float* grad, float* m) override {
    launch_gradient_momentum(stream_, n, rho, tau, theta, grad, m);
  }
  void running_mean_of_squares(size_t n, int j, float tau, const float* theta, const float* grad,
                               float* v) override {
    launch_running_mean_of_squares(stream_, n, j, tau, theta, grad, v);
  }

  void damp_pair(int d, float* s, float* y, const float* hy, double mu1, double mu2, float* gate,
                 float* counts) override {
    launch_damp_pair(stream_, d, s, y, hy, mu1, mu2, gate, counts);
  }
  void bfgs_update(int n, float* h, const float* s, const float* y, const float* hy, const float* ref, int ref_n,
                   double threshold, const float* gate, float* skipped) override {
    launch_bfgs_update(stream_, n, h, s, y, hy, ref, ref_n, threshold, gate, skipped, coefficients_.get(3));
  }

  void lbfgs_append(int d, int memory, float* s_rows, float* y_rows, const float* s, const float* y, const float* ref,
                    int ref_n, double threshold, const float* gate, float* size, float* skipped) override {
    launch_lbfgs_append(stream_, d, memory, s_rows, y_rows, s, y, ref, ref_n, threshold, gate, size, skipped);
  }
  void pad_diagonal(float* a, int n, int lda, const float* count, float value) override {
    launch_pad_diagonal(stream_, a, n, lda, count, value);
  }

  void synchronize() override { sync(); }
  void* native_stream() override { return stream_; }

  // The first call runs enqueue directly (buffers settle), the second records it into a CUDA graph while
  // running it, later calls replay the graph. Freed memory invalidates recordings. If a library refuses
  // stream capture, recording is switched off for this backend and the work runs directly.
  void run_recorded(uint64_t key, const std::function<void()>& enqueue) override {
    if (!recording_allowed_ || phases_synchronized()) return enqueue();
    Recording& r = recordings_[key];
    if (r.generation != memory_generation_) {
      if (r.exec) cudaGraphExecDestroy(r.exec);
      r = Recording{};
    }
    if (r.exec) {
      check(cudaGraphLaunch(r.exec, stream_), "graph launch");
      return;
    }
    if (!r.seen) {
      enqueue();
      r.seen = true;
      r.generation = memory_generation_;
      return;
    }
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "begin capture");
    bool queued = true;
    try {
      enqueue();
    } catch (const Error&) {
      queued = false;
    }
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    cudaGraphExec_t exec = nullptr;
    const bool recorded = queued && ended == cudaSuccess && graph && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (graph) cudaGraphDestroy(graph);
    if (recorded) {
      r.exec = exec;
      check(cudaGraphLaunch(exec, stream_), "graph launch");
      return;
    }
    cudaGetLastError();
    recording_allowed_ = false;  // nothing of the capture ran: run the work directly, now and from now on
    enqueue();
  }
  void set_threads(int) override {}
  int threads() const override { return 1; }

 private:
  void sync() { check(cudaStreamSynchronize(stream_), "stream synchronize"); }
  // The index a search kernel left at device (UINT64_MAX: none found) as -1 or the index; waits for it.
  int64_t read_index(const unsigned long long* device) {
    check(cudaMemcpyAsync(host_index_, device, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream_), "copy");
    sync();
    return *host_index_ == ~0ull ? -1 : (int64_t)*host_index_;
  }
  // Row-major C = alpha op(A) op(B) + beta C for `batch` products, each operand advancing by its stride: as gemm
  // does, the column-major Cᵀ = op(B)ᵀ op(A)ᵀ.
  void batched_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, long long stride_a,
                    const float* b, int ldb, long long stride_b, float beta, float* c, int ldc, long long stride_c,
                    int batch) {
    if (m == 0 || n == 0 || batch == 0) return;
    check_library(api_.sgemm_strided_batched(blas_, tb ? kTrans : kNoTrans, ta ? kTrans : kNoTrans, n, m, k, &alpha, b,
                                             ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, batch),
                  "cublasSgemmStridedBatched");
  }
  double read_double(const double* device) {
    check(cudaMemcpyAsync(host_double_, device, sizeof(double), cudaMemcpyDeviceToHost, stream_), "copy");
    sync();
    return *host_double_;
  }
  int read_info(const int* device) {
    check(cudaMemcpyAsync(host_info_, device, sizeof(int), cudaMemcpyDeviceToHost, stream_), "copy");
    sync();
    return *host_info_;
  }
  float* ones_for(int m) {
    if (m > ones_count_) {
      ones_ = ones_store_.get(m);
      launch_fill(stream_, ones_, 1.0f, m);
      ones_count_ = m;
    }
    return ones_;
  }

  const Api& api_;
  cudaStream_t stream_ = nullptr;
  BlasHandle blas_ = nullptr;
  SolverHandle solver_ = nullptr;
  double* host_double_ = nullptr;           // pinned: the scalar results read back
  unsigned long long* host_index_ = nullptr;
  int* host_info_ = nullptr;
  MemoryGeneration memory_generation_ = 0;
  Scratch<float> scratch_{memory_generation_}, work_{memory_generation_}, ones_store_{memory_generation_},
      coefficients_{memory_generation_};
  Scratch<double> partials_{memory_generation_}, row_totals_{memory_generation_}, reduce_out_{memory_generation_};
  Scratch<unsigned long long> index_{memory_generation_};
  Scratch<int> info_{memory_generation_};
  struct Recording {
    bool seen = false;
    MemoryGeneration generation = 0;
    cudaGraphExec_t exec = nullptr;
  };
  std::unordered_map<uint64_t, Recording> recordings_;
  bool recording_allowed_ = graphs_enabled();
  static constexpr size_t kBlasWorkspaceBytes = 32u << 20;  // cuBLAS's recommendation for Hopper
  void* blas_workspace_ = nullptr;
  struct IndexSlot {
    uint32_t* host = nullptr;  // pinned
    uint32_t* device = nullptr;
    size_t capacity = 0;
    cudaEvent_t done = nullptr;  // recorded after the gather that last used the slot
  };
  static constexpr int kIndexSlots = 4;
  IndexSlot index_slots_[kIndexSlots];
  int next_slot_ = 0;
  float* ones_ = nullptr;
  int ones_count_ = 0;
};

}  // namespace
}  // namespace kb::cuda

namespace kb {
std::unique_ptr<Backend> make_cuda_backend(bool tf32) {
  if (!cuda::load({}).available)
    throw Error(ErrorKind::Device, "CUDA is not available: " + cuda::load({}).reason);
  return std::make_unique<cuda::CudaBackend>(tf32);
}
}  // namespace kb
