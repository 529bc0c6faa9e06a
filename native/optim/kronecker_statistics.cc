#include "kronecker_statistics.h"

#include <algorithm>
#include <cmath>

#include "../core/errors.h"

namespace kb {

void KroneckerStatistics::attach(Network& net, OwnedBuffers& owned, int max_precond_dim, const std::string& owner,
                                 const std::vector<MemoryPart>& method_parts) {
  be_ = &net.backend();
  std::vector<MemoryPart> parts = method_parts;
  auto side_floats = [&](int dim) { return dim <= max_precond_dim ? 2 * (uint64_t)dim * dim : 0; };
  for (int l = 0; l < net.num_layers(); ++l)
    parts.push_back({"layer " + std::to_string(l) + " (statistics and their transforms, " + std::to_string(net.rows(l)) +
                         " x " + std::to_string(net.rows(l)) + " and " + std::to_string(net.cols(l)) + " x " +
                         std::to_string(net.cols(l)) + ")",
                     side_floats(net.rows(l)) + side_floats(net.cols(l))});
  require_memory(*be_, owner, parts);
  auto side = [&](int dim) {
    KroneckerSide s;
    s.dim = dim;
    if (dim > max_precond_dim) return s;
    s.statistic = owned.take((size_t)dim * dim);
    s.transform = owned.take((size_t)dim * dim);
    largest_side = std::max(largest_side, dim);
    return s;
  };
  for (int l = 0; l < net.num_layers(); ++l) {
    KroneckerLayer layer;
    layer.d = net.rows(l);
    layer.n = net.cols(l);
    layer.left = side(layer.d);
    layer.right = side(layer.n);
    largest_layer = std::max(largest_layer, (size_t)layer.d * layer.n);
    layers.push_back(layer);
  }
  eigenvalues_ = owned.take(std::max(largest_side, 1));
}

void KroneckerStatistics::accumulate(const Network& net, const float* g, float beta) {
  for (size_t l = 0; l < layers.size(); ++l) {
    const KroneckerLayer& L = layers[l];
    const float* G = g + net.offset((int)l);
    if (L.left.preconditioned()) be_->syrk(false, L.d, L.n, 1 - beta, G, L.n, beta, L.left.statistic, L.d);
    if (L.right.preconditioned()) be_->syrk(true, L.n, L.d, 1 - beta, G, L.n, beta, L.right.statistic, L.n);
  }
}

bool KroneckerStatistics::eigen(const KroneckerSide& side, int layer, const char* which, float* vectors,
                                std::vector<float>& values) {
  const int n = side.dim;
  if (be_->first_non_finite(side.statistic, (size_t)n * n) >= 0) return false;
  be_->copy(vectors, side.statistic, (size_t)n * n);
  const int info = be_->symmetric_eigen(n, vectors, n, eigenvalues_);
  if (info != 0)
    throw Error(ErrorKind::Numerical, "layer " + std::to_string(layer) + ": the eigendecomposition of " + which +
                                          " did not converge (info " + std::to_string(info) + ")");
  values.resize(n);
  be_->to_host(values.data(), eigenvalues_, n);
  for (float v : values)
    if (!std::isfinite(v))
      throw Error(ErrorKind::Numerical, "layer " + std::to_string(layer) + ": " + which + " has a non-finite eigenvalue");
  return true;
}

void KroneckerStatistics::sandwich(const KroneckerLayer& layer, bool left_trans, const float* x, bool right_trans,
                                   float* tmp, float* out) {
  const int d = layer.d, n = layer.n;
  const float* middle = x;
  if (layer.left.preconditioned()) {
    float* dst = layer.right.preconditioned() ? tmp : out;
    be_->gemm(left_trans, false, d, n, d, 1.0f, layer.left.transform, d, x, n, 0.0f, dst, n);
    middle = dst;
  }
  if (layer.right.preconditioned())
    be_->gemm(false, right_trans, d, n, n, 1.0f, middle, n, layer.right.transform, n, 0.0f, out, n);
  else if (middle != out)
    be_->copy(out, middle, (size_t)d * n);
}

void KroneckerStatistics::state_buffers(std::vector<StateBuffer>& out, const char* transform_name) const {
  for (size_t l = 0; l < layers.size(); ++l) {
    const KroneckerLayer& L = layers[l];
    const std::string p = "layer" + std::to_string(l) + ".";
    for (const auto& [side, name] : {std::pair{&L.left, "L"}, std::pair{&L.right, "R"}}) {
      if (!side->preconditioned()) continue;
      const size_t count = (size_t)side->dim * side->dim;
      out.push_back({p + name, side->statistic, count});
      out.push_back({p + name + "_" + transform_name, side->transform, count});
    }
  }
}

}  // namespace kb
