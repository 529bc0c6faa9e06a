// What Shampoo and SOAP share (algorithm.md §17): per layer the two Kronecker statistics of the gradient
// matrix G (d x n), L = E[G Gᵀ] and R = E[Gᵀ G] as moving averages, each kept only where its side is at most
// maxPrecondDim long (a longer side is left unpreconditioned, §17.1); the schedule of their eigendecompositions;
// the settings both read; and the products X ↦ left · X · right with an identity side skipped.
#pragma once

#include <string>
#include <vector>

#include "../core/backend.h"
#include "../core/buffers.h"
#include "../core/memory_check.h"
#include "../core/network.h"
#include "second_order.h"

namespace kb {

// λ: Shampoo's ε relative to the largest eigenvalue (§17.2), SOAP's ε of the Adam denominator (§17.3).
// momentum: β₁ of the first moment.
struct KroneckerSettings : SecondOrderSettings {
  float beta2 = 0.999f;             // decay of L, R and of the second moment
  float epsilon = 1e-8f;            // Shampoo: ε of the Adam step it grafts onto
  int precond_every = 20;           // eigendecompositions at k = start, start + every, ...
  int start_preconditioning = 20;   // the steps before run the plain Adam step
  int max_precond_dim = 1024;       // a longer side is not preconditioned
  // Whether step k computes new eigendecompositions (§17.1).
  bool refresh_due(int64_t k) const {
    return k >= start_preconditioning && (k - start_preconditioning) % precond_every == 0;
  }
};

// One side of a layer: its statistic and what the method derives from it (Shampoo: the inverse root, SOAP:
// the eigenvectors as rows); both null on a side that is not preconditioned.
struct KroneckerSide {
  int dim = 0;
  float* statistic = nullptr;
  float* transform = nullptr;
  bool preconditioned() const { return statistic != nullptr; }
};

struct KroneckerLayer {
  int d = 0, n = 0;
  KroneckerSide left, right;  // L (d x d) and R (n x n)
};

class KroneckerStatistics {
 public:
  // Takes the statistics and transforms from owned, after a memory check naming `owner`; `per_side` extra
  // floats per preconditioned side's dim² go with each (the methods' scratch is counted by them).
  void attach(Network& net, OwnedBuffers& owned, int max_precond_dim, const std::string& owner,
              const std::vector<MemoryPart>& method_parts);
  // L ← β L + (1 − β) G Gᵀ and R ← β R + (1 − β) Gᵀ G for every layer, G from the flat gradient g.
  void accumulate(const Network& net, const float* g, float beta);
  // The eigendecomposition of side's statistic: eigenvectors as the rows of vectors, eigenvalues to the host.
  // Returns false, computing nothing, for a statistic that is not finite (the step's non-finite report names
  // it, and the skip mode can act); throws Numerical (naming layer and side) when the solver does not converge.
  bool eigen(const KroneckerSide& side, int layer, const char* which, float* vectors, std::vector<float>& values);
  // out = left · x · right for the layer's d x n x, through tmp; a side's transform may be transposed, and
  // a side without one is the identity.
  void sandwich(const KroneckerLayer& layer, bool left_trans, const float* x, bool right_trans, float* tmp,
                float* out);
  void state_buffers(std::vector<StateBuffer>& out, const char* transform_name) const;

  std::vector<KroneckerLayer> layers;
  int largest_side = 0;      // of the preconditioned sides
  size_t largest_layer = 0;  // d·n

 private:
  Backend* be_ = nullptr;
  float* eigenvalues_ = nullptr;  // backend memory, largest_side floats
};

}  // namespace kb
