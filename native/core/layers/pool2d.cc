// Max and average pooling of the image of the conv2d layer below (algorithm.md §12.1): windows and strides, no
// padding, windows that do not fit dropped; global average pooling, one window over the whole image, whose
// output is a vector (one value per channel). No weights.
#include "kinds.h"

#include <cstring>

#include "../errors.h"
#include "../network.h"

namespace kb {

void check_pool_geometry(const std::string& where, const PoolShape& p) {
  auto fail = [&](const std::string& what) { throw Error(ErrorKind::InvalidArgument, where + ": " + what); };
  if (p.size_h <= 0 || p.size_w <= 0 || p.stride_h <= 0 || p.stride_w <= 0)
    fail("the pooling window and stride must be positive");
  if (p.size_h > p.height || p.size_w > p.width)
    fail("the " + std::to_string(p.size_h) + "x" + std::to_string(p.size_w) + " pooling window is larger than its " +
         std::to_string(p.height) + "x" + std::to_string(p.width) + " input");
}

namespace {

class Pool2d final : public Layer {
 public:
  Pool2d(const char* kind, const PoolShape& pool, DataKind gives) : kind_(kind), pool_(pool), gives_(gives) {}
  const char* kind() const override { return kind_; }
  size_t input_size() const override { return pool_.in_size(); }
  size_t output_size() const override { return pool_.out_size(); }
  DataKind output_kind() const override { return gives_; }
  // One pooling layer per conv2d: the layer below keeps the gradient this one writes (one shared scratch
  // holds every pooling layer's output gradient).
  void check_below(int i, const Layer* below) const override {
    if (!below || std::strcmp(below->kind(), "conv2d") != 0)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " must come right after a conv2d layer");
  }

  LayerMemory memory(uint64_t m, bool) const override {
    return {m * input_size(), m * output_size(), 0, "the activations of " + std::to_string(m) + " images before pooling"};
  }
  void bind(Backend&, int capacity, LayerBuffers& own, const std::function<float*(size_t)>& take) const override {
    own.in = {take((size_t)capacity * input_size()), (int)input_size()};
    // out_grad: the shared gradient scratch, set by the workspace
  }

  void forward(const LayerPass& p, Rows out) const override {
    p.backend.pool_forward(pool_, p.own.in.data, p.ws.m, out.data, out.ld);
  }
  // Max pooling sends a window's gradient to its first largest input, average pooling a share to each (§12.1).
  void backward(const LayerPass& p, Rows in_grad, float*) const override {
    p.backend.pool_backward(pool_, p.own.in.data, p.own.out_grad.data, p.own.out_grad.ld, p.ws.m, in_grad.data);
  }

 private:
  const char* kind_;
  PoolShape pool_;
  DataKind gives_;
};

// The pooled image's channels, height and width, checked.
PoolShape pool_input(const std::string& where, const LayerFields& f) {
  PoolShape pool;
  pool.channels = f.whole("channels");
  pool.height = f.whole("height");
  pool.width = f.whole("width");
  if (pool.channels <= 0 || pool.height <= 0 || pool.width <= 0)
    throw Error(ErrorKind::InvalidArgument, where + ": its input image has no pixels");
  return pool;
}

}  // namespace

// { kind: 'max' | 'average', channels, height, width, sizeH, sizeW, strideH, strideW }
std::unique_ptr<Layer> make_pool2d(int i, const LayerFields& f) {
  const std::string where = layer_name(i, "pool2d");
  PoolShape pool = pool_input(where, f);
  const std::string kind = f.text("kind");
  if (kind == "max") pool.kind = PoolKind::Max;
  else if (kind == "average") pool.kind = PoolKind::Average;
  else throw Error(ErrorKind::InvalidArgument, where + ": unknown pooling '" + kind + "' (max, average)");
  pool.size_h = f.whole("sizeH");
  pool.size_w = f.whole("sizeW");
  pool.stride_h = f.whole("strideH");
  pool.stride_w = f.whole("strideW");
  check_pool_geometry(where, pool);
  return std::make_unique<Pool2d>("pool2d", pool, DataKind::Image);
}

// { channels, height, width }
std::unique_ptr<Layer> make_global_avg_pool2d(int i, const LayerFields& f) {
  PoolShape pool = pool_input(layer_name(i, "globalAvgPool2d"), f);
  pool.kind = PoolKind::Average;
  pool.size_h = pool.stride_h = pool.height;
  pool.size_w = pool.stride_w = pool.width;
  return std::make_unique<Pool2d>("globalAvgPool2d", pool, DataKind::Vector);
}

}  // namespace kb
