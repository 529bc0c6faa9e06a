// The names under which activations, losses and devices cross the boundary: the same strings as lib/layers.ts's
// ACTIVATIONS, lib/model.ts's LOSSES and lib/binding.ts's BACKENDS, so neither side depends on the other's
// ordering.
#pragma once

#include <string>

#include "backend.h"

namespace kb {

inline constexpr const char* kActivationNames[] = {"linear", "relu", "sigmoid", "tanh", "gelu"};  // Activation order
inline constexpr const char* kLossNames[] = {"sigmoidCrossEntropy", "halfSquaredError", "softmaxCrossEntropy"};  // Loss order
// The backends a model can run on; Backend::name() returns these.
inline constexpr const char kCpuDevice[] = "cpu";
inline constexpr const char kCudaDevice[] = "cuda";
inline constexpr const char* kDeviceNames[] = {kCpuDevice, kCudaDevice};

template <typename Enum, size_t N>
bool from_name(const char* const (&names)[N], const std::string& name, Enum* out) {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i]) {
      *out = (Enum)i;
      return true;
    }
  return false;
}

template <size_t N>
std::string name_list(const char* const (&names)[N]) {
  std::string list;
  for (size_t i = 0; i < N; ++i) list += (i ? ", " : "") + std::string(names[i]);
  return list;
}

}  // namespace kb
