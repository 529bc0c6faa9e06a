// The limited-memory inverse-Hessian operator of K-BFGS(L) (algorithm.md §4): at most p pairs (s_i, y_i), H₀ = γI
// with γ = 1 fixed, applied in the compact form of Byrd, Nocedal & Schnabel (1994):
//   H V = γV + S R⁻ᵀ [(D + γYᵀY) R⁻¹ SᵀV − γYᵀV] − γ Y R⁻¹ SᵀV,
// R the upper triangle of SᵀY and D its diagonal. Rows of S and Y hold the pairs (oldest first), so every
// product is a GEMM (about 4 p d n multiply-adds for a d x n right-hand side) plus two small triangular solves.
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

  // d: vector size; memory: p; max_cols: the widest right-hand side apply() will get.
  void init(Backend& be, int d, int memory, int max_cols, float gamma = 1.0f);
  // What init allocates, in floats.
  static uint64_t floats(uint64_t d, uint64_t memory, uint64_t max_cols) { return memory * (2 * d + 2 * memory + 2 * max_cols); }
  int size() const { return k_; }
  int memory() const { return p_; }

  // Stores the pair if sᵀs is finite and yᵀs > 1e-4 · sᵀs · ref_norm (algorithm.md §4); drops the oldest when full.
  bool append(const float* s, const float* y, double ref_norm);
  // out = H v for a d x ncols row-major V (out must not alias v).
  void apply(const float* v, int ncols, float* out);

  // Checkpoints: the pairs and the factors built from them, and the number of pairs held.
  void state_buffers(std::vector<StateBuffer>& out, const std::string& prefix);
  void set_size(int k) { k_ = k < 0 ? 0 : (k > p_ ? p_ : k); }

 private:
  void rebuild_factors();

  Backend* be_ = nullptr;
  OwnedBuffers owned_;
  int d_ = 0, p_ = 0, k_ = 0, max_cols_ = 0;
  float gamma_ = 1.0f;
  float *s_ = nullptr, *y_ = nullptr;          // p x d, pair i in row i
  float *sy_ = nullptr, *c_ = nullptr;         // p x p: SᵀY (R is its upper triangle), C = γYᵀY + D
  float *p1_ = nullptr, *p2_ = nullptr;       // p x max_cols scratch (SᵀV then Q; YᵀV then T, W)
};

}  // namespace kb
