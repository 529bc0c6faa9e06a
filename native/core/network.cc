// Forward and backward of the network over its stack of layers (core/layer.h; algorithm.md §1, §12, §16).
// Tested against finite differences in test/gradients.test.ts and against the float64 reference in the golden
// suites (algorithm.md §14).
#include "network.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "errors.h"
#include "memory_check.h"
#include "../rules/rng.h"

namespace kb {

void check_layers(const std::vector<std::unique_ptr<Layer>>& stack) {
  if (stack.empty()) throw Error(ErrorKind::InvalidArgument, "a model needs at least one layer");
  for (size_t i = 0; i < stack.size(); ++i) {
    const Layer* below = i ? stack[i - 1].get() : nullptr;
    stack[i]->check_below((int)i, below);
    if (below && stack[i]->input_size() != below->output_size())
      throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " takes " + std::to_string(stack[i]->input_size()) +
                                                  " inputs but layer " + std::to_string(i - 1) + " gives " +
                                                  std::to_string(below->output_size()));
  }
  for (size_t i = 0; i < stack.size(); ++i) {
    const int start = stack[i]->skip_from();
    if (start < 0) continue;
    if (std::string(stack[start]->kind()) != "residualStart" || stack[start]->output_size() != stack[i]->output_size())
      throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " ends a residual block whose start, layer " +
                                                  std::to_string(start) + ", is not a residualStart of the same width");
  }
  const Layer& last = *stack.back();
  if (!last.has_weights() || last.output_kind() == DataKind::Image || last.first_order_only())
    throw Error(ErrorKind::InvalidArgument, "the last layer must be dense (it gives the model's outputs)");
}

Workspace::Workspace(const Network& net, int capacity) : capacity_(capacity) {
  Backend& backend = net.backend();
  const auto& stack = net.stack();
  const uint64_t m = (uint64_t)capacity;
  std::vector<MemoryPart> parts;
  std::vector<LayerMemory> needs;
  uint64_t grad_scratch = 0, patch_scratch_size = 0;
  for (size_t i = 0; i < stack.size(); ++i) {  // sizes in 64 bits until require_memory has checked them (memory_check.h)
    needs.push_back(stack[i]->memory(m, i == 0));
    const LayerMemory& need = needs.back();
    if (need.own) parts.push_back({layer_name((int)i, stack[i]->kind()) + ": " + need.description, need.own});
    grad_scratch = std::max(grad_scratch, need.grad_scratch);
    patch_scratch_size = std::max(patch_scratch_size, need.patch_scratch);
  }
  if (grad_scratch + patch_scratch_size > 0)
    parts.push_back({"the gradients of the convolutions' inputs", grad_scratch + patch_scratch_size});
  parts.push_back({"the output and the gradient", 2 * m * net.output_dim() + net.param_count()});
  require_memory(backend, "The workspace for batches of " + std::to_string(m) + " rows", parts);
  owned_.bind(backend);
  auto take = [&](size_t count) { return owned_.take(count); };
  layers.resize(stack.size());
  for (size_t i = 0; i < stack.size(); ++i) stack[i]->bind(backend, capacity, layers[i], take);
  // A pooling layer's output gradient lives in the shared scratch; a layer that keeps no buffers (flatten)
  // shares the input of the layer above and the output gradient of the layer below.
  if (grad_scratch) {
    float* scratch = take(grad_scratch);
    for (size_t i = 0; i < stack.size(); ++i)
      if (needs[i].grad_scratch) layers[i].out_grad = {scratch, (int)stack[i]->output_size()};
  }
  for (size_t i = stack.size() - 1; i-- > 0;)
    if (!layers[i].in.data) layers[i].in = layers[i + 1].in;
  for (size_t i = 1; i < stack.size(); ++i)
    if (!layers[i].out_grad.data) layers[i].out_grad = layers[i - 1].out_grad;
  if (patch_scratch_size) patch_scratch = take(patch_scratch_size);
  for (size_t i = 0; i < stack.size(); ++i) {
    if (!stack[i]->has_weights()) continue;
    locations_.push_back(stack[i]->locations());
    abar.push_back(layers[i].abar);
    h.push_back(layers[i].h);
    g.push_back(layers[i].g);
  }
  output = stack.back()->output_is_h() ? h.back() : take(m * net.output_dim());
  target = take(m * net.output_dim());
  if (net.output_tokens()) target_ids = take(m * net.target_dim());
  pass_counter = net.pass_counter();
  grad = take(net.param_count());
}

Network::Network(Backend& backend, std::vector<std::unique_ptr<Layer>> stack, Loss loss)
    : backend_(backend), stack_(std::move(stack)), loss_(loss) {
  check_layers(stack_);
  if (output_tokens() && loss_ != Loss::SoftmaxCrossEntropy)
    throw Error(ErrorKind::InvalidArgument, "a model with token outputs takes loss 'softmaxCrossEntropy' (one softmax per token)");
  for (size_t i = 0; i < stack_.size(); ++i) {
    weight_of_.push_back(stack_[i]->has_weights() ? (int)weighted_.size() : -1);
    if (stack_[i]->has_weights()) weighted_.push_back((int)i);
  }
  uint64_t count = 0;  // in 64 bits: where size_t has 32 (wasm32), more parameters than it can count are refused
  for (int l = 0; l < num_layers(); ++l) count += (uint64_t)rows(l) * cols(l);
  if (count > SIZE_MAX / sizeof(float)) require_memory(backend_, "The parameters", {{"the weights", count}});
  offsets_.push_back(0);
  for (int l = 0; l < num_layers(); ++l) offsets_.push_back(offsets_.back() + (size_t)rows(l) * cols(l));
  params_ = backend_.alloc(param_count());
  pass_counter_ = backend_.alloc(2);  // zero: no training pass yet
}

Network::~Network() {
  backend_.release(pass_counter_);
  backend_.release(params_);
}

void Network::set_training_passes(uint64_t passes) {
  training_passes_ = passes;
  float counter[2];
  store_counter(counter, passes);
  backend_.to_device(pass_counter_, counter, 2);
}

void Network::initialize(uint64_t seed) {
  Rng rng(seed);
  std::vector<float> host(param_count());
  for (int l = 0; l < num_layers(); ++l) layer(l).initialize(rng, host.data() + offsets_[l]);
  backend_.to_device(params_, host.data(), host.size());
}

void Network::load_inputs(Workspace& ws, const float* x, const uint32_t* rows, int m) const {
  ws.m = m;
  ws.batch = m;
  ws.first = 0;
  const Rows in = ws.layers[0].in;
  backend_.gather_rows(in.data, in.ld, x, input_dim(), rows, m);
}

void Network::load_batch(Workspace& ws, const float* x, const float* y, const uint32_t* rows, int m) const {
  load_inputs(ws, x, rows, m);
  if (!output_tokens()) {
    backend_.gather_rows(ws.target, output_dim(), y, output_dim(), rows, m);
    return;
  }
  // Next-token ids become one-hot rows of the vocabulary (§18.1), checked first.
  const int positions = output_tokens(), classes = output_row();
  backend_.gather_rows(ws.target_ids, positions, y, positions, rows, m);
  const int64_t bad = backend_.first_bad_id(ws.target_ids, m, positions, positions, classes);
  if (bad >= 0) {
    float id = 0;
    backend_.to_host(&id, ws.target_ids + bad, 1);
    throw Error(ErrorKind::InvalidData, "target token id " + std::to_string(id) + " (row " + std::to_string(rows[bad / positions]) +
                                            ", position " + std::to_string(bad % positions) + ") is not in [0, " +
                                            std::to_string(classes) + ")");
  }
  backend_.one_hot(ws.target_ids, (size_t)m * positions, classes, ws.target);
}

LayerPass Network::pass(Workspace& ws, int i, bool second_pass) const {
  const int l = weight_of_[i];
  return {backend_, ws, ws.layers[i], l >= 0 ? params_ + offsets_[l] : nullptr, i == 0, second_pass, keep_patches_};
}

double Network::forward(Workspace& ws, Want want, bool second_pass) {
  const int depth = (int)stack_.size();
  // Passes that compute a gradient train: dropout layers draw a new mask (§18.5).
  ws.training = want == Want::Gradient || want == Want::LossAndGradient;
  if (ws.training && !second_pass) {
    ++training_passes_;
    backend_.advance_counter(pass_counter_);
  }
  for (int i = 0; i < depth; ++i) {
    // Each layer writes the next one's input (a dense layer's abar after its homogeneous column's stride, an
    // image, token rows), the last the network's output.
    const Rows out = i + 1 < depth ? ws.layers[i + 1].in : Rows{ws.output, output_row()};
    stack_[i]->forward(pass(ws, i, second_pass), out);
  }
  const int tokens = std::max(1, output_tokens());
  switch (want) {
    case Want::Nothing: return NAN;
    case Want::Loss:
      return scaled_token_loss(backend_.loss(loss_, ws.output, ws.target, ws.m * tokens, output_row(), nullptr, &ws.loss_square_sum), ws, nullptr);
    case Want::Gradient: return output_gradient(ws, nullptr, false);
    case Want::LossAndGradient: return output_gradient(ws, nullptr, true);
  }
  return NAN;
}

double Network::scaled_token_loss(double summed, Workspace& ws, float* grad) const {
  const int tokens = output_tokens();
  if (!tokens) return summed;
  const float scale = 1.0f / (float)tokens;
  // d (mean over positions) / d z = (1/tokens) d loss_t / d z. The squares of the per-token losses stand in for
  // those of the per-sample means (the safeguard's noise estimate, §11.2).
  if (grad) backend_.axpby((size_t)ws.m * output_dim(), 0.0f, grad, scale, grad);
  if (std::isnan(summed)) return summed;
  ws.loss_square_sum /= (double)tokens * tokens;
  return summed / tokens;
}

double Network::output_gradient(Workspace& ws, const float* targets, bool want_loss) {
  const int rows = ws.m * std::max(1, output_tokens()), d = output_row();
  const float* t = targets ? targets : ws.target;
  float* grad = ws.layers.back().out_grad.data;
  double loss = NAN;
  if (want_loss) loss = backend_.loss(loss_, ws.output, t, rows, d, grad, &ws.loss_square_sum);
  else backend_.loss_gradient(loss_, ws.output, t, rows, d, grad);
  return scaled_token_loss(loss, ws, grad);
}

void Network::sampled_output_gradient(Workspace& ws, float* seed_counter, float* targets) {
  const int tokens = std::max(1, output_tokens()), d = output_row();
  float* grad = ws.layers.back().out_grad.data;
  backend_.sampled_gradient_counted(loss_, ws.output, ws.m * tokens, d, seed_counter, (uint64_t)ws.first * tokens * d,
                                    targets, grad);
  scaled_token_loss(NAN, ws, grad);
}

void Network::backward(Workspace& ws, float* weight_grad) {
  for (int i = (int)stack_.size() - 1; i >= 0; --i) {
    const int l = weight_of_[i];
    const Rows in_grad = i > 0 ? ws.layers[i - 1].out_grad : Rows{};
    stack_[i]->backward(pass(ws, i, false), in_grad, weight_grad && l >= 0 ? weight_grad + offsets_[l] : nullptr);
  }
  if (weight_grad) collective_->sum(backend_, weight_grad, param_count());  // the other ranks' rows (§13.1)
}

}  // namespace kb
