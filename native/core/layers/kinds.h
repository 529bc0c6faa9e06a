// The layer kinds' factories (one file each in this folder) and the geometry rules of the image layers. A new
// kind: a class implementing core/layer.h in its own file here, its factory declared below, and one line in
// the table of registry.cc.
#pragma once

#include <memory>
#include <string>

#include "../layer.h"
#include "../../rules/image_geometry.h"

namespace kb {

std::unique_ptr<Layer> make_dense(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_conv2d(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_pool2d(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_global_avg_pool2d(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_flatten(int i, const LayerFields& fields);
// The layers of token models (algorithm.md §18).
std::unique_ptr<Layer> make_embedding(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_layer_norm(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_causal_attention(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_residual_start(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_residual_end(int i, const LayerFields& fields);
std::unique_ptr<Layer> make_dropout(int i, const LayerFields& fields);

// The one definition of what a convolution's and a pooling window's geometry allows (algorithm.md §12). Each
// throws Error(InvalidArgument) "<where>: <problem>"; the addon asks them for lib/layers.ts too, so both sides
// refuse the same layers with the same words.
void check_conv_geometry(const std::string& where, const PatchShape& s);
void check_pool_geometry(const std::string& where, const PoolShape& p);

}  // namespace kb
