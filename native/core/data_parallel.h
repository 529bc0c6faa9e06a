// What data-parallel training changes in the step (algorithm.md §13): each rank takes its share of every
// minibatch, and the batch means the methods need become sums over the ranks divided by the whole batch.
// With one process (single_process()) every helper here reduces to the plain single-process computation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "network.h"
#include "optimizer.h"
#include "trainer.h"

namespace kb {

// Rank r's rows of a batch of `batch` samples: [batch·r/P, batch·(r+1)/P), so shares differ by at most one.
struct BatchShare {
  int first = 0, count = 0;
};
BatchShare share_of(int batch, int rank, int ranks);
// The largest share (the workspace capacity a rank needs).
int largest_share(int batch, int ranks);

// Loads this rank's share of the batch whose `batch` sample indices are rows, and records the whole batch's
// size and the share's position in ws (ws.batch, ws.first).
void load_share(Network& net, Workspace& ws, const DataView& data, const uint32_t* rows, int batch);

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

// Checks, before training, that every rank trains the same model on the same data with the same settings;
// throws Error(Distributed) on every rank, naming what differs from rank 0.
void check_same_run(Network& net, const DataView& train, const FitConfig& config, const Optimizer& optimizer);

}  // namespace kb
