// The network engine: a stack of layers (core/layer.h, one kind per file in core/layers/), forward, loss,
// backward (algorithm.md §1, §7.1, §12, §16).
//
// The stack lists every layer as lib/layers.ts lists them; the optimizers see only the layers with weights,
// numbered l = 0, 1, ... (algorithm.md §1's W_l; checkpoints and getWeights number them so too). Layer l holds
// W_l of shape d_l x n_l row-major with the bias as the last column (the "homogeneous" form of algorithm.md
// §1), so one GEMM does weights and bias and one SYRK gives A_l with its bias entries. A dense layer has
// n_l = d_{l-1} + 1 and one row per sample; a convolution has n_l = k_h·k_w·c_in + 1 and T rows per sample,
// one per output location (its im2col patches), so the optimizers see both through the same matrices. All
// layers live in one flat parameter vector (first-order updates are one pass over it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "buffers.h"
#include "collective.h"
#include "layer.h"

namespace kb {

// Checks a stack: each layer after the one below it (Layer::check_below), sizes that chain, and a last layer
// with weights that gives a vector (the model's outputs); Error(InvalidArgument) naming the layer.
void check_layers(const std::vector<std::unique_ptr<Layer>>& stack);

class Network;

// What one minibatch's forward/backward keeps (algorithm.md §1): every layer's buffers (core/layer.h), and per
// layer with weights l the augmented input abar (rows x n, last column 1), the pre-activations h (rows x d) and
// the per-sample pre-activation gradients g = d loss_i / d h (rows x d, i.e. m times the gradient of the mean
// loss), rows = m · locations. Buffers are allocated once per capacity and reused.
class Workspace {
 public:
  Workspace(const Network& net, int capacity);
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
  std::vector<LayerBuffers> layers;  // layers[i]: the buffers of the stack's layer i
  std::vector<float*> abar;    // abar[l]: input rows of layer l (convolution: patches), with the homogeneous column
  std::vector<float*> h;       // h[l]: pre-activations of layer l
  std::vector<float*> g;       // g[l]: per-sample gradients of the loss w.r.t. h[l]
  float* patch_scratch = nullptr;  // a convolution's patch gradients, or its patches formed in chunks
  float* output = nullptr;     // a_L (aliases h[L-1] when the last activation is linear)
  float* target = nullptr;     // m x d_L targets of the batch
  float* grad = nullptr;       // flat gradient of the mean data loss, laid out like the parameters
  // Training passes (those that compute a gradient) drop units of dropout layers; each such pass draws a new
  // mask from the layer's seed and the network's count of such passes, kept in backend memory (2 floats,
  // rules/rng.h's counter) so that a GPU can record a pass that draws (algorithm.md §18.5).
  bool training = false;
  const float* pass_counter = nullptr;
  // A token model's next-token targets (m x tokens ids), expanded into one-hot rows of `target` (§18.1).
  float* target_ids = nullptr;
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
  Network(Backend& backend, std::vector<std::unique_ptr<Layer>> stack, Loss loss);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Backend& backend() const { return backend_; }
  // The ranks this network trains with (algorithm.md §13); single_process() unless a fit runs distributed.
  Collective& collective() const { return *collective_; }
  void set_collective(Collective* c) { collective_ = c ? c : &single_process(); }
  Loss loss_kind() const { return loss_; }
  // Every layer, as lib/layers.ts lists them.
  const std::vector<std::unique_ptr<Layer>>& stack() const { return stack_; }
  // The layers with weights, l = 0 .. num_layers() - 1: what the optimizers precondition.
  int num_layers() const { return (int)weighted_.size(); }
  const Layer& layer(int l) const { return *stack_[weighted_[l]]; }
  int input_dim() const { return (int)stack_.front()->input_size(); }
  int output_dim() const { return (int)stack_.back()->output_size(); }
  // Token positions of the output (a token model, §18.1) or 0: the loss is then a softmax over each token row of
  // output_row() values, averaged over the positions, and the targets are one id per position.
  int output_tokens() const { return stack_.back()->tokens(); }
  int output_row() const { return (int)stack_.back()->output_row(); }
  // Target values per sample: output_dim(), or the ids of a token model.
  int target_dim() const { return output_tokens() ? output_tokens() : output_dim(); }
  // W_l is rows(l) x cols(l) = d_l x n_l.
  int rows(int l) const { return layer(l).weight_rows(); }
  int cols(int l) const { return layer(l).weight_cols(); }
  size_t offset(int l) const { return offsets_[l]; }
  size_t param_count() const { return offsets_.back(); }
  float* params() { return params_; }
  const float* params() const { return params_; }
  float* weights(int l) { return params_ + offsets_[l]; }

  // Whether the convolutions keep their patches in abar after the passes (the optimizer reads them: KFAC's and
  // K-BFGS's statistics) or may form them in cache twice, for the forward product and the weight gradient
  // (algorithm.md §12.6). Set from Optimizer::reads_layer_inputs when an optimizer is attached, and for each
  // training step from Optimizer::step_reads_layer_inputs (core/trainer.cc).
  void set_keep_patches(bool keep) { keep_patches_ = keep; }
  bool keep_patches() const { return keep_patches_; }

  // Training passes so far (dropout masks, §18.5); a checkpoint keeps the count so a resumed run draws on.
  uint64_t training_passes() const { return training_passes_; }
  void set_training_passes(uint64_t passes);
  const float* pass_counter() const { return pass_counter_; }  // the count in backend memory

  // Every layer's weights from one seeded SplitMix64 stream, layer by layer (Layer::initialize, algorithm.md §7.2).
  void initialize(uint64_t seed);

  // Copies the input rows of host-or-staged data into ws (the first layer's input).
  void load_inputs(Workspace& ws, const float* x, const uint32_t* rows, int m) const;
  // Copies the batch rows (inputs and targets) of host-or-staged data into ws.
  void load_batch(Workspace& ws, const float* x, const float* y, const uint32_t* rows, int m) const;
  // What a forward pass leaves besides the activations: the summed (not averaged) data loss of the batch,
  // the output gradient d loss_i / d a_L for backward(), both, or neither. Reading the loss makes a GPU
  // backend wait for the pass, so passes whose loss nobody reads skip it.
  enum class Want { Nothing, Loss, Gradient, LossAndGradient };
  // Forward pass over the loaded inputs; returns the loss when wanted, else NaN. second_pass: a pass over the
  // inputs of the last forward pass (K-BFGS's second pass) whose patches nobody reads afterwards: a convolution
  // first layer keeps the patches of its unchanged inputs, and on the CPU the other convolutions form theirs a
  // few images at a time, in cache, without keeping them (algorithm.md §12.4).
  double forward(Workspace& ws, Want want, bool second_pass = false);
  // d loss_i / d a_L of the current forward output against targets (ws.target when null), into the last layer's
  // output gradient for backward(); returns the summed loss when want_loss, else NaN. KFAC calls it again with
  // sampled targets.
  double output_gradient(Workspace& ws, const float* targets, bool want_loss);
  // The same for targets sampled from the model's output (KFAC, algorithm.md §5), written to targets; the loss
  // is not computed. The seed is splitmix64_mix of the counter in backend memory, which then advances by one
  // (Backend::sampled_gradient_counted).
  void sampled_output_gradient(Workspace& ws, float* seed_counter, float* targets);
  // Propagates the output gradient down the stack: afterwards g[l] = d loss_i / d h_l of every layer with
  // weights. If weight_grad is not null it receives the mean-loss gradient (1/batch) sum_i g_l^(i) abar^(i)^T
  // of every layer, laid out like the parameters, summed over the ranks.
  void backward(Workspace& ws, float* weight_grad);

 private:
  LayerPass pass(Workspace& ws, int i, bool second_pass) const;
  // A token model's per-position loss as the mean over its positions (§18.1): the backend's loss over the
  // m·tokens rows, then scaled by 1/tokens (the loss, its squares, and the gradient).
  double scaled_token_loss(double summed, Workspace& ws, float* grad) const;

  Backend& backend_;
  std::vector<std::unique_ptr<Layer>> stack_;
  std::vector<int> weighted_;    // weighted_[l]: the stack index of layer l with weights
  std::vector<int> weight_of_;   // weight_of_[i]: l of stack layer i, or -1
  Loss loss_;
  std::vector<size_t> offsets_;  // offsets_[l] = start of W_l; offsets_[L] = total
  float* params_ = nullptr;
  Collective* collective_ = &single_process();
  uint64_t training_passes_ = 0;  // of this network, over all workspaces (dropout masks, §18.5)
  float* pass_counter_ = nullptr;  // the same count in backend memory, which the dropout layers read
  bool keep_patches_ = true;
};

}  // namespace kb
