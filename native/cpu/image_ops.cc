#include "image_ops.h"

#include <cstring>

#include "../core/image_rules.h"

namespace kb::cpu {

void im2col(const PatchShape& s, const float* x, int m, float* patches) {
  const int oh = s.out_h(), ow = s.out_w(), C = s.in.channels, n = s.patch_size() + 1;
  const size_t image = s.in.size();
  const float homogeneous = s.bias ? 1.0f : 0.0f;
  float* row = patches;
  for (int i = 0; i < m; ++i) {
    const float* xi = x + (size_t)i * image;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox, row += n) {
        float* dst = row;
        for (int ky = 0; ky < s.kernel_h; ++ky) {
          const int iy = oy * s.stride - s.padding + ky;
          for (int kx = 0; kx < s.kernel_w; ++kx, dst += C) {
            const int ix = ox * s.stride - s.padding + kx;
            if (iy < 0 || iy >= s.in.height || ix < 0 || ix >= s.in.width) std::memset(dst, 0, C * sizeof(float));
            else if (!s.in.channels_first) std::memcpy(dst, xi + s.in.at(0, iy, ix), C * sizeof(float));
            else for (int c = 0; c < C; ++c) dst[c] = xi[s.in.at(c, iy, ix)];
          }
        }
        row[n - 1] = homogeneous;
      }
  }
}

// Gather form: each input element sums the patch entries that copied it, kernel offsets in ascending order.
void col2im(const PatchShape& s, const float* dpatches, int ld, int m, float* dx) {
  const int C = s.in.channels, ow = s.out_w(), T = s.locations();
  const size_t image = s.in.size();
  for (int i = 0; i < m; ++i) {
    const float* di = dpatches + (size_t)i * T * ld;
    float* xi = dx + (size_t)i * image;
    for (int y = 0; y < s.in.height; ++y)
      for (int x = 0; x < s.in.width; ++x)
        for (int c = 0; c < C; ++c) xi[s.in.at(c, y, x)] = 0.0f;
    for (int y = 0; y < s.in.height; ++y)
      for (int x = 0; x < s.in.width; ++x) {
        for (int ky = 0; ky < s.kernel_h; ++ky) {
          int oy;
          if (!window_origin(y, ky, s.stride, s.padding, s.out_h(), &oy)) continue;
          for (int kx = 0; kx < s.kernel_w; ++kx) {
            int ox;
            if (!window_origin(x, kx, s.stride, s.padding, ow, &ox)) continue;
            const float* src = di + (size_t)(oy * ow + ox) * ld + (ky * s.kernel_w + kx) * C;
            for (int c = 0; c < C; ++c) xi[s.in.at(c, y, x)] += src[c];
          }
        }
      }
  }
}

void pool_forward(const PoolShape& s, const float* x, int m, float* y, int ldy) {
  const size_t in = s.in_size(), out = s.out_size();
  for (int i = 0; i < m; ++i) {
    const float* xi = x + (size_t)i * in;
    float* yi = y + (size_t)i * ldy;
    if (s.kind == PoolKind::None) {
      std::memcpy(yi, xi, in * sizeof(float));
      continue;
    }
    for (size_t e = 0; e < out; ++e) yi[e] = pooled_value(s, xi, e);
  }
}

void pool_backward(const PoolShape& s, const float* x, const float* dy, int lddy, int m, float* dx) {
  const size_t in = s.in_size();
  for (int i = 0; i < m; ++i) {
    const float* dyi = dy + (size_t)i * lddy;
    float* dxi = dx + (size_t)i * in;
    if (s.kind == PoolKind::None) {
      std::memcpy(dxi, dyi, in * sizeof(float));
      continue;
    }
    const float* xi = x + (size_t)i * in;
    for (size_t e = 0; e < in; ++e) dxi[e] = pooled_gradient(s, xi, dyi, e);
  }
}

}  // namespace kb::cpu
