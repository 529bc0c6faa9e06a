// SGD with momentum, Adam, AdamW and RMSprop: PyTorch semantics or the reference protocol of algorithm.md §2 and §6.
#pragma once

#include "../core/backend.h"
#include "../core/buffers.h"
#include "../core/errors.h"
#include "../rules/first_order_rule.h"
#include "../core/optimizer.h"

namespace kb {

class FirstOrderOptimizer final : public Optimizer {
 public:
  explicit FirstOrderOptimizer(const FirstOrderUpdate& settings) : settings_(settings) {}

  const char* name() const override;
  void attach(Network& net, int batch_capacity, int train_rows) override;
  // Only the paper's RMSprop warm-starts: v = mean over one pass of (grad + tau theta)^2 (algorithm.md §6).
  bool reads_layer_inputs() const override { return false; }  // the gradient is all it reads
  bool wants_warm_start() const override { return settings_.paper && settings_.kind == FirstOrderUpdate::RmsProp; }
  void warm_start_batch(Network& net, Workspace& ws, int j) override;
  void step(Network& net, Workspace& ws, int64_t k) override;
  // AdamW's decay is no term of the objective (algorithm.md §15.1): its reported loss is the data loss.
  float weight_decay() const override { return settings_.decoupled ? 0.0f : settings_.weight_decay; }
  void state_buffers(std::vector<StateBuffer>& out) override;
  void state_scalars(StateScalars& out) const override { out.push_back({"lr", settings_.lr}); }
  void set_scalar(const std::string& name, double value) override {
    if (name == "lr") settings_.lr = (float)value;
  }
  void raise_damping() override { settings_.lr *= 0.5f; }  // no damping to raise: smaller steps instead
  void set_hyperparameter(const std::string& name, double value) override {
    if (name != "lr") throw Error(ErrorKind::InvalidArgument, std::string(this->name()) + " has no hyperparameter '" + name + "' to change");
    settings_.lr = (float)value;
  }
  void hyperparameters(Diagnostics& out) const override { out.push_back({"lr", settings_.lr}); }

 private:
  size_t count_ = 0;
  FirstOrderUpdate settings_;
  Backend* backend_ = nullptr;
  OwnedBuffers owned_;
  float* m_ = nullptr;  // momentum (paper: the gradient EMA M_k)
  float* v_ = nullptr;  // second moment
};

}  // namespace kb
