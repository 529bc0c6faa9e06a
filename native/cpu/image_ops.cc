#include "image_ops.h"

#include <algorithm>
#include <cstring>

#include "../rules/image_rules.h"

namespace kb::cpu {
namespace {

// Windows that do not overlap hold each input once: pooling's adjoint is then one write per window.
bool windows_disjoint(const PoolShape& s) { return s.stride_h >= s.size_h && s.stride_w >= s.size_w; }

// Max pooling's adjoint for one window (window_argmax of rules/image_rules.h): each channel's gradient g[c]
// goes to the window's first largest input and every other cell of the window gets 0; x, dx point at the
// window's first cell. The window's largest value is found first, then the cells are written in window order,
// a cell taking g[c] when it holds that value and no earlier cell took it: loops over the channels that the
// compiler vectorizes, with no scatter. A NaN in the first cell is its largest (no later cell compares larger).
void max_window_gradient(const PoolShape& s, const float* x, const float* g, float* dx) {
  constexpr int kBlock = 64;  // channels per pass: the running largest values and what is left to send
  const int C = s.channels;
  for (int c0 = 0; c0 < C; c0 += kBlock) {
    const int cb = std::min(kBlock, C - c0);
    float best[kBlock], left[kBlock];  // left: g until a cell took it, then 0
    for (int c = 0; c < cb; ++c) best[c] = x[c0 + c];
    for (int wy = 0; wy < s.size_h; ++wy)
      for (int wx = 0; wx < s.size_w; ++wx) {
        const float* v = x + (wy * s.width + wx) * C + c0;
        for (int c = 0; c < cb; ++c) best[c] = v[c] > best[c] ? v[c] : best[c];
      }
    // Selects between floats only, no branch, so the loops vectorize.
    for (int c = 0; c < cb; ++c) {  // the first cell takes it when equal, or when a NaN there stayed the largest
      const float gc = 0.0f + g[c0 + c];
      dx[c0 + c] = x[c0 + c] < best[c] ? 0.0f : gc;
      left[c] = x[c0 + c] < best[c] ? gc : 0.0f;
    }
    for (int wy = 0; wy < s.size_h; ++wy)
      for (int wx = wy == 0 ? 1 : 0; wx < s.size_w; ++wx) {
        const int cell = (wy * s.width + wx) * C + c0;
        for (int c = 0; c < cb; ++c) {
          const bool largest = x[cell + c] == best[c];
          dx[cell + c] = largest ? left[c] : 0.0f;
          left[c] = largest ? 0.0f : left[c];
        }
      }
  }
}

// Windows of a stride equal to their size that cover the image: every input lies in exactly one window.
bool windows_tile(const PoolShape& s) {
  return s.stride_h == s.size_h && s.stride_w == s.size_w && s.height % s.size_h == 0 && s.width % s.size_w == 0;
}

// One channel is the same image in both layouts.
bool height_major(const ImageShape& in) { return !in.channels_first || in.channels == 1; }

}  // namespace

void im2col(const PatchShape& s, const float* x, int m, float* patches) {
  const int oh = s.out_h(), ow = s.out_w(), C = s.in.channels, n = s.patch_size() + 1;
  const int kw = s.kernel_w, W = s.in.width;
  const size_t image = s.in.size();
  const float homogeneous = s.bias ? 1.0f : 0.0f;
  const bool contiguous = height_major(s.in);
  float* row = patches;
  for (int i = 0; i < m; ++i) {
    const float* xi = x + (size_t)i * image;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox, row += n) {
        const int x0 = ox * s.stride - s.padding;
        float* dst = row;
        for (int ky = 0; ky < s.kernel_h; ++ky, dst += kw * C) {
          const int iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.in.height) {
            std::memset(dst, 0, (size_t)kw * C * sizeof(float));
          } else if (contiguous && x0 >= 0 && x0 + kw <= W) {  // the whole kernel row lies inside: one copy
            std::memcpy(dst, xi + ((size_t)iy * W + x0) * C, (size_t)kw * C * sizeof(float));
          } else {
            for (int kx = 0; kx < kw; ++kx) {
              const int ix = x0 + kx;
              float* cell = dst + kx * C;
              if (ix < 0 || ix >= W) std::memset(cell, 0, C * sizeof(float));
              else for (int c = 0; c < C; ++c) cell[c] = xi[s.in.at(c, iy, ix)];
            }
          }
        }
        row[n - 1] = homogeneous;
      }
  }
}

// Scatter form: the patch rows in order, each window entry added to the input it came from. For one input
// value the terms arrive with the kernel offsets descending, the order the CUDA kernel sums them in.
void col2im(const PatchShape& s, const float* dpatches, int ld, int m, float* dx) {
  const int oh = s.out_h(), ow = s.out_w(), C = s.in.channels, W = s.in.width;
  const size_t image = s.in.size();
  const bool contiguous = height_major(s.in);
  std::fill(dx, dx + (size_t)m * image, 0.0f);
  for (int i = 0; i < m; ++i) {
    float* xi = dx + (size_t)i * image;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        const float* src = dpatches + ((size_t)i * oh * ow + oy * ow + ox) * ld;
        for (int ky = 0; ky < s.kernel_h; ++ky) {
          const int iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.in.height) continue;
          for (int kx = 0; kx < s.kernel_w; ++kx) {
            const int ix = ox * s.stride - s.padding + kx;
            if (ix < 0 || ix >= W) continue;
            const float* cell = src + (ky * s.kernel_w + kx) * C;
            if (contiguous) {
              float* out = xi + ((size_t)iy * W + ix) * C;
              for (int c = 0; c < C; ++c) out[c] += cell[c];
            } else {
              for (int c = 0; c < C; ++c) xi[s.in.at(c, iy, ix)] += cell[c];
            }
          }
        }
      }
  }
}

void pool_forward(const PoolShape& s, const float* x, int m, float* y, int ldy) {
  const size_t in = s.in_size();
  const int C = s.channels, oh = s.out_h(), ow = s.out_w();
  for (int i = 0; i < m; ++i) {
    const float* xi = x + (size_t)i * in;
    float* yi = y + (size_t)i * ldy;
    if (s.kind == PoolKind::None) {
      std::memcpy(yi, xi, in * sizeof(float));
      continue;
    }
    // Per window, the channels side by side; max keeps the first largest, average sums in window order.
    const float count = (float)(s.size_h * s.size_w);
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        float* out = yi + ((size_t)oy * ow + ox) * C;
        for (int wy = 0; wy < s.size_h; ++wy)
          for (int wx = 0; wx < s.size_w; ++wx) {
            const float* v = xi + ((size_t)(oy * s.stride_h + wy) * s.width + ox * s.stride_w + wx) * C;
            const bool first = wy == 0 && wx == 0;
            if (s.kind == PoolKind::Max)
              for (int c = 0; c < C; ++c) out[c] = first || v[c] > out[c] ? v[c] : out[c];
            else
              for (int c = 0; c < C; ++c) out[c] = (first ? 0.0f : out[c]) + v[c];
          }
        if (s.kind == PoolKind::Average)
          for (int c = 0; c < C; ++c) out[c] /= count;
      }
  }
}

void pool_backward(const PoolShape& s, const float* x, const float* dy, int lddy, int m, float* dx) {
  const size_t in = s.in_size();
  const int C = s.channels, oh = s.out_h(), ow = s.out_w();
  for (int i = 0; i < m; ++i) {
    const float* dyi = dy + (size_t)i * lddy;
    float* dxi = dx + (size_t)i * in;
    const float* xi = x + (size_t)i * in;
    if (s.kind == PoolKind::None) {
      std::memcpy(dxi, dyi, in * sizeof(float));
    } else if (!windows_disjoint(s)) {  // overlapping windows: each input sums what its windows send
      for (size_t e = 0; e < in; ++e) dxi[e] = pooled_gradient(s, xi, dyi, e);
    } else {  // each input in at most one window: the rule's sum has one term
      if (!windows_tile(s)) std::fill(dxi, dxi + in, 0.0f);  // the inputs outside every window
      const float count = (float)(s.size_h * s.size_w);
      for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox) {
          const size_t origin = ((size_t)oy * s.stride_h * s.width + (size_t)ox * s.stride_w) * C;
          const float* g = dyi + ((size_t)oy * ow + ox) * C;
          if (s.kind == PoolKind::Max) {
            max_window_gradient(s, xi + origin, g, dxi + origin);
            continue;
          }
          for (int wy = 0; wy < s.size_h; ++wy)
            for (int wx = 0; wx < s.size_w; ++wx) {
              float* cell = dxi + origin + ((size_t)wy * s.width + wx) * C;
              for (int c = 0; c < C; ++c) cell[c] = 0.0f + g[c] / count;
            }
        }
    }
  }
}

}  // namespace kb::cpu
