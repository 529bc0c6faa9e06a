// The three products of a convolution over a batch of m images (algorithm.md §12.1, §12.6), on any backend:
// H = P̄ Wᵀ, dW = α Gᵀ P̄ and the input gradient im2col⁻ᵀ(G W[:, :n−1]). On host memory the patches and the
// patch gradients are formed and used a few images at a time, so that each chunk is read by its product while
// still in cache instead of the whole batch's going out to memory and back; a GPU prefers one large product.
#pragma once

#include "../backend.h"
#include "../../rules/image_geometry.h"

namespace kb {

// Images per chunk for a batch of m: about kConvChunkBytes of patches but kConvChunkRows rows at least, and at
// most half the batch so that
// every batch of two or more images is cut (the small networks of the golden tests too); m on a GPU.
int conv_chunk_images(const Backend& backend, const PatchShape& shape, int m);

// h (m·T x d) = P̄ Wᵀ for the m images x (W d x n). keep_patches: P̄ is written to `patches` (m·T x n) and left
// there for the weight gradient and the curvature; otherwise `patches` is a scratch of
// conv_chunk_images(...)·T·n floats that each chunk reuses.
void conv_forward(Backend& backend, const PatchShape& shape, const float* x, int m, const float* w, int d,
                  float* patches, bool keep_patches, float* h);

// dw (d x n) = alpha Gᵀ P̄ from the patches conv_forward kept (one product: its sum runs over all m·T rows), or,
// given the images x (else null) and a direct kernel the backend has for this shape, from them (§12.7).
void conv_backward_weights(Backend& backend, const PatchShape& shape, const float* g, const float* patches,
                           const float* x, int m, int d, float alpha, float* dw);

// The same from the images x instead of kept patches: by a direct kernel where the backend has one for this
// shape (§12.7), else each chunk's patches formed again in `scratch` (conv_chunk_images(...)·T·n floats) and its
// product added on, so no m·T·n patch matrix goes to memory.
void conv_backward_weights_from_images(Backend& backend, const PatchShape& shape, const float* g, const float* x,
                                       int m, int d, float alpha, float* scratch, float* dw);

// dx (m images) = im2col's adjoint of G W[:, :n−1]; scratch holds conv_chunk_images(...)·T·(n − 1) floats.
void conv_backward_data(Backend& backend, const PatchShape& shape, const float* g, int m, const float* w, int d,
                        float* scratch, float* dx);

}  // namespace kb
