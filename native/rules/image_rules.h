// The per-element rules of the image layers (algorithm.md §12), written once for both backends like
// elementwise_rules.h: where a kernel offset came from, a pooled value, and the gradient that reaches one
// pooled input. Sums run in a fixed order (window offsets ascending here; im2col's adjoint descending, see
// cpu/image_ops.cc), so the CPU and CUDA agree bit for bit.
#pragma once

#include <cstddef>

#include "host_device.h"
#include "image_geometry.h"

namespace kb {

// The output position o whose window reads input position p at kernel offset k (o * stride − padding + k = p),
// if there is one inside [0, out).
KB_HOST_DEVICE inline bool window_origin(int p, int k, int stride, int padding, int out, int* o) {
  const int shifted = p + padding - k;
  if (shifted < 0 || shifted % stride != 0) return false;
  *o = shifted / stride;
  return *o < out;
}

// Index (inside one HWC image) of the first largest input of the window at (oy, ox), channel c.
KB_HOST_DEVICE inline size_t window_argmax(const PoolShape& s, const float* x, int oy, int ox, int c) {
  size_t best = ((size_t)(oy * s.stride_h) * s.width + ox * s.stride_w) * s.channels + c;
  for (int wy = 0; wy < s.size_h; ++wy)
    for (int wx = 0; wx < s.size_w; ++wx) {
      const size_t at = ((size_t)(oy * s.stride_h + wy) * s.width + ox * s.stride_w + wx) * s.channels + c;
      if (x[at] > x[best]) best = at;
    }
  return best;
}

// Output element e = (oy · out_w + ox) · channels + c of max or average pooling of one image x.
KB_HOST_DEVICE inline float pooled_value(const PoolShape& s, const float* x, size_t e) {
  const int c = (int)(e % s.channels), t = (int)(e / s.channels), ow = s.out_w();
  const int oy = t / ow, ox = t % ow;
  if (s.kind == PoolKind::Max) return x[window_argmax(s, x, oy, ox, c)];
  float sum = 0.0f;
  for (int wy = 0; wy < s.size_h; ++wy)
    for (int wx = 0; wx < s.size_w; ++wx)
      sum += x[((size_t)(oy * s.stride_h + wy) * s.width + ox * s.stride_w + wx) * s.channels + c];
  return sum / (float)(s.size_h * s.size_w);
}

// Input element e = (y · width + x) · channels + c: the sum over the windows that hold it of what their output
// gradient dy sends back (max: all of it to the window's first largest input; average: an equal share).
KB_HOST_DEVICE inline float pooled_gradient(const PoolShape& s, const float* x, const float* dy, size_t e) {
  const int c = (int)(e % s.channels), p = (int)(e / s.channels);
  const int y = p / s.width, xx = p % s.width, ow = s.out_w();
  float sum = 0.0f;
  for (int wy = 0; wy < s.size_h; ++wy) {
    int oy;
    if (!window_origin(y, wy, s.stride_h, 0, s.out_h(), &oy)) continue;
    for (int wx = 0; wx < s.size_w; ++wx) {
      int ox;
      if (!window_origin(xx, wx, s.stride_w, 0, ow, &ox)) continue;
      const float g = dy[(size_t)(oy * ow + ox) * s.channels + c];
      if (s.kind == PoolKind::Max) sum += window_argmax(s, x, oy, ox, c) == e ? g : 0.0f;
      else sum += g / (float)(s.size_h * s.size_w);
    }
  }
  return sum;
}

}  // namespace kb
