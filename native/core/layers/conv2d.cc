// A convolution (algorithm.md §12.1): the kernel windows of its input image as patch rows (im2col), h = P̄ Wᵀ,
// then the activation; T rows of statistics per sample, one per output location.
#include "kinds.h"

#include <algorithm>

#include "../errors.h"
#include "../network.h"

namespace kb {

void check_conv_geometry(const std::string& where, const PatchShape& s) {
  auto fail = [&](const std::string& what) { throw Error(ErrorKind::InvalidArgument, where + ": " + what); };
  const ImageShape& in = s.in;
  if (in.channels <= 0 || in.height <= 0 || in.width <= 0) fail("its input image has no pixels");
  if (s.kernel_h <= 0 || s.kernel_w <= 0 || s.stride <= 0 || s.padding < 0)
    fail("kernel and stride must be positive and padding at least 0");
  if (s.padding >= s.kernel_h || s.padding >= s.kernel_w)
    fail("padding must be smaller than the kernel, got " + std::to_string(s.padding));
  if (in.height + 2 * s.padding < s.kernel_h || in.width + 2 * s.padding < s.kernel_w)
    fail("the " + std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) + " kernel is larger than the " +
         std::to_string(in.height) + "x" + std::to_string(in.width) + " input" +
         (s.padding ? " padded by " + std::to_string(s.padding) : std::string()));
}

namespace {

class Conv2d final : public Layer {
 public:
  Conv2d(const PatchShape& patches, int filters, Activation activation)
      : patches_(patches), out_(filters), n_(patches.patch_size() + 1), activation_(activation) {}
  const char* kind() const override { return "conv2d"; }
  size_t input_size() const override { return patches_.in.size(); }
  size_t output_size() const override { return (size_t)locations() * out_; }
  DataKind output_kind() const override { return DataKind::Image; }
  void check_below(int i, const Layer* below) const override {
    if (below && below->output_kind() != DataKind::Image)
      throw Error(ErrorKind::InvalidArgument, layer_name(i, kind()) + " takes an image: it can only follow the input, "
                                                                       "a conv2d or a pooling layer");
  }
  int weight_rows() const override { return out_; }
  int weight_cols() const override { return n_; }
  int locations() const override { return patches_.locations(); }
  bool hessian_action_from_batch() const override { return true; }
  void initialize(Rng& rng, float* w) const override { initialize_uniform(rng, w, out_, n_, patches_.bias); }

  LayerMemory memory(uint64_t m, bool first) const override {
    const uint64_t rows = m * locations();
    return {rows * (n_ + 2 * out_) + m * input_size(), 0, first ? 0 : rows * (n_ - 1),
            std::to_string(rows) + " rows of " + std::to_string(n_) + " inputs and 2 x " + std::to_string(out_) +
                " outputs, with its images"};
  }
  void bind(Backend&, int capacity, LayerBuffers& own, const std::function<float*(size_t)>& take) const override {
    const size_t rows = (size_t)capacity * locations();
    own.abar = take(rows * n_);  // im2col writes the homogeneous column with the patches
    own.h = take(rows * out_);
    own.g = take(rows * out_);
    own.in = {take((size_t)capacity * input_size()), (int)input_size()};
    own.out_grad = {own.g, (int)output_size()};
  }

  void forward(const LayerPass& p, Rows out) const override {
    const int m = p.ws.m, d = out_, r = m * locations();
    // The second pass's inputs are the first pass's: the first layer's patches are still in abar (§12.4).
    if (!(p.second_pass && !p.first && forward_in_chunks(p))) {
      if (!(p.first && p.second_pass)) p.backend.im2col(patches_, p.own.in.data, m, p.own.abar);
      // H = P̄ Wᵀ, one row per sample and location (§12.1)
      p.backend.gemm(false, true, r, d, n_, 1.0f, p.own.abar, n_, p.weights, n_, 0.0f, p.own.h, d);
    }
    const int size = (int)output_size();
    p.backend.activation_forward(activation_, p.own.h, m, size, size, out.data, out.ld);
  }

  void backward(const LayerPass& p, Rows in_grad, float* weight_grad) const override {
    const int m = p.ws.m, d = out_, r = m * locations();
    p.backend.activation_backward(activation_, p.own.h, r, d, p.own.g, d);  // g = d loss / d h
    if (weight_grad)  // dW = (1/batch) g^T P̄: summed over the locations, averaged over the samples (§12.1)
      p.backend.gemm(true, false, d, n_, r, 1.0f / p.ws.batch, p.own.g, d, p.own.abar, n_, 0.0f, weight_grad, n_);
    if (!in_grad.data) return;
    // The patch gradient G W[:, :n-1], back to the image by im2col's adjoint.
    p.backend.gemm(false, false, r, n_ - 1, d, 1.0f, p.own.g, d, p.weights, n_, 0.0f, p.ws.patch_scratch, n_ - 1);
    p.backend.col2im(patches_, p.ws.patch_scratch, n_ - 1, m, in_grad.data);
  }

 private:
  // The patches of a convolution above the first layer formed and multiplied a few images at a time through
  // the patch scratch (free until backward), so that they stay in cache; abar keeps the last first pass's
  // patches. Returns false, having done nothing, for a batch of one image and on a GPU, which prefers one
  // large product.
  bool forward_in_chunks(const LayerPass& p) const {
    const int d = out_, n = n_, T = locations(), m = p.ws.m;
    const size_t per_image = (size_t)T * n;
    constexpr size_t kChunkFloats = 1 << 19;  // 2 MB of patches per product
    // At most half the batch per chunk, so that every batch of two or more images takes this path (the small
    // networks of the golden tests too); the scratch holds capacity·T·(n − 1) floats.
    const int chunk = (int)std::min({std::max<size_t>(1, kChunkFloats / per_image), (size_t)(m + 1) / 2,
                                     (size_t)p.ws.capacity() * (n - 1) / n});
    if (!p.backend.host_memory() || chunk < 1 || chunk >= m) return false;
    for (int first = 0; first < m; first += chunk) {
      const int count = std::min(chunk, m - first);
      p.backend.im2col(patches_, p.own.in.data + (size_t)first * input_size(), count, p.ws.patch_scratch);
      p.backend.gemm(false, true, count * T, d, n, 1.0f, p.ws.patch_scratch, n, p.weights, n, 0.0f,
                     p.own.h + (size_t)first * T * d, d);
    }
    return true;
  }

  PatchShape patches_;
  int out_, n_;
  Activation activation_;
};

}  // namespace

// { out, activation, channels, height, width, kernelH, kernelW, stride, padding, bias }; the first layer's
// image arrives channel-major (image_geometry.h).
std::unique_ptr<Layer> make_conv2d(int i, const LayerFields& f) {
  const std::string where = layer_name(i, "conv2d");
  const Activation activation = activation_field(i, f);
  const int filters = f.whole("out");
  if (filters <= 0 || filters > (1 << 20)) throw Error(ErrorKind::InvalidArgument, where + ": filters must be positive");
  const PatchShape patches{{f.whole("channels"), f.whole("height"), f.whole("width"), i == 0},
                           f.whole("kernelH"), f.whole("kernelW"), f.whole("stride"), f.whole("padding"), f.flag("bias")};
  check_conv_geometry(where, patches);
  if ((size_t)patches.patch_size() * filters > (1u << 28))
    throw Error(ErrorKind::InvalidArgument, where + ": the kernel has too many weights");
  if (patches.patch_size() > (1 << 20)) throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an invalid width");
  return std::make_unique<Conv2d>(patches, filters, activation);
}

}  // namespace kb
