// Shapes of the image layers (algorithm.md §12): a convolution's patches and a pooling window.
//
// Images are stored one sample per row. Inside the network an image is height-major with the channels
// fastest ("HWC"): a conv layer's pre-activations are (m·T) x c_out row-major, one row per output location,
// which is that layout with no copy. Only the network's input arrives channel-major ([channels, height,
// width], as the datasets give it); `channels_first` says which.
#pragma once

#include <cstddef>

#include "host_device.h"

namespace kb {

struct ImageShape {
  int channels = 0, height = 0, width = 0;
  bool channels_first = false;
  KB_HOST_DEVICE size_t size() const { return (size_t)channels * height * width; }
  // Offset of (channel c, row y, column x) inside one sample.
  KB_HOST_DEVICE size_t at(int c, int y, int x) const {
    return channels_first ? ((size_t)c * height + y) * width + x : ((size_t)y * width + x) * channels + c;
  }
};

// One output location t = oy * out_w + ox of a convolution reads the kernel window at
// (oy * stride - padding, ox * stride - padding); a patch row lists the window as (ky, kx, c), channels
// fastest, then the homogeneous coordinate (1 with a bias, 0 without, so W's last column stays unused).
struct PatchShape {
  ImageShape in;
  int kernel_h = 1, kernel_w = 1, stride = 1, padding = 0;
  bool bias = true;
  KB_HOST_DEVICE int out_h() const { return (in.height + 2 * padding - kernel_h) / stride + 1; }
  KB_HOST_DEVICE int out_w() const { return (in.width + 2 * padding - kernel_w) / stride + 1; }
  KB_HOST_DEVICE int locations() const { return out_h() * out_w(); }
  KB_HOST_DEVICE int patch_size() const { return kernel_h * kernel_w * in.channels; }  // columns before the homogeneous one
};

enum class PoolKind : int { None = 0, Max = 1, Average = 2 };

// A pooling window over an HWC image (no padding; windows that do not fit are dropped, as in PyTorch).
// Kind None is the identity: the layer's output is copied on as it is.
struct PoolShape {
  PoolKind kind = PoolKind::None;
  int channels = 0, height = 0, width = 0;
  int size_h = 1, size_w = 1, stride_h = 1, stride_w = 1;
  KB_HOST_DEVICE int out_h() const { return (height - size_h) / stride_h + 1; }
  KB_HOST_DEVICE int out_w() const { return (width - size_w) / stride_w + 1; }
  KB_HOST_DEVICE size_t in_size() const { return (size_t)channels * height * width; }
  KB_HOST_DEVICE size_t out_size() const { return (size_t)channels * out_h() * out_w(); }
  // Values per sample that pooling passes on (kind None: the whole image).
  KB_HOST_DEVICE size_t passed_size() const { return kind == PoolKind::None ? in_size() : out_size(); }
};

}  // namespace kb
