// First-order methods as one fused pass over the flat parameter vector (Backend::first_order_update).
#include "first_order.h"

#include "../core/memory_check.h"

namespace kb {

const char* FirstOrderOptimizer::name() const {
  switch (settings_.kind) {
    case FirstOrderUpdate::Sgd: return "sgd";
    case FirstOrderUpdate::Adam: return settings_.decoupled ? "adamw" : "adam";
    case FirstOrderUpdate::RmsProp: return "rmsprop";
  }
  return "first-order";
}

void FirstOrderOptimizer::attach(Network& net, int, int) {
  backend_ = &net.backend();
  require_memory(*backend_, std::string(name()) + "'s state", {{"the moments", 2 * (uint64_t)net.param_count()}});
  count_ = net.param_count();
  owned_.bind(*backend_);
  m_ = owned_.take(net.param_count());
  v_ = owned_.take(net.param_count());
}

void FirstOrderOptimizer::state_buffers(std::vector<StateBuffer>& out) {
  out.push_back({"m", m_, count_});
  out.push_back({"v", v_, count_});
}

void FirstOrderOptimizer::warm_start_batch(Network& net, Workspace& ws, int j) {
  net.forward(ws, Network::Want::Gradient);
  net.backward(ws, ws.grad);
  backend_->running_mean_of_squares(net.param_count(), j, settings_.weight_decay, net.params(), ws.grad, v_);
}

void FirstOrderOptimizer::step(Network& net, Workspace& ws, int64_t k) {
  FirstOrderUpdate u = settings_;
  u.step = k + 1;
  u.first_step = k == 0;
  backend_->first_order_update(u, net.param_count(), net.params(), ws.grad, m_, v_);
}

}  // namespace kb
