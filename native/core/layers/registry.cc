// The layer kinds by the names lib/layers.ts gives them (its NativeLayer type).
#include "kinds.h"

#include "../errors.h"

namespace kb {
namespace {

struct LayerKind {
  const char* type;
  std::unique_ptr<Layer> (*make)(int i, const LayerFields& fields);
};

constexpr LayerKind kLayerKinds[] = {
    {"dense", make_dense},
    {"conv2d", make_conv2d},
    {"pool2d", make_pool2d},
    {"globalAvgPool2d", make_global_avg_pool2d},
    {"flatten", make_flatten},
    {"embedding", make_embedding},
    {"layerNorm", make_layer_norm},
    {"causalSelfAttention", make_causal_attention},
    {"residualStart", make_residual_start},
    {"residualEnd", make_residual_end},
    {"dropout", make_dropout},
};

}  // namespace

std::unique_ptr<Layer> make_layer(int i, const std::string& type, const LayerFields& fields) {
  std::string known;
  for (const LayerKind& kind : kLayerKinds) {
    if (type == kind.type) return kind.make(i, fields);
    known += (known.empty() ? "" : ", ") + std::string(kind.type);
  }
  throw Error(ErrorKind::InvalidArgument, "layer " + std::to_string(i) + " has an unknown type '" + type + "' (" + known + ")");
}

}  // namespace kb
