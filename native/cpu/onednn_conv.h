// A convolution's forward product, input gradient and weight gradient by oneDNN's direct kernels, where the user's system has
// oneDNN 2 (libdnnl.so.2) and the layer's shape is one where they measured faster than the engine's patches
// and SGEMM (algorithm.md §12.7). The library is opened at run time and never linked or shipped: without it
// (and on Windows and WebAssembly) every call answers false and conv_passes.cc forms the patches as before.
// KBFGS_ONEDNN=off never uses it, KBFGS_ONEDNN=all uses it for every shape it accepts (the tests' switch).
#pragma once

#include <string>

#include "../rules/image_geometry.h"

namespace kb::cpu {

// h ((m·T) x d, one row per output location) = the convolution of the m images x by W (d x n, row j the
// kernel of filter j in patch order, its bias last) on `threads` threads; false, with h untouched, where
// oneDNN is not used for this shape.
bool onednn_conv_forward(const PatchShape& shape, const float* x, int m, const float* w, int d, float* h,
                         int threads);

// dx (m images) = the input gradient of that convolution at the output gradient g ((m·T) x d); false, with
// dx untouched, where oneDNN is not used.
bool onednn_conv_backward_data(const PatchShape& shape, const float* g, int m, const float* w, int d, float* dx,
                               int threads);

// dw (d x n, W's layout) = alpha Gᵀ P̄ for the output gradient g ((m·T) x d) and the m images x, without
// patches; false, with dw untouched, where oneDNN is not used for this shape (there only on CPUs with AVX-512).
bool onednn_conv_backward_weights(const PatchShape& shape, const float* g, const float* x, int m, int d, float alpha,
                                  float* dw, int threads);

// "oneDNN 2.6.3 (libdnnl.so.2)", or why it is not used.
std::string onednn_conv_status();

}  // namespace kb::cpu
