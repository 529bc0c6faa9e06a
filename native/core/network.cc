// Forward and backward of the dense network (algorithm.md §1). Tested against finite differences in
// test/gradients.test.ts.
#include "network.h"

#include <cmath>
#include <string>
#include <vector>

#include "memory_check.h"
#include "rng.h"

namespace kb {

Workspace::Workspace(Backend& backend, const std::vector<LayerSpec>& layers, int capacity, size_t param_count)
    : capacity_(capacity) {
  const size_t m = (size_t)capacity;
  std::vector<MemoryPart> parts;
  for (size_t l = 0; l < layers.size(); ++l)
    parts.push_back({"layer " + std::to_string(l) + " (" + std::to_string(m) + " rows of " +
                         std::to_string(layers[l].in + 1) + " inputs and 2 x " + std::to_string(layers[l].out) + " outputs)",
                     m * (layers[l].in + 1 + 2 * layers[l].out)});
  parts.push_back({"the output and the gradient", 2 * m * layers.back().out + param_count});
  require_memory(backend, "The workspace for batches of " + std::to_string(m) + " rows", parts);
  owned_.bind(backend);
  auto take = [&](size_t count) { return owned_.take(count); };
  for (const LayerSpec& layer : layers) {
    float* a = take(m * (layer.in + 1));
    backend.set_column(a, capacity, layer.in + 1, layer.in, 1.0f);  // the homogeneous coordinate, set once
    abar.push_back(a);
    h.push_back(take(m * layer.out));
    g.push_back(take(m * layer.out));
  }
  output = layers.back().activation == Activation::Linear ? h.back() : take(m * layers.back().out);
  target = take(m * layers.back().out);
  grad = take(param_count);
}

Network::Network(Backend& backend, std::vector<LayerSpec> layers, Loss loss)
    : backend_(backend), layers_(std::move(layers)), loss_(loss) {
  offsets_.push_back(0);
  for (int l = 0; l < num_layers(); ++l) offsets_.push_back(offsets_.back() + (size_t)rows(l) * cols(l));
  params_ = backend_.alloc(param_count());
}

Network::~Network() { backend_.release(params_); }

void Network::initialize(uint64_t seed) {
  Rng rng(seed);
  std::vector<float> host(param_count());
  for (int l = 0; l < num_layers(); ++l) {
    const int d = rows(l), n = cols(l);
    const double bound = 1.0 / std::sqrt((double)layers_[l].in);
    float* w = host.data() + offsets_[l];
    // Weights first (row by row), then the bias column: the order PyTorch's nn.Linear draws them.
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < n - 1; ++j) w[(size_t)i * n + j] = (float)((2 * rng.uniform() - 1) * bound);
    for (int i = 0; i < d; ++i) w[(size_t)i * n + n - 1] = (float)((2 * rng.uniform() - 1) * bound);
  }
  backend_.to_device(params_, host.data(), host.size());
}

void Network::load_batch(Workspace& ws, const float* x, const float* y, const uint32_t* rows, int m) const {
  ws.m = m;
  backend_.gather_rows(ws.abar[0], cols(0), x, input_dim(), rows, m);
  backend_.gather_rows(ws.target, output_dim(), y, output_dim(), rows, m);
}

double Network::forward(Workspace& ws, Want want) {
  const int m = ws.m, L = num_layers();
  for (int l = 0; l < L; ++l) {
    const int d = rows(l), n = cols(l);
    // h = abar W^T  (algorithm.md §1: h_l = W_l abar_{l-1}, one row per sample)
    backend_.gemm(false, true, m, d, n, 1.0f, ws.abar[l], n, weights(l), n, 0.0f, ws.h[l], d);
    float* out = l + 1 < L ? ws.abar[l + 1] : ws.output;
    const int ld_out = l + 1 < L ? d + 1 : d;
    if (out != ws.h[l]) backend_.activation_forward(layers_[l].activation, ws.h[l], m, d, d, out, ld_out);
  }
  switch (want) {
    case Want::Nothing: return NAN;
    case Want::Loss: return backend_.loss(loss_, ws.output, ws.target, m, output_dim(), nullptr);
    case Want::Gradient: return output_gradient(ws, nullptr, false);
    case Want::LossAndGradient: return output_gradient(ws, nullptr, true);
  }
  return NAN;
}

double Network::output_gradient(Workspace& ws, const float* targets, bool want_loss) {
  const int L = num_layers(), d = output_dim();
  const float* t = targets ? targets : ws.target;
  double total = NAN;
  if (want_loss) total = backend_.loss(loss_, ws.output, t, ws.m, d, ws.g[L - 1]);
  else backend_.loss_gradient(loss_, ws.output, t, ws.m, d, ws.g[L - 1]);
  backend_.activation_backward(layers_[L - 1].activation, ws.h[L - 1], ws.m, d, ws.g[L - 1], d);
  return total;
}

void Network::sampled_output_gradient(Workspace& ws, uint64_t seed, float* targets) {
  const int L = num_layers(), d = output_dim();
  backend_.sampled_gradient(loss_, ws.output, ws.m, d, seed, targets, ws.g[L - 1]);
  backend_.activation_backward(layers_[L - 1].activation, ws.h[L - 1], ws.m, d, ws.g[L - 1], d);
}

void Network::backward(Workspace& ws, float* weight_grad) {
  const int m = ws.m;
  for (int l = num_layers() - 1; l >= 0; --l) {
    const int d = rows(l), n = cols(l);
    if (weight_grad)  // dW = (1/m) g^T abar
      backend_.gemm(true, false, d, n, m, 1.0f / m, ws.g[l], d, ws.abar[l], n, 0.0f, weight_grad + offsets_[l], n);
    if (l > 0) {  // g_{l-1} = (g_l W_l[:, :n-1]) .* phi'(h_{l-1})
      backend_.gemm(false, false, m, n - 1, d, 1.0f, ws.g[l], d, weights(l), n, 0.0f, ws.g[l - 1], n - 1);
      backend_.activation_backward(layers_[l - 1].activation, ws.h[l - 1], m, n - 1, ws.g[l - 1], n - 1);
    }
  }
}

}  // namespace kb
