#include "lbfgs.h"

#include <cmath>

#include "../core/errors.h"
#include "bfgs.h"

namespace kb {

void LbfgsOperator::init(Backend& be, int d, int memory, int max_cols, bool fixed_shape, float gamma) {
  if (!fixed_shape && !be.host_memory()) throw Error(ErrorKind::Internal, "an L-BFGS memory off the host needs the fixed shape");
  be_ = &be;
  fixed_shape_ = fixed_shape;
  d_ = d;
  p_ = memory;
  max_cols_ = max_cols;
  gamma_ = gamma;
  owned_.bind(be);
  s_ = owned_.take((size_t)p_ * d_);
  y_ = owned_.take((size_t)p_ * d_);
  sy_ = owned_.take((size_t)p_ * p_);
  c_ = owned_.take((size_t)p_ * p_);
  p1_ = owned_.take((size_t)p_ * max_cols_);
  p2_ = owned_.take((size_t)p_ * max_cols_);
  size_ = owned_.take(1);
  rebuild_factors();
}

void LbfgsOperator::append(const float* s, const float* y, const float* ref, int ref_n, const float* gate,
                           float* skipped) {
  be_->lbfgs_append(d_, p_, s_, y_, s, y, ref, ref_n, kBfgsSkipThreshold, gate, size_, skipped);
  rebuild_factors();
}

int LbfgsOperator::size() const {
  float k = 0;
  be_->to_host(&k, size_, 1);
  return (int)k;
}

// A checkpoint's size, after its S, Y, SY and C: the unused rows' unit diagonals (a checkpoint written before
// they were kept lacks them).
void LbfgsOperator::set_size(int k) {
  const float size = (float)(k < 0 ? 0 : (k > p_ ? p_ : k));
  be_->to_device(size_, &size, 1);
  be_->pad_diagonal(sy_, p_, p_, size_, 1.0f);
  be_->pad_diagonal(c_, p_, p_, size_, 1.0f);
}

void LbfgsOperator::state_buffers(std::vector<StateBuffer>& out, const std::string& prefix) {
  out.push_back({prefix + "S", s_, (size_t)p_ * d_});
  out.push_back({prefix + "Y", y_, (size_t)p_ * d_});
  out.push_back({prefix + "SY", sy_, (size_t)p_ * p_});
  out.push_back({prefix + "C", c_, (size_t)p_ * p_});
}

// SᵀY and C = γYᵀY + D, after every append: O(p² d) (algorithm.md §9). The unused rows of S and Y are zero;
// their diagonal entries of R and C are 1 (on either shape, so checkpoints are alike), so R stays invertible
// and they stay out of H V.
void LbfgsOperator::rebuild_factors() {
  const int k = rows();
  be_->gemm(false, true, k, k, d_, 1.0f, s_, d_, y_, d_, 0.0f, sy_, p_);
  be_->pad_diagonal(sy_, p_, p_, size_, 1.0f);
  be_->syrk(false, k, d_, gamma_, y_, d_, 0.0f, c_, p_);
  be_->add_diagonal_from(c_, k, p_, sy_, p_ + 1);
  be_->pad_diagonal(c_, p_, p_, size_, 1.0f);
}

void LbfgsOperator::apply(const float* v, int ncols, float* out) {
  const size_t dn = (size_t)d_ * ncols;
  be_->copy(out, v, dn);
  if (gamma_ != 1.0f) be_->axpby(dn, 0.0f, v, gamma_, out);
  const int k = rows();
  if (k == 0) return;
  be_->gemm(false, false, k, ncols, d_, 1.0f, s_, d_, v, ncols, 0.0f, p1_, ncols);  // SᵀV
  be_->gemm(false, false, k, ncols, d_, 1.0f, y_, d_, v, ncols, 0.0f, p2_, ncols);  // YᵀV
  be_->trsm_upper(false, k, ncols, sy_, p_, p1_, ncols);                              // Q = R⁻¹ SᵀV
  be_->gemm(false, false, k, ncols, k, 1.0f, c_, p_, p1_, ncols, -gamma_, p2_, ncols);  // T = C Q − γ YᵀV
  be_->trsm_upper(true, k, ncols, sy_, p_, p2_, ncols);                               // W = R⁻ᵀ T
  be_->gemm(true, false, d_, ncols, k, 1.0f, s_, d_, p2_, ncols, 1.0f, out, ncols);     // + S W
  be_->gemm(true, false, d_, ncols, k, -gamma_, y_, d_, p1_, ncols, 1.0f, out, ncols);  // − γ Y Q
}

}  // namespace kb
