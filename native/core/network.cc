// Forward and backward of the network: dense layers (algorithm.md §1) and convolutions with their pooling
// (algorithm.md §12). Tested against finite differences in test/gradients.test.ts and against the float64
// reference in the golden suites (algorithm.md §14).
#include "network.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "errors.h"
#include "memory_check.h"
#include "../rules/rng.h"

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

void check_pool_geometry(const std::string& where, const PoolShape& p) {
  auto fail = [&](const std::string& what) { throw Error(ErrorKind::InvalidArgument, where + ": " + what); };
  if (p.size_h <= 0 || p.size_w <= 0 || p.stride_h <= 0 || p.stride_w <= 0)
    fail("the pooling window and stride must be positive");
  if (p.size_h > p.height || p.size_w > p.width)
    fail("the " + std::to_string(p.size_h) + "x" + std::to_string(p.size_w) + " pooling window is larger than its " +
         std::to_string(p.height) + "x" + std::to_string(p.width) + " input");
}

LayerSpec conv_layer(int l, const ImageShape& in, int filters, int kernel_h, int kernel_w, int stride, int padding,
                     bool bias, Activation activation, PoolShape pool) {
  const std::string where = "layer " + std::to_string(l) + " (conv2d)";
  if (filters <= 0) throw Error(ErrorKind::InvalidArgument, where + ": filters must be positive");
  LayerSpec s;
  s.conv = true;
  s.out = filters;
  s.activation = activation;
  s.patches = {in, kernel_h, kernel_w, stride, padding, bias};
  check_conv_geometry(where, s.patches);
  s.in = s.patches.patch_size();
  if ((size_t)s.in * s.out > (1u << 28)) throw Error(ErrorKind::InvalidArgument, where + ": the kernel has too many weights");
  pool.channels = filters;
  pool.height = s.patches.out_h();
  pool.width = s.patches.out_w();
  check_pool_geometry(where + "'s pooling", pool);
  s.pool = pool;
  return s;
}

void check_layers(const std::vector<LayerSpec>& layers) {
  if (layers.empty()) throw Error(ErrorKind::InvalidArgument, "a model needs at least one layer");
  for (size_t l = 0; l < layers.size(); ++l) {
    const std::string where = "layer " + std::to_string(l);
    if (layers[l].in <= 0 || layers[l].out <= 0 || layers[l].in > (1 << 20) || layers[l].out > (1 << 20))
      throw Error(ErrorKind::InvalidArgument, where + " has an invalid width");
    if (l == 0) continue;
    if (layers[l].conv && !layers[l - 1].conv)
      throw Error(ErrorKind::InvalidArgument, where + ": a conv2d layer can only follow the input or another conv2d layer");
    if (layers[l].input_size() != layers[l - 1].output_size())
      throw Error(ErrorKind::InvalidArgument, where + " takes " + std::to_string(layers[l].input_size()) +
                                                  " inputs but layer " + std::to_string(l - 1) + " gives " +
                                                  std::to_string(layers[l - 1].output_size()));
  }
  if (layers.back().conv)
    throw Error(ErrorKind::InvalidArgument, "the last layer must be dense (flatten the convolution's output first)");
}

Workspace::Workspace(Backend& backend, const std::vector<LayerSpec>& layers, int capacity, size_t param_count)
    : capacity_(capacity) {
  const size_t m = (size_t)capacity;
  const size_t L = layers.size();
  std::vector<MemoryPart> parts;
  uint64_t input_grad_size = 0, patch_grad_size = 0;
  for (size_t l = 0; l < L; ++l) {  // sizes in 64 bits until require_memory has checked them (memory_check.h)
    const LayerSpec& s = layers[l];
    const uint64_t rows = (uint64_t)m * s.locations();
    uint64_t count = rows * (s.in + 1 + 2 * s.out);
    if (s.conv) count += (uint64_t)m * s.input_size() + (l + 1 < L ? rows * s.out : 0);
    if (l > 0 && (s.conv || layers[l - 1].conv)) input_grad_size = std::max<uint64_t>(input_grad_size, (uint64_t)m * s.input_size());
    if (l > 0 && s.conv) patch_grad_size = std::max<uint64_t>(patch_grad_size, rows * s.in);
    parts.push_back({"layer " + std::to_string(l) + " (" + std::to_string(rows) + " rows of " + std::to_string(s.in + 1) +
                         " inputs and 2 x " + std::to_string(s.out) + " outputs" + (s.conv ? ", with its images" : "") + ")",
                     count});
  }
  if (input_grad_size + patch_grad_size > 0)
    parts.push_back({"the gradients of the convolutions' inputs", (uint64_t)input_grad_size + patch_grad_size});
  parts.push_back({"the output and the gradient", 2 * (uint64_t)m * layers.back().out + param_count});
  require_memory(backend, "The workspace for batches of " + std::to_string(m) + " rows", parts);
  owned_.bind(backend);
  auto take = [&](size_t count) { return owned_.take(count); };
  for (size_t l = 0; l < L; ++l) {
    const LayerSpec& s = layers[l];
    const size_t rows = m * s.locations();
    locations_.push_back(s.locations());
    float* a = take(rows * (s.in + 1));
    // The homogeneous coordinate, set once (a convolution's im2col writes its own).
    if (!s.conv) backend.set_column(a, capacity, s.in + 1, s.in, 1.0f);
    abar.push_back(a);
    h.push_back(take(rows * s.out));
    g.push_back(take(rows * s.out));
    image.push_back(s.conv ? take(m * s.input_size()) : nullptr);
    act.push_back(s.conv && l + 1 < L ? take(rows * s.out) : nullptr);
  }
  if (input_grad_size) input_grad = take(input_grad_size);
  if (patch_grad_size) patch_grad = take(patch_grad_size);
  output = layers.back().activation == Activation::Linear ? h.back() : take(m * layers.back().out);
  target = take(m * layers.back().out);
  grad = take(param_count);
}

Network::Network(Backend& backend, std::vector<LayerSpec> layers, Loss loss)
    : backend_(backend), layers_(std::move(layers)), loss_(loss) {
  check_layers(layers_);
  uint64_t count = 0;  // in 64 bits: where size_t has 32 (wasm32), more parameters than it can count are refused
  for (int l = 0; l < num_layers(); ++l) count += (uint64_t)rows(l) * cols(l);
  if (count > SIZE_MAX / sizeof(float)) require_memory(backend_, "The parameters", {{"the weights", count}});
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
    if (layers_[l].conv && !layers_[l].patches.bias) continue;  // b stays 0 (its input is 0)
    for (int i = 0; i < d; ++i) w[(size_t)i * n + n - 1] = (float)((2 * rng.uniform() - 1) * bound);
  }
  backend_.to_device(params_, host.data(), host.size());
}

void Network::load_inputs(Workspace& ws, const float* x, const uint32_t* rows, int m) const {
  ws.m = m;
  ws.batch = m;
  ws.first = 0;
  if (layers_[0].conv) backend_.gather_rows(ws.image[0], input_dim(), x, input_dim(), rows, m);
  else backend_.gather_rows(ws.abar[0], cols(0), x, input_dim(), rows, m);
}

void Network::load_batch(Workspace& ws, const float* x, const float* y, const uint32_t* rows, int m) const {
  load_inputs(ws, x, rows, m);
  backend_.gather_rows(ws.target, output_dim(), y, output_dim(), rows, m);
}

// The patches of conv layer l > 0 formed and multiplied a few images at a time through ws.patch_grad (scratch
// until backward), so that they stay in cache; abar[l] keeps the last first pass's patches. Returns false,
// having done nothing, for a batch of one image and on a GPU, which prefers one large product.
bool Network::conv_forward_in_chunks(Workspace& ws, int l) {
  const LayerSpec& s = layers_[l];
  const int d = rows(l), n = cols(l), T = s.locations();
  const size_t per_image = (size_t)T * n;
  constexpr size_t kChunkFloats = 1 << 19;  // 2 MB of patches per product
  // At most half the batch per chunk, so that every batch of two or more images takes this path (the small
  // networks of the golden tests too); the scratch holds capacity·T·(n − 1) floats.
  const int chunk = (int)std::min({std::max<size_t>(1, kChunkFloats / per_image), (size_t)(ws.m + 1) / 2,
                                   (size_t)ws.capacity() * (n - 1) / n});
  if (!backend_.host_memory() || chunk < 1 || chunk >= ws.m) return false;
  for (int first = 0; first < ws.m; first += chunk) {
    const int count = std::min(chunk, ws.m - first);
    backend_.im2col(s.patches, ws.image[l] + (size_t)first * s.input_size(), count, ws.patch_grad);
    backend_.gemm(false, true, count * T, d, n, 1.0f, ws.patch_grad, n, weights(l), n, 0.0f,
                  ws.h[l] + (size_t)first * T * d, d);
  }
  return true;
}

double Network::forward(Workspace& ws, Want want, bool second_pass) {
  const int m = ws.m, L = num_layers();
  for (int l = 0; l < L; ++l) {
    const LayerSpec& s = layers_[l];
    const int d = rows(l), n = cols(l), r = ws.rows(l);
    if (!(s.conv && second_pass && l > 0 && conv_forward_in_chunks(ws, l))) {
      if (s.conv && !(l == 0 && second_pass)) backend_.im2col(s.patches, ws.image[l], m, ws.abar[l]);
      // h = abar W^T  (algorithm.md §1: h_l = W_l abar_{l-1}, one row per sample, or per location: §12)
      backend_.gemm(false, true, r, d, n, 1.0f, ws.abar[l], n, weights(l), n, 0.0f, ws.h[l], d);
    }
    if (l + 1 == L) {
      if (ws.output != ws.h[l]) backend_.activation_forward(s.activation, ws.h[l], m, d, d, ws.output, d);
      break;
    }
    // The next layer's input: its abar (dense, after the homogeneous column's stride) or its image.
    const bool next_conv = layers_[l + 1].conv;
    float* next = next_conv ? ws.image[l + 1] : ws.abar[l + 1];
    const int ld_next = (int)s.output_size() + (next_conv ? 0 : 1);
    if (!s.conv) {
      backend_.activation_forward(s.activation, ws.h[l], m, d, d, next, ld_next);
    } else {
      backend_.activation_forward(s.activation, ws.h[l], r, d, d, ws.act[l], d);
      backend_.pool_forward(s.pool, ws.act[l], m, next, ld_next);
    }
  }
  switch (want) {
    case Want::Nothing: return NAN;
    case Want::Loss: return backend_.loss(loss_, ws.output, ws.target, m, output_dim(), nullptr, &ws.loss_square_sum);
    case Want::Gradient: return output_gradient(ws, nullptr, false);
    case Want::LossAndGradient: return output_gradient(ws, nullptr, true);
  }
  return NAN;
}

double Network::output_gradient(Workspace& ws, const float* targets, bool want_loss) {
  const int L = num_layers(), d = output_dim();
  const float* t = targets ? targets : ws.target;
  double total = NAN;
  if (want_loss) total = backend_.loss(loss_, ws.output, t, ws.m, d, ws.g[L - 1], &ws.loss_square_sum);
  else backend_.loss_gradient(loss_, ws.output, t, ws.m, d, ws.g[L - 1]);
  backend_.activation_backward(layers_[L - 1].activation, ws.h[L - 1], ws.m, d, ws.g[L - 1], d);
  return total;
}

void Network::sampled_output_gradient(Workspace& ws, uint64_t seed, float* targets) {
  const int L = num_layers(), d = output_dim();
  backend_.sampled_gradient(loss_, ws.output, ws.m, d, seed, (uint64_t)ws.first * d, targets, ws.g[L - 1]);
  backend_.activation_backward(layers_[L - 1].activation, ws.h[L - 1], ws.m, d, ws.g[L - 1], d);
}

void Network::backward(Workspace& ws, float* weight_grad) {
  const int m = ws.m;
  for (int l = num_layers() - 1; l >= 0; --l) {
    const LayerSpec& s = layers_[l];
    const int d = rows(l), n = cols(l), r = ws.rows(l);
    if (weight_grad)  // dW = (1/batch) g^T abar: summed over a convolution's locations, averaged over samples (§12)
      backend_.gemm(true, false, d, n, r, 1.0f / ws.batch, ws.g[l], d, ws.abar[l], n, 0.0f, weight_grad + offsets_[l], n);
    if (l == 0) break;
    const LayerSpec& below = layers_[l - 1];
    if (!s.conv && !below.conv) {  // g_{l-1} = (g_l W_l[:, :n-1]) .* phi'(h_{l-1})
      backend_.gemm(false, false, m, n - 1, d, 1.0f, ws.g[l], d, weights(l), n, 0.0f, ws.g[l - 1], n - 1);
      backend_.activation_backward(below.activation, ws.h[l - 1], m, n - 1, ws.g[l - 1], n - 1);
      continue;
    }
    // The gradient of this layer's input (per sample, as the layer below passed it on) ...
    if (s.conv) {
      backend_.gemm(false, false, r, n - 1, d, 1.0f, ws.g[l], d, weights(l), n, 0.0f, ws.patch_grad, n - 1);
      backend_.col2im(s.patches, ws.patch_grad, n - 1, m, ws.input_grad);
    } else {
      backend_.gemm(false, false, m, n - 1, d, 1.0f, ws.g[l], d, weights(l), n, 0.0f, ws.input_grad, n - 1);
    }
    // ... back through the pooling and the activation of the convolution below.
    backend_.pool_backward(below.pool, ws.act[l - 1], ws.input_grad, (int)below.output_size(), m, ws.g[l - 1]);
    backend_.activation_backward(below.activation, ws.h[l - 1], ws.rows(l - 1), below.out, ws.g[l - 1], below.out);
  }
  if (weight_grad) collective_->sum(backend_, weight_grad, param_count());  // the other ranks' rows (§13.1)
}

}  // namespace kb
