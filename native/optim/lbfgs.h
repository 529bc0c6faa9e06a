// The limited-memory inverse-Hessian operator of K-BFGS(L) (algorithm.md §4): at most p pairs (s_i, y_i), H₀ = γI
// with γ = 1 fixed, applied in the compact form of Byrd, Nocedal & Schnabel (1994):
//   H V = γV + S R⁻ᵀ [(D + γYᵀY) R⁻¹ SᵀV − γYᵀV] − γ Y R⁻¹ SᵀV,
// R the upper triangle of SᵀY and D its diagonal. Rows of S and Y hold the pairs (oldest first), so every
// product is a GEMM (about 4 p d n multiply-adds for a d x n right-hand side) plus two small triangular solves.
// The number of pairs held lives in backend memory. On a GPU every product runs over all p rows (a fixed
// shape): the rows not yet filled are zero, with 1 on the diagonals of R and C, so they add zeros and the result
// is that of the pairs held, and the GPU never waits to learn the size (a K-BFGS(L) step is recorded as a graph).
// A backend on host memory reads the size in place and runs the products over the pairs held, as before the
// fixed shape existed, so that its results keep their bits (over more rows, the BLAS may sum in another order).
#pragma once

#include <string>
#include <vector>

#include "../core/backend.h"
#include "../core/buffers.h"
#include "../core/optimizer.h"

namespace kb {

class LbfgsOperator {
 public:
  LbfgsOperator() = default;
  LbfgsOperator(const LbfgsOperator&) = delete;
  LbfgsOperator& operator=(const LbfgsOperator&) = delete;

  // d: vector size; memory: p; max_cols: the widest right-hand side apply() will get; fixed_shape: products
  // over all p rows (required where backend memory is not host memory).
  void init(Backend& be, int d, int memory, int max_cols, bool fixed_shape, float gamma = 1.0f);
  // What init allocates, in floats.
  static uint64_t floats(uint64_t d, uint64_t memory, uint64_t max_cols) { return memory * (2 * d + 2 * memory + 2 * max_cols) + 1; }
  int size() const;  // reads it from backend memory (checkpoints)
  int memory() const { return p_; }

  // Stores the pair, unless gate[0] != 0 (gate may be null), if sᵀs is finite and yᵀs > 1e-4 · sᵀs · ‖ref‖
  // (algorithm.md §4); drops the oldest when full. A pair not stored increments skipped[0]. Decided where the
  // vectors live (Backend::lbfgs_append).
  void append(const float* s, const float* y, const float* ref, int ref_n, const float* gate, float* skipped);
  // out = H v for a d x ncols row-major V (out must not alias v).
  void apply(const float* v, int ncols, float* out);

  // Checkpoints: the pairs and the factors built from them, and the number of pairs held.
  void state_buffers(std::vector<StateBuffer>& out, const std::string& prefix);
  void set_size(int k);

 private:
  void rebuild_factors();
  int rows() const { return fixed_shape_ ? p_ : (int)*size_; }  // the rows the products run over

  Backend* be_ = nullptr;
  OwnedBuffers owned_;
  int d_ = 0, p_ = 0, max_cols_ = 0;
  float* size_ = nullptr;  // the number of pairs held, in backend memory
  bool fixed_shape_ = true;
  float gamma_ = 1.0f;
  float *s_ = nullptr, *y_ = nullptr;          // p x d, pair i in row i
  float *sy_ = nullptr, *c_ = nullptr;         // p x p: SᵀY (R is its upper triangle), C = γYᵀY + D
  float *p1_ = nullptr, *p2_ = nullptr;       // p x max_cols scratch (SᵀV then Q; YᵀV then T, W)
};

}  // namespace kb
