// The narrow compute interface every backend implements: the CPU on OpenBLAS (cpu/cpu_backend.cc) and CUDA
// (cuda/cuda_backend.cu).
//
// All matrices are row-major float32. Pointers handed to these calls are backend memory (host RAM for the
// CPU backend, device memory for a GPU backend); only to_device/to_host cross between host and backend.
// The engine (network.cc) and the optimizers (optim/) talk to the hardware through this interface alone.
// Tested op by op against naive loops in test/backend.test.ts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "../rules/image_geometry.h"
#include "../rules/kinds.h"
#include "../rules/rng.h"
#include "../rules/token_shapes.h"

namespace kb {

struct FirstOrderUpdate;  // the settings of one first-order update: rules/first_order_rule.h

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory -------------------------------------------------------------------------------------------
  virtual float* alloc(size_t count) = 0;  // zero-filled; throws std::bad_alloc on failure
  // Bytes a new allocation may still take (CPU: available RAM and swap within the address-space limit;
  // GPU: free device memory). Large requests are checked against it first (core/memory_check.h).
  virtual size_t available_bytes() = 0;
  virtual void release(float* p) = 0;
  virtual void to_device(float* dst, const float* host, size_t count) = 0;
  virtual void to_host(float* host, const float* src, size_t count) = 0;
  // Whether backend memory is host memory (the CPU backend): an engine that reads host memory then reads it in place.
  virtual bool host_memory() const { return false; }
  // The stream a GPU backend queues its work on (NCCL queues its collectives there), or null.
  virtual void* native_stream() { return nullptr; }
  virtual void copy(float* dst, const float* src, size_t count) = 0;  // the ranges may overlap
  virtual void fill(float* x, float value, size_t count) = 0;
  // A view of a host dataset that kernels can read. The CPU backend returns the host pointer (no copy);
  // a GPU backend uploads once per fit. release_dataset undoes it.
  virtual const float* stage_dataset(const float* host, size_t count) = 0;
  virtual void release_dataset(const float* staged) = 0;

  // ---- BLAS ---------------------------------------------------------------------------------------------
  // C = alpha * op(A) op(B) + beta * C, op(A) is m x k, op(B) is k x n.
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc) = 0;
  // C = alpha * op(A) op(A)^T + beta * C with C n x n; trans=true means op(A) = A^T (A is k x n).
  // Both triangles of C are written (the engine uses C in GEMMs afterwards).
  virtual void syrk(bool trans, int n, int k, float alpha, const float* a, int lda, float beta, float* c,
                    int ldc) = 0;
  // y = alpha * op(A) x + beta * y, A is m x n.
  virtual void gemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
                    float* y) = 0;
  // A += alpha * x y^T, A is m x n.
  virtual void ger(int m, int n, float alpha, const float* x, const float* y, float* a, int lda) = 0;
  // B = op(R)^{-1} B for an upper triangular k x k R (non-unit diagonal), B k x ncols.
  virtual void trsm_upper(bool trans, int k, int ncols, const float* r, int ldr, float* b, int ldb) = 0;
  virtual double dot(size_t n, const float* x, const float* y) = 0;   // accumulated in double
  virtual void axpby(size_t n, float alpha, const float* x, float beta, float* y) = 0;  // y = a x + b y

  // ---- LAPACK (symmetric positive definite) -------------------------------------------------------------
  // Each returns LAPACK's info: 0 on success, k > 0 when the leading minor of order k is not positive definite.
  virtual int potrf(int n, float* a, int lda) = 0;                 // in place, lower factor L with A = L L^T
  virtual int potri(int n, float* a, int lda) = 0;                 // from potrf's factor to the full inverse
  virtual int potrs(int n, int nrhs, const float* l, int lda, float* b, int ldb) = 0;  // solve A X = B, B n x nrhs
  // ---- LAPACK (symmetric eigendecomposition, algorithm.md §17.2) ----------------------------------------------
  // A = Eᵀ diag(w) E for the symmetric n x n A: on return row i of a is a unit eigenvector of A (its sign is
  // the solver's) for w[i], in ascending order (w: n floats of backend memory). Returns LAPACK's info: 0, or
  // > 0 when the iteration did not converge.
  virtual int symmetric_eigen(int n, float* a, int lda, float* w) = 0;

  // ---- engine helpers -----------------------------------------------------------------------------------
  // dst row i (cols floats, stride ld_dst) = src row rows[i] (stride cols); rows is a host array.
  virtual void gather_rows(float* dst, int ld_dst, const float* src, int cols, const uint32_t* rows,
                           int count) = 0;
  virtual void set_column(float* a, int rows, int ld, int col, float value) = 0;
  // out = phi(h), h is m x d (stride ldh), out stride ldo.
  virtual void activation_forward(Activation act, const float* h, int m, int d, int ldh, float* out,
                                  int ldo) = 0;
  // g *= phi'(h) element-wise (h and g are m x d, g stride ldg, h stride d).
  virtual void activation_backward(Activation act, const float* h, int m, int d, float* g, int ldg) = 0;
  // Returns the summed per-sample loss of the m x d logits z against targets t (double accumulation).
  // If grad is not null it receives the per-sample output gradient d loss_i / d z_i (algorithm.md §1: g = m * dL/dz);
  // if square_sum is not null, the sum of the squared per-sample losses (the divergence safeguard's noise, §11.2).
  virtual double loss(Loss loss, const float* z, const float* t, int m, int d, float* grad,
                      double* square_sum = nullptr) = 0;
  // The per-sample output gradient alone, as loss() writes it, without the summed loss (nothing to wait for).
  virtual void loss_gradient(Loss loss, const float* z, const float* t, int m, int d, float* grad) = 0;
  // Output-space prediction: sigmoid for SigmoidCrossEntropy, softmax for SoftmaxCrossEntropy, z otherwise.
  virtual void link(Loss loss, const float* z, int m, int d, float* out) = 0;
  // out[j] = mean over the m rows of A[:, j], A is m x cols with stride ld.
  virtual void column_mean(const float* a, int m, int cols, int ld, float* out) = 0;
  virtual double sum_squares(const float* x, size_t n) = 0;
  // Σ_i A[i][i] for i < n, accumulated in double in the order of i (KFAC's damping split, algorithm.md §5.2).
  virtual double trace(const float* a, int n, int lda) = 0;
  // Index of the first non-finite entry, or -1 if all are finite.
  virtual int64_t first_non_finite(const float* x, size_t n) = 0;
  // flag[0] = 1 if any entry is NaN or infinite, else flag[0] is left as it is; nothing is returned, so a GPU
  // backend does not wait (the numerical guards of optim/non_finite.h).
  virtual void mark_non_finite(const float* x, size_t n, float* flag) = 0;
  // A[i][i] += value for i < n.
  virtual void add_diagonal(float* a, int n, int lda, float value) = 0;
  // A[i][i] += src[i * stride] for i < n (e.g. the diagonal of another matrix with stride ld + 1).
  virtual void add_diagonal_from(float* a, int n, int lda, const float* src, int stride) = 0;
  // Targets drawn from the model's predictive distribution at logits z (KFAC's sampled Fisher, algorithm.md §5):
  // Bernoulli(sigmoid(z)), Normal(z, 1) or Categorical(softmax(z)). Element i uses the counter-based
  // uniforms uniform_at(seed, 2i) and uniform_at(seed, 2i+1) of rng.h, so every backend draws the same. The
  // elements are numbered from `first` (a rank's share of a batch draws what one process would, §13.1).
  virtual void sample_targets(Loss loss, const float* z, int m, int d, uint64_t seed, uint64_t first, float* out) = 0;
  // KFAC's sampled output gradient: targets drawn as sample_targets draws them (into out), then grad as
  // loss_gradient writes it against them. A backend may fuse the two passes; the results are the same.
  virtual void sampled_gradient(Loss loss, const float* z, int m, int d, uint64_t seed, uint64_t first, float* out,
                                float* grad) {
    sample_targets(loss, z, m, d, seed, first, out);
    loss_gradient(loss, z, out, m, d, grad);
  }
  // The same draw with its seed in backend memory: counter (2 floats, rules/rng.h's load_counter) holds c, the
  // draw uses the seed splitmix64_mix(c), then c becomes c + 1. Nothing crosses to the host, so a GPU backend
  // can record a step that draws (KFAC's, algorithm.md §5) and replay it with a new seed each time.
  virtual void sampled_gradient_counted(Loss loss, const float* z, int m, int d, float* counter, uint64_t first,
                                        float* out, float* grad) {
    float c[2];
    to_host(c, counter, 2);
    sampled_gradient(loss, z, m, d, splitmix64_mix(load_counter(c)), first, out, grad);
    store_counter(c, load_counter(c) + 1);
    to_device(counter, c, 2);
  }
  // ---- image layers (algorithm.md §12; the per-element rules are rules/image_rules.h) ------------------------
  // patches ((m·T) x (patch_size + 1), row i·T + t) = the kernel windows of the m images x, the homogeneous
  // coordinate last.
  virtual void im2col(const PatchShape& shape, const float* x, int m, float* patches) = 0;
  // dx (m images) = im2col's adjoint applied to dpatches ((m·T) x patch_size, row stride ld).
  virtual void col2im(const PatchShape& shape, const float* dpatches, int ld, int m, float* dx) = 0;
  // h ((m·T) x d) = P̄ Wᵀ for the m images x, dx = the input gradient at g, or dw (d x n) = α Gᵀ P̄ from g and
  // the images x, computed without patches by a library's direct kernel where one is loaded and chosen for this
  // shape (algorithm.md §12.7); false, with nothing written, where not: conv_passes.h then uses the patches.
  virtual bool direct_conv_forward(const PatchShape&, const float*, int, const float*, int, float*) { return false; }
  virtual bool direct_conv_backward_data(const PatchShape&, const float*, int, const float*, int, float*) { return false; }
  virtual bool direct_conv_backward_weights(const PatchShape&, const float*, const float*, int, int, float, float*) {
    return false;
  }
  // y row i (stride ldy) = image i of x pooled (copied for PoolKind::None).
  virtual void pool_forward(const PoolShape& shape, const float* x, int m, float* y, int ldy) = 0;
  // dx = pooling's adjoint at the inputs x applied to dy (row stride lddy).
  virtual void pool_backward(const PoolShape& shape, const float* x, const float* dy, int lddy, int m, float* dx) = 0;
  // ---- token layers (algorithm.md §18.9: the CPU's loops in cpu/token_ops.cc, the GPU's in cuda/token_kernels.cu) ---
  // Rows of floats: dst = src, out = a + b, out = a ⊙ b (rows x width, each with its own row stride).
  virtual void copy_rows(const float* src, int ld_src, float* dst, int ld_dst, size_t rows, int width) = 0;
  virtual void add_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows, int width) = 0;
  virtual void multiply_rows(const float* a, int lda, const float* b, int ldb, float* out, int ldo, size_t rows,
                             int width) = 0;
  // The index (r·cols + c) of the first of the rows x cols ids (row stride ld) that is not a whole number in
  // [0, classes), or -1. It returns a value, so a GPU backend waits: passes that may be recorded skip it.
  virtual int64_t first_bad_id(const float* ids, int rows, int cols, int ld, int classes) = 0;
  // out (count x classes) = the one-hot rows of the count ids (valid ones: first_bad_id checks them).
  virtual void one_hot(const float* ids, size_t count, int classes, float* out) = 0;
  // The embedding's forward (§18.1) over m samples of shape.tokens valid ids (row stride ld_ids): abar (rows of
  // shape.cols()) = the two-hot rows with the homogeneous 1, h (rows of shape.width) = W abar, out = h (stride ldo).
  virtual void embedding_forward(const EmbeddingShape& shape, const float* ids, int ld_ids, int m, const float* w,
                                 float* abar, float* h, float* out, int ldo) = 0;
  // weight_grad (W's layout) = scale Σ_rows g_r abar_rᵀ for the ids of embedding_forward and the gradient rows g
  // (stride ldg): the scatter-add of the token, position and bias columns.
  virtual void embedding_weight_gradient(const EmbeddingShape& shape, const float* ids, int ld_ids, int m,
                                         const float* abar, const float* g, int ldg, float scale,
                                         float* weight_grad) = 0;
  // Layer norm (§18.2) of rows x width values x (stride ldx) with W = [γ | β] (width x 2): xhat (rows x width)
  // and inv_std (rows) for backward, y = γ ⊙ x̂ + β (stride ldy).
  virtual void layer_norm_forward(const float* x, int ldx, int rows, int width, const float* w, float* xhat,
                                  float* inv_std, float* y, int ldy) = 0;
  // Its backward from g = ∂ℓ/∂y (stride ldg): weight_grad = [Σ g ⊙ x̂ | Σ g] / batch when not null, and dx
  // (stride lddx) when not null.
  virtual void layer_norm_backward(const float* g, int ldg, const float* xhat, const float* inv_std, int rows,
                                   int width, const float* w, int batch, float* weight_grad, float* dx, int lddx) = 0;
  // Causal attention (§18.4) of m samples: qkv has shape.tokens rows per sample of [q | k | v] (stride ld); P
  // (m x weights_per_sample(), sample-major then head) receives the softmax weights, out (stride ldo) the
  // shape.width() values per row.
  virtual void attention_forward(const AttentionShape& shape, const float* qkv, int ld, int m, float* P, float* out,
                                 int ldo) = 0;
  // Its backward from dout (stride lddout): dqkv (stride lddqkv) = ∂ℓ/∂[q | k | v]. scratch holds as many floats
  // as P (a GPU backend's ∂ℓ/∂P).
  virtual void attention_backward(const AttentionShape& shape, const float* qkv, int ld, const float* P,
                                  const float* dout, int lddout, int m, float* scratch, float* dqkv, int lddqkv) = 0;
  // A dropout mask (§18.5) of count values numbered from `first` within the whole batch: 0 with probability
  // rate, else 1/(1 − rate), drawn by uniform_at from the seed splitmix64_mix(seed + c·0x9E3779B97F4A7C15), c the
  // count of training passes in `counter` (2 floats, rng.h's load_counter). Nothing crosses to the host.
  virtual void dropout_mask(double rate, uint64_t seed, const float* counter, uint64_t first, size_t count,
                            float* mask) = 0;
  // counter (2 floats, rng.h) += 1, where it lives.
  virtual void advance_counter(float* counter) = 0;
  // theta, m, v are the flat parameter vector and its two optimizer buffers; grad is the data-loss gradient.
  virtual void first_order_update(const FirstOrderUpdate& u, size_t n, float* theta, const float* grad, float* m,
                                  float* v) = 0;
  // m = rho * m + (1 - rho) * (grad + tau * theta): the gradient momentum every method receives (algorithm.md §2 step 4).
  virtual void gradient_momentum(size_t n, float rho, float tau, const float* theta, const float* grad,
                                 float* m) = 0;
  // v = (j-1)/j * v + 1/j * (grad + tau*theta)^2: the running mean behind RMSprop's warm start (algorithm.md §6).
  virtual void running_mean_of_squares(size_t n, int j, float tau, const float* theta, const float* grad,
                                       float* v) = 0;

  // ---- curvature pairs (algorithm.md §3.4, §3.5): the rules of curvature_rules.h, decided where the vectors live ------
  // Double damping of the d-vectors (s, y) in place, given hy = H y: Powell on H with mu1, then Powell with
  // B = I with mu2. gate[0] becomes 1 if the pair is degenerate (no update may use it), else 0; counts[0] and
  // counts[1] are incremented for each Powell and LM step taken. hy is stale afterwards if y changed.
  virtual void damp_pair(int d, float* s, float* y, const float* hy, double mu1, double mu2, float* gate,
                         float* counts) = 0;
  // The guarded BFGS inverse update of the n x n matrix h with the pair (s, y) and hy = H y, ref_norm = ‖ref‖
  // (ref_n values), unless gate is given and gate[0] != 0; a pair not used increments skipped[0].
  virtual void bfgs_update(int n, float* h, const float* s, const float* y, const float* hy, const float* ref,
                           int ref_n, double threshold, const float* gate, float* skipped) = 0;

  // K-BFGS(L)'s memory (algorithm.md §4), its size kept in backend memory so that no step waits for it. Unless
  // gate is given and gate[0] != 0, the pair (s, y) of d-vectors is kept when lbfgs_keeps_pair (curvature_rules.h)
  // holds with ‖ref‖ (ref_n values): it becomes row size[0] of s_rows and y_rows (memory x d, oldest first), the
  // rows moving up by one to drop the oldest when size[0] == memory, and size[0] grows up to memory. A pair not
  // kept increments skipped[0].
  virtual void lbfgs_append(int d, int memory, float* s_rows, float* y_rows, const float* s, const float* y,
                            const float* ref, int ref_n, double threshold, const float* gate, float* size,
                            float* skipped) = 0;
  // A[i][i] = value for count[0] <= i < n (the unit diagonal of the memory's unused rows, optim/lbfgs.cc).
  virtual void pad_diagonal(float* a, int n, int lda, const float* count, float value) = 0;

  // Waits until the work queued so far has run (a no-op on the CPU, whose calls return when done).
  virtual void synchronize() = 0;
  // Runs enqueue(), which must queue the same work (same buffers, sizes and scalars) on every call with this
  // key and read nothing back to the host. A GPU backend may record it once and replay the recording on
  // later calls (a CUDA graph: one launch instead of hundreds); the CPU backend just runs it.
  virtual void run_recorded(uint64_t key, const std::function<void()>& enqueue) { enqueue(); }

  // ---- threads ------------------------------------------------------------------------------------------
  virtual void set_threads(int threads) = 0;
  virtual int threads() const = 0;
};

// The CPU backend (OpenBLAS). One per process; thread count is a process-wide OpenBLAS setting.
Backend& cpu_backend();

}  // namespace kb
