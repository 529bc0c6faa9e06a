// The network engine: fp32 dense and convolution layers with bias, pooling, forward, loss, backward
// (algorithm.md §1, §7.1, §12).
//
// Layer l holds W_l of shape d_l x n_l row-major with the bias as the last column (the "homogeneous" form of
// algorithm.md §1), so one GEMM does weights and bias and one SYRK gives A_l with its bias entries. A dense
// layer has n_l = d_{l-1} + 1 and one row per sample; a convolution has n_l = k_h·k_w·c_in + 1 and T rows per
// sample, one per output location (its im2col patches), so the optimizers see both through the same
// matrices. All layers live in one flat parameter vector (first-order updates are one pass over it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "buffers.h"
#include "collective.h"
#include "../rules/image_geometry.h"

namespace kb {

struct LayerSpec {
  int in = 0;   // columns of W_l before the bias: the previous width, or a convolution's patch size
  int out = 0;  // rows of W_l: units, or a convolution's filters
  Activation activation = Activation::Linear;
  // A convolution reads the kernel windows of its input image (T rows per sample) and may pool its output
  // after the activation; `pool` then describes the activation's image (kind None: passed on as it is).
  bool conv = false;
  PatchShape patches;
  PoolShape pool;

  int locations() const { return conv ? patches.locations() : 1; }
  size_t input_size() const { return conv ? patches.in.size() : (size_t)in; }    // values per sample
  size_t output_size() const { return conv ? pool.passed_size() : (size_t)out; }  // values per sample passed on
};

// The one definition of what a convolution's and a pooling window's geometry allows (algorithm.md §12); the
// shapes themselves are PatchShape and PoolShape. Each throws Error(InvalidArgument) "<where>: <problem>"; the
// addon asks them for lib/layers.ts too, so both sides refuse the same layers with the same words.
void check_conv_geometry(const std::string& where, const PatchShape& s);
void check_pool_geometry(const std::string& where, const PoolShape& p);
// A convolution layer's spec from its input image and settings, with `pool` (kind and window) describing
// the pooling after it; checks that the kernel and the window fit (Error InvalidArgument naming layer l).
LayerSpec conv_layer(int l, const ImageShape& in, int filters, int kernel_h, int kernel_w, int stride, int padding,
                     bool bias, Activation activation, PoolShape pool);
// Checks a whole stack: widths that chain, convolutions first, a dense last layer.
void check_layers(const std::vector<LayerSpec>& layers);

// What one minibatch's forward/backward keeps (algorithm.md §1): per layer the augmented input abar (m x n, last
// column 1), the pre-activations h (m x d) and the per-sample pre-activation gradients g = d loss_i / d h
// (m x d, i.e. m times the gradient of the mean loss). Buffers are allocated once per capacity and reused.
class Workspace {
 public:
  Workspace(Backend& backend, const std::vector<LayerSpec>& layers, int capacity, size_t param_count);
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  int capacity() const { return capacity_; }
  int m = 0;                   // samples of the current batch (<= capacity)
  // Data-parallel training (algorithm.md §13): this rank holds rows [first, first + m) of a batch of `batch`
  // samples; every mean over the batch divides by `batch`. One process: first = 0, batch = m.
  int batch = 0;
  int first = 0;
  // Rows of layer l's matrices for the current batch: m, or m·T for a convolution.
  int rows(int l) const { return m * locations_[l]; }
  int locations(int l) const { return locations_[l]; }
  std::vector<float*> abar;    // abar[l]: input rows of layer l (convolution: patches), with the homogeneous column
  std::vector<float*> h;       // h[l]: pre-activations of layer l
  std::vector<float*> g;       // g[l]: per-sample gradients of the loss w.r.t. h[l]
  std::vector<float*> image;   // image[l]: a convolution's input images (m x input_size), else null
  std::vector<float*> act;     // act[l]: a convolution's activations before pooling, else null
  float* input_grad = nullptr; // scratch: d loss / d (input of a layer after a convolution), m x input_size
  float* patch_grad = nullptr; // scratch: d loss / d patches of a convolution above the first layer
  float* output = nullptr;     // a_L (aliases h[L-1] when the last activation is linear)
  float* target = nullptr;     // m x d_L targets of the batch
  float* grad = nullptr;       // flat gradient of the mean data loss, laid out like the parameters
  // Sum of the squared per-sample losses of the last pass that computed the loss: with the summed loss it gives
  // the sampling noise of the minibatch loss, which the divergence safeguard allows for (algorithm.md §11.2).
  double loss_square_sum = 0;

 private:
  int capacity_;
  std::vector<int> locations_;
  OwnedBuffers owned_;
};

class Network {
 public:
  Network(Backend& backend, std::vector<LayerSpec> layers, Loss loss);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Backend& backend() const { return backend_; }
  // The ranks this network trains with (algorithm.md §13); single_process() unless a fit runs distributed.
  Collective& collective() const { return *collective_; }
  void set_collective(Collective* c) { collective_ = c ? c : &single_process(); }
  Loss loss_kind() const { return loss_; }
  int num_layers() const { return (int)layers_.size(); }
  const LayerSpec& layer(int l) const { return layers_[l]; }
  const std::vector<LayerSpec>& layers() const { return layers_; }
  int input_dim() const { return (int)layers_.front().input_size(); }
  int output_dim() const { return layers_.back().out; }
  // W_l is rows(l) x cols(l) = d_l x (d_{l-1} + 1).
  int rows(int l) const { return layers_[l].out; }
  int cols(int l) const { return layers_[l].in + 1; }
  size_t offset(int l) const { return offsets_[l]; }
  size_t param_count() const { return offsets_.back(); }
  float* params() { return params_; }
  const float* params() const { return params_; }
  float* weights(int l) { return params_ + offsets_[l]; }

  // W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (a convolution without bias: b = 0) from a seeded SplitMix64 stream, layer by layer (algorithm.md §7.2).
  void initialize(uint64_t seed);

  // Copies the input rows of host-or-staged data into ws (the first layer's abar, or its images).
  void load_inputs(Workspace& ws, const float* x, const uint32_t* rows, int m) const;
  // Copies the batch rows (inputs and targets) of host-or-staged data into ws.
  void load_batch(Workspace& ws, const float* x, const float* y, const uint32_t* rows, int m) const;
  // What a forward pass leaves besides the activations: the summed (not averaged) data loss of the batch,
  // the output gradient g[L-1] = d loss_i / d h_L for backward(), both, or neither. Reading the loss makes a
  // GPU backend wait for the pass, so passes whose loss nobody reads skip it.
  enum class Want { Nothing, Loss, Gradient, LossAndGradient };
  // Forward pass over the loaded inputs; returns the loss when wanted, else NaN. second_pass: a pass over the
  // inputs of the last forward pass (K-BFGS's second pass) whose patches nobody reads afterwards: a convolution
  // first layer keeps the patches of its unchanged inputs, and on the CPU the other convolutions form theirs a
  // few images at a time, in cache, without keeping them (algorithm.md §12.4).
  double forward(Workspace& ws, Want want, bool second_pass = false);
  // g[L-1] = d loss_i / d h_L of the current forward output against targets (ws.target when null); returns
  // the summed loss when want_loss, else NaN. KFAC calls it again with sampled targets.
  double output_gradient(Workspace& ws, const float* targets, bool want_loss);
  // g[L-1] for targets sampled from the model's output (KFAC, algorithm.md §5), written to targets; the loss is not
  // computed.
  void sampled_output_gradient(Workspace& ws, uint64_t seed, float* targets);
  // Propagates g[L-1] down to g[0]. If weight_grad is not null it receives the mean-loss gradient
  // (1/batch) sum_i g_l^(i) abar^(i)^T of every layer, laid out like the parameters, summed over the ranks.
  void backward(Workspace& ws, float* weight_grad);

 private:
  bool conv_forward_in_chunks(Workspace& ws, int l);

  Backend& backend_;
  std::vector<LayerSpec> layers_;
  Loss loss_;
  std::vector<size_t> offsets_;  // offsets_[l] = start of W_l; offsets_[L] = total
  float* params_ = nullptr;
  Collective* collective_ = &single_process();
};

}  // namespace kb
