#include "lbfgs.h"

#include <cmath>

#include "bfgs.h"

namespace kb {

void LbfgsOperator::init(Backend& be, int d, int memory, int max_cols, float gamma) {
  be_ = &be;
  d_ = d;
  p_ = memory;
  max_cols_ = max_cols;
  gamma_ = gamma;
  k_ = 0;
  owned_.bind(be);
  s_ = owned_.take((size_t)p_ * d_);
  y_ = owned_.take((size_t)p_ * d_);
  sy_ = owned_.take((size_t)p_ * p_);
  c_ = owned_.take((size_t)p_ * p_);
  p1_ = owned_.take((size_t)p_ * max_cols_);
  p2_ = owned_.take((size_t)p_ * max_cols_);
}

bool LbfgsOperator::append(const float* s, const float* y, double ref_norm) {
  const double ss = be_->dot(d_, s, s);
  const double ys = be_->dot(d_, y, s);
  if (!std::isfinite(ss) || !(ys > kBfgsSkipThreshold * ss * ref_norm)) return false;
  if (k_ == p_) {  // drop the oldest pair: shift the rows up by one
    be_->copy(s_, s_ + d_, (size_t)(p_ - 1) * d_);
    be_->copy(y_, y_ + d_, (size_t)(p_ - 1) * d_);
    --k_;
  }
  be_->copy(s_ + (size_t)k_ * d_, s, d_);
  be_->copy(y_ + (size_t)k_ * d_, y, d_);
  ++k_;
  rebuild_factors();
  return true;
}

void LbfgsOperator::state_buffers(std::vector<StateBuffer>& out, const std::string& prefix) {
  out.push_back({prefix + "S", s_, (size_t)p_ * d_});
  out.push_back({prefix + "Y", y_, (size_t)p_ * d_});
  out.push_back({prefix + "SY", sy_, (size_t)p_ * p_});
  out.push_back({prefix + "C", c_, (size_t)p_ * p_});
}

// SᵀY and C = γYᵀY + D, once per append: O(p² d) (algorithm.md §9).
void LbfgsOperator::rebuild_factors() {
  be_->gemm(false, true, k_, k_, d_, 1.0f, s_, d_, y_, d_, 0.0f, sy_, p_);
  be_->syrk(false, k_, d_, gamma_, y_, d_, 0.0f, c_, p_);
  be_->add_diagonal_from(c_, k_, p_, sy_, p_ + 1);
}

void LbfgsOperator::apply(const float* v, int ncols, float* out) {
  const size_t dn = (size_t)d_ * ncols;
  be_->copy(out, v, dn);
  if (gamma_ != 1.0f) be_->axpby(dn, 0.0f, v, gamma_, out);
  if (k_ == 0) return;
  const int k = k_;
  be_->gemm(false, false, k, ncols, d_, 1.0f, s_, d_, v, ncols, 0.0f, p1_, ncols);  // SᵀV
  be_->gemm(false, false, k, ncols, d_, 1.0f, y_, d_, v, ncols, 0.0f, p2_, ncols);  // YᵀV
  be_->trsm_upper(false, k, ncols, sy_, p_, p1_, ncols);                              // Q = R⁻¹ SᵀV
  be_->gemm(false, false, k, ncols, k, 1.0f, c_, p_, p1_, ncols, -gamma_, p2_, ncols);  // T = C Q − γ YᵀV
  be_->trsm_upper(true, k, ncols, sy_, p_, p2_, ncols);                               // W = R⁻ᵀ T
  be_->gemm(true, false, d_, ncols, k, 1.0f, s_, d_, p2_, ncols, 1.0f, out, ncols);     // + S W
  be_->gemm(true, false, d_, ncols, k, -gamma_, y_, d_, p1_, ncols, 1.0f, out, ncols);  // − γ Y Q
}

}  // namespace kb
