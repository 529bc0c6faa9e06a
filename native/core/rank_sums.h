// The optimizers' side of data-parallel training (algorithm.md §13): their parts of sums over the ranks, and the
// curvature work split by layer. With one process (single_process()) each helper is the plain single-process
// computation. The trainer's side (who takes which rows, the check that all ranks run the same fit) is
// data_parallel.h.
#pragma once

#include <functional>
#include <vector>

#include "collective.h"
#include "network.h"

namespace kb {

// The helpers below write this rank's part of a quantity summed over the ranks; the caller then sums the
// parts with one Collective::sum over a block that holds many of them (one message per phase of the step,
// not one per layer, since a collective's latency dominates these small sums).

// This rank's part of out = beta·out + alpha·aᵀa over the whole batch's rows (a: rows x n): rank 0 keeps the
// beta·out term, the others contribute their rows only. One process: the update itself.
void local_syrk(Network& net, int n, int rows, float alpha, const float* a, float beta, float* out);

// This rank's part of the mean over the whole batch's rows (m·T for a convolution) of the columns of layer
// l's rows x cols matrix src: its own rows' mean weighted by its share of the batch.
void local_column_mean(Network& net, const Workspace& ws, int l, const float* src, int cols, float* out);

// Layers spread over the ranks by their cost (KAISA's greedy rule: the costliest layer first, to the least
// loaded rank). Deterministic, so every rank computes the same owners.
std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks);

// Runs work(l) for each layer l this rank owns (owners empty: every layer), then lets every rank know whether
// any failed: a failure becomes the same error kind on every rank (the owner's message; the others name the
// owner), so all ranks take the same branch.
void run_on_owners(Collective& comm, const std::vector<int>& owners, int layers, const std::function<void(int)>& work);

}  // namespace kb
