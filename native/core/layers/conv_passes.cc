#include "conv_passes.h"

#include <algorithm>

namespace kb {
namespace {

// Patches per chunk: a chunk's patches, and its share of W and H, stay within a core's L2 and the shared L3
// (bench/conv-kernels.cc measures the candidates). But at least kConvChunkRows rows per product: with wide
// patches (3x3 over 512 channels: 4,609 columns) 2 MB is two 7x7 images, and products of 98 rows ran 10 %
// slower than one over the batch.
constexpr size_t kConvChunkBytes = 2 << 20;
constexpr size_t kConvChunkRows = 512;

}  // namespace

int conv_chunk_images(const Backend& backend, const PatchShape& s, int m) {
  if (!backend.host_memory() || m < 2) return std::max(m, 1);
  const size_t T = s.locations(), per_image = T * (s.patch_size() + 1) * sizeof(float);
  const size_t images = std::max(kConvChunkBytes / per_image, (kConvChunkRows + T - 1) / T);
  return (int)std::clamp<size_t>(images, 1, (size_t)(m + 1) / 2);
}

void conv_forward(Backend& be, const PatchShape& s, const float* x, int m, const float* w, int d, float* patches,
                  bool keep_patches, float* h) {
  if (!keep_patches && be.direct_conv_forward(s, x, m, w, d, h)) return;  // no patches needed: none formed (§12.7)
  const int T = s.locations(), n = s.patch_size() + 1, chunk = conv_chunk_images(be, s, m);
  for (int first = 0; first < m; first += chunk) {
    const int count = std::min(chunk, m - first);
    float* p = keep_patches ? patches + (size_t)first * T * n : patches;
    be.im2col(s, x + (size_t)first * s.in.size(), count, p);
    be.gemm(false, true, count * T, d, n, 1.0f, p, n, w, n, 0.0f, h + (size_t)first * T * d, d);  // H = P̄ Wᵀ
  }
}

void conv_backward_weights(Backend& be, const PatchShape& s, const float* g, const float* patches, const float* x,
                           int m, int d, float alpha, float* dw) {
  if (x && be.direct_conv_backward_weights(s, g, x, m, d, alpha, dw)) return;  // §12.7
  const int r = m * s.locations(), n = s.patch_size() + 1;
  be.gemm(true, false, d, n, r, alpha, g, d, patches, n, 0.0f, dw, n);
}

void conv_backward_weights_from_images(Backend& be, const PatchShape& s, const float* g, const float* x, int m,
                                       int d, float alpha, float* scratch, float* dw) {
  if (be.direct_conv_backward_weights(s, g, x, m, d, alpha, dw)) return;  // no patches needed: none formed (§12.7)
  const int T = s.locations(), n = s.patch_size() + 1, chunk = conv_chunk_images(be, s, m);
  for (int first = 0; first < m; first += chunk) {
    const int count = std::min(chunk, m - first);
    be.im2col(s, x + (size_t)first * s.in.size(), count, scratch);
    be.gemm(true, false, d, n, count * T, alpha, g + (size_t)first * T * d, d, scratch, n, first ? 1.0f : 0.0f, dw, n);
  }
}

void conv_backward_data(Backend& be, const PatchShape& s, const float* g, int m, const float* w, int d,
                        float* scratch, float* dx) {
  if (be.direct_conv_backward_data(s, g, m, w, d, dx)) return;  // §12.7
  const int T = s.locations(), n = s.patch_size() + 1, chunk = conv_chunk_images(be, s, m);
  for (int first = 0; first < m; first += chunk) {
    const int count = std::min(chunk, m - first);
    // The chunk's patch gradient G W[:, :n−1], then back to its images by im2col's adjoint.
    be.gemm(false, false, count * T, n - 1, d, 1.0f, g + (size_t)first * T * d, d, w, n, 0.0f, scratch, n - 1);
    be.col2im(s, scratch, n - 1, count, dx + (size_t)first * s.in.size());
  }
}

}  // namespace kb
