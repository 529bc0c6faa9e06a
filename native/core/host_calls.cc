#include "host_calls.h"

#include "data_parallel.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace kb {

void fit_host(Network& net, TrainingState& state, const DataView& train, const DataView* validation,
              const FitConfig& config, const FitCallbacks& callbacks, const std::atomic<bool>& cancel) {
  auto check = [&](const DataView& data, const char* inputs, const char* targets) {
    check_finite(data.x, data.rows, net.input_dim(), inputs);
    if (data.y != data.x) check_finite(data.y, data.rows, net.target_dim(), targets);
  };
  check(train, "training inputs", "training targets");
  if (validation) check(*validation, "validation inputs", "validation targets");
  check_same_run(net, train, config, *state.optimizer, state.rules);
  Backend& be = net.backend();
  const StagedData staged_train(be, train, net.input_dim(), net.target_dim());
  std::unique_ptr<StagedData> staged_validation;
  if (validation) staged_validation = std::make_unique<StagedData>(be, *validation, net.input_dim(), net.target_dim());
  fit(net, state, staged_train.view(), staged_validation ? &staged_validation->view() : nullptr, config, callbacks,
      cancel);
}

Evaluation evaluate_host(Network& net, const DataView& data) {
  check_finite(data.x, data.rows, net.input_dim(), "inputs");
  const StagedData staged(net.backend(), data, net.input_dim(), net.target_dim());
  Workspace ws(net, std::min(data.rows, kChunkRows));
  Evaluation result;
  result.loss = mean_loss(net, ws, staged.view(), &result.accuracy);
  check_loss_finite(net, ws, staged.view(), result.loss, "inputs");
  return result;
}

void predict_host(Network& net, const float* x, int rows, bool logits, float* out) {
  Backend& be = net.backend();
  check_finite(x, rows, net.input_dim(), "inputs");
  const int d = net.output_dim(), cap = std::min(rows, kChunkRows);
  const StagedData staged(be, DataView{x, x, rows}, net.input_dim(), net.input_dim());
  Workspace ws(net, cap);
  std::vector<uint32_t> idx(cap);
  for (int start = 0; start < rows; start += cap) {
    const int m = std::min(cap, rows - start);
    std::iota(idx.begin(), idx.begin() + m, (uint32_t)start);
    net.load_inputs(ws, staged.view().x, idx.data(), m);
    be.fill(ws.target, 0.0f, (size_t)m * d);
    net.forward(ws, Network::Want::Nothing);
    if (logits) {
      be.to_host(out + (size_t)start * d, ws.output, (size_t)m * d);
    } else {
      const int rows_per_sample = std::max(1, net.output_tokens());  // a softmax per token row (§18.1)
      be.link(net.loss_kind(), ws.output, m * rows_per_sample, d / rows_per_sample, ws.g.back());
      be.to_host(out + (size_t)start * d, ws.g.back(), (size_t)m * d);
    }
  }
}

double loss_gradient_host(Network& net, const DataView& data, float* gradient) {
  Backend& be = net.backend();
  const StagedData staged(be, data, net.input_dim(), net.target_dim());
  Workspace ws(net, data.rows);
  std::vector<uint32_t> idx(data.rows);
  std::iota(idx.begin(), idx.end(), 0u);
  net.load_batch(ws, staged.view().x, staged.view().y, idx.data(), data.rows);
  const double loss = net.forward(ws, Network::Want::LossAndGradient) / data.rows;
  net.backward(ws, ws.grad);
  be.to_host(gradient, ws.grad, net.param_count());
  return loss;
}

}  // namespace kb
