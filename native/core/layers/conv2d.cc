// A convolution (algorithm.md §12.1): the kernel windows of its input image as patch rows (im2col), h = P̄ Wᵀ,
// then the activation; T rows of statistics per sample, one per output location.
#include "kinds.h"

#include <algorithm>

#include "../errors.h"
#include "../network.h"
#include "conv_passes.h"

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
    const int m = p.ws.m, d = out_;
    if (p.first && p.second_pass) {  // the second pass's inputs are the first's: its patches are still in abar (§12.4)
      p.backend.gemm(false, true, m * locations(), d, n_, 1.0f, p.own.abar, n_, p.weights, n_, 0.0f, p.own.h, d);
    } else if ((p.second_pass || !p.keep_patches) && patches_fit_scratch(p)) {  // nobody reads these patches later
      conv_forward(p.backend, patches_, p.own.in.data, m, p.weights, d, p.ws.patch_scratch, false, p.own.h);
    } else {
      conv_forward(p.backend, patches_, p.own.in.data, m, p.weights, d, p.own.abar, true, p.own.h);
    }
    const int size = (int)output_size();
    p.backend.activation_forward(activation_, p.own.h, m, size, size, out.data, out.ld);
  }

  void backward(const LayerPass& p, Rows in_grad, float* weight_grad) const override {
    const int m = p.ws.m, d = out_, r = m * locations();
    p.backend.activation_backward(activation_, p.own.h, r, d, p.own.g, d);  // g = d loss / d h
    // dW = (1/batch) g^T P̄: summed over the locations, averaged over the samples (§12.1); the patches formed
    // again from the images where forward did not keep them (§12.6). A direct kernel chosen for this shape
    // reads the images even where the patches were kept (for the curvature, or in abar): it measured faster
    // than the product on them alone (§12.7).
    const float alpha = 1.0f / p.ws.batch;
    if (weight_grad && !p.keep_patches && patches_fit_scratch(p))
      conv_backward_weights_from_images(p.backend, patches_, p.own.g, p.own.in.data, m, d, alpha, p.ws.patch_scratch,
                                        weight_grad);
    else if (weight_grad)
      conv_backward_weights(p.backend, patches_, p.own.g, p.own.abar, p.own.in.data, m, d, alpha, weight_grad);
    if (!in_grad.data) return;
    // The patch gradient G W[:, :n-1], back to the image by im2col's adjoint, a chunk of images at a time.
    conv_backward_data(p.backend, patches_, p.own.g, m, p.weights, d, p.ws.patch_scratch, in_grad.data);
  }

 private:
  // Patches that nobody reads after the pass (K-BFGS's second pass, whose abar keeps the first pass's; any
  // pass for an optimizer that reads no statistics) are formed a chunk at a time in the patch scratch: free
  // outside backward's input gradient, capacity·T·(n − 1) floats in a convolution above the first layer. Not
  // for a batch that is one chunk (one image, or a GPU) or the first layer: those write abar.
  bool patches_fit_scratch(const LayerPass& p) const {
    const int chunk = conv_chunk_images(p.backend, patches_, p.ws.m);
    return !p.first && chunk < p.ws.m && (size_t)chunk * n_ <= (size_t)p.ws.capacity() * (n_ - 1);
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
