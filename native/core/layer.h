// The layer interface of the engine (algorithm.md §1, §12, §16): one class per layer kind, each in its own file
// under core/layers/, one kind per layer config of lib/layers.ts.
//
// A network is a stack of layers. Each layer reads its input from its own input buffer (written by the layer
// below, or by the data loader), writes its output into the buffer of the layer above, and in the backward
// pass turns d loss / d output into d loss / d input. A layer with weights holds W (rows x cols, row-major,
// the bias as the last column: algorithm.md §1) and keeps what the curvature methods read: its input rows
// abar (the input statistics), its pre-activations h and their gradients g (the output-gradient
// statistics), `locations` rows of each per sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "backend.h"

namespace kb {

class Rng;
class Workspace;

// Per-sample rows of a buffer: sample i's values start at data + i * ld.
struct Rows {
  float* data = nullptr;
  int ld = 0;
};

// What a layer works in, for batches of up to the workspace's capacity (Workspace binds them).
struct LayerBuffers {
  Rows in;        // the layer's input, as the layer below (or the data loader) writes it
  Rows out_grad;  // d loss / d output, as the layer above (or the loss) writes it
  // A layer with weights: abar (input rows with the homogeneous column, rows x cols), h (pre-activations,
  // rows x weight rows) and g (d loss_i / d h after backward), rows = m · locations.
  float* abar = nullptr;
  float* h = nullptr;
  float* g = nullptr;
  // What a kind keeps from forward for its backward (a layer norm's normalized rows, attention's weights, a
  // dropout mask, a residual block's skipped gradient).
  float* saved = nullptr;
};

// One forward or backward of one layer over the workspace's current batch.
struct LayerPass {
  Backend& backend;
  Workspace& ws;
  const LayerBuffers& own;
  const float* weights;  // W, or null for a layer without weights
  bool first;            // the network's first layer: its input is the batch itself
  bool second_pass;      // K-BFGS's second pass over the same inputs (Network::forward)
  bool keep_patches;     // the optimizer reads the layers' abar after the passes (Network::set_keep_patches)
};

// Floats a layer's buffers take for batches of m samples, and the shared scratch it needs (Workspace).
struct LayerMemory {
  uint64_t own = 0;             // its buffers
  uint64_t grad_scratch = 0;    // d loss / d output kept for it in the shared scratch (a pooling layer)
  uint64_t patch_scratch = 0;   // the patch gradients and cached patches of a convolution above the first layer
  std::string description;      // for the memory check's message
};

// What a layer's input or output is: a vector per sample, an image (HWC, image_geometry.h), or a sequence of
// tokens (algorithm.md §18): `tokens()` rows per sample of equal width, and a Rows' ld is then the stride between
// token rows (sample i's token t starts at data + (i·tokens + t)·ld).
enum class DataKind { Vector, Image, Tokens };

class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* kind() const = 0;  // the engine's name of the kind, as lib/layers.ts sends it
  virtual size_t input_size() const = 0;   // values per sample
  virtual size_t output_size() const = 0;  // values per sample
  virtual DataKind output_kind() const = 0;
  // Token rows per sample of the output (DataKind::Tokens), else 0.
  virtual int tokens() const { return 0; }
  // The curvature methods count each token row of a layer over tokens as a sample of its own (the "expand"
  // setting, algorithm.md §18.6): the sequence length S by which they divide A and multiply g, else 1.
  int tokens_as_samples() const { return tokens() > 0 && has_weights() ? tokens() : 1; }
  // Values per row of the output: per token row for token output, else per sample.
  size_t output_row() const { return tokens() ? output_size() / tokens() : output_size(); }
  // Weights for which the curvature methods keep no statistics (a layer norm's gains and biases, algorithm.md
  // §18.6): KFAC and K-BFGS give them their damped identity preconditioner.
  virtual bool first_order_only() const { return false; }
  // Throws Error(InvalidArgument) naming layer i when the layer cannot follow `below` (null: the input).
  virtual void check_below(int i, const Layer* below) const {}
  // The end of a residual block: the stack index of its start (check_layers checks it), else -1.
  virtual int skip_from() const { return -1; }

  // Weights and what a curvature method reads (none: weight_rows() == 0). W is weight_rows x weight_cols
  // with the bias as its last column; abar has weight_cols columns and h, g weight_rows, `locations` rows
  // per sample each (a convolution's output locations, algorithm.md §12).
  virtual int weight_rows() const { return 0; }
  virtual int weight_cols() const { return 0; }
  bool has_weights() const { return weight_rows() > 0; }
  virtual int locations() const { return 1; }
  // K-BFGS: true when A s_a comes from the batch's own input rows instead of a kept moving average of A
  // (many rows per sample make the average costly: algorithm.md §12.4).
  virtual bool hessian_action_from_batch() const { return false; }
  // Draws W from the seeded stream (algorithm.md §7.2).
  virtual void initialize(Rng& rng, float* weights) const {}
  // True when the output is h itself (a linear activation): the network's output then aliases h.
  virtual bool output_is_h() const { return false; }

  virtual LayerMemory memory(uint64_t m, bool first) const = 0;
  // Sets own.in, own.out_grad and the statistics buffers from `take` (a layer that keeps none of its own, like
  // flatten, leaves in and out_grad null: it shares the layer above's input and the layer below's gradient).
  virtual void bind(Backend& backend, int capacity, LayerBuffers& own,
                    const std::function<float*(size_t)>& take) const = 0;
  // Reads own.in, writes `out` (the next layer's input, or the network's output).
  virtual void forward(const LayerPass& pass, Rows out) const = 0;
  // Turns own.out_grad (d loss / d output) into in_grad (d loss / d input; null data: nobody needs it) and,
  // when weight_grad is not null, into the mean-loss gradient of W (laid out like W).
  virtual void backward(const LayerPass& pass, Rows in_grad, float* weight_grad) const = 0;
};

// The settings of one layer as lib/layers.ts sends them (read by the addon); each getter throws
// Error(InvalidArgument) naming the layer and the key when it is missing or malformed.
class LayerFields {
 public:
  virtual ~LayerFields() = default;
  virtual int whole(const char* key) const = 0;  // a whole number
  virtual double number(const char* key) const = 0;  // a finite number
  virtual bool flag(const char* key) const = 0;
  virtual std::string text(const char* key) const = 0;
};

// Layer i of kind `type` from its settings: the registry of kinds (core/layers/registry.cc).
std::unique_ptr<Layer> make_layer(int i, const std::string& type, const LayerFields& fields);

// Helpers the kinds share (core/layer.cc).
// "layer i (kind)" for messages.
std::string layer_name(int i, const char* kind);
// The "activation" setting by name (Error InvalidArgument naming layer i when unknown).
Activation activation_field(int i, const LayerFields& fields);
// The longest sequence a token layer takes (lib/layers.ts has the same bound).
constexpr int kMaxTokens = 1 << 14;
// The "tokens" setting: token rows per sample, 0 for a layer over vectors (Error InvalidArgument naming layer i
// when out of range).
int token_field(int i, const LayerFields& fields);
// W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = cols − 1, weights row by row, then the bias column (the
// order PyTorch's nn.Linear draws them); without bias the bias column stays 0 (algorithm.md §7.2).
void initialize_uniform(Rng& rng, float* w, int rows, int cols, bool bias);

}  // namespace kb
