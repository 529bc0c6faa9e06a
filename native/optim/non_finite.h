// Where a step's numbers first went NaN or infinite (spec: report numerical trouble where it appears).
// The optimizer marks each watched quantity as it computes it (Backend::mark_non_finite: nothing is read
// back, so a GPU never waits); after the step has run the trainer asks for the report, in step order.
#pragma once

#include <string>
#include <vector>

#include "../core/backend.h"
#include "../core/buffers.h"

namespace kb {

class NonFiniteFlags {
 public:
  // phases in the order the step computes them, e.g. {"gradient", "direction"}; one flag per phase and layer.
  void init(Backend& be, OwnedBuffers& owned, std::vector<std::string> phases, int layers) {
    be_ = &be;
    phases_ = std::move(phases);
    layers_ = layers;
    flags_ = owned.take(phases_.size() * layers_);
  }
  void mark(int phase, int layer, const float* x, size_t n) {
    be_->mark_non_finite(x, n, flags_ + (size_t)phase * layers_ + layer);
  }
  // "" when every watched quantity stayed finite, else e.g. "the direction of layer 3"; clears the flags.
  std::string take_report() {
    const size_t count = phases_.size() * layers_;
    host_.resize(count);
    be_->to_host(host_.data(), flags_, count);
    for (size_t i = 0; i < count; ++i)
      if (host_[i] != 0) {
        be_->fill(flags_, 0.0f, count);
        return "the " + phases_[i / layers_] + " of layer " + std::to_string(i % layers_);
      }
    return "";
  }

 private:
  Backend* be_ = nullptr;
  std::vector<std::string> phases_;
  int layers_ = 0;
  float* flags_ = nullptr;
  std::vector<float> host_;
};

}  // namespace kb
