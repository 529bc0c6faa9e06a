// Inverse of a symmetric positive definite matrix through Cholesky (POTRF, POTRI). A factor that is not
// positive definite raises NotPositiveDefinite naming the layer and the factor, never a silent NaN.
#pragma once

#include <string>

#include "../core/backend.h"
#include "../core/errors.h"

namespace kb {

inline void spd_inverse(Backend& be, const float* a, float* inverse, int n, int layer, const char* factor) {
  be.copy(inverse, a, (size_t)n * n);
  int info = be.potrf(n, inverse, n);
  if (info == 0) info = be.potri(n, inverse, n);
  if (info != 0)
    throw Error(ErrorKind::NotPositiveDefinite, "layer " + std::to_string(layer) + ": factor " + factor +
                                                    " is not positive definite (Cholesky failed at minor " +
                                                    std::to_string(info) + ")");
  if (be.first_non_finite(inverse, (size_t)n * n) >= 0)
    throw Error(ErrorKind::Numerical, "layer " + std::to_string(layer) + ": the inverse of factor " + factor +
                                          " is not finite");
}

}  // namespace kb
