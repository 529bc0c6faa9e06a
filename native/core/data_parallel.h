// What data-parallel training changes in the step (algorithm.md §13): each rank takes its share of every
// minibatch, and the batch means the methods need become sums over the ranks divided by the whole batch.
// With one process (single_process()) every helper here reduces to the plain single-process computation.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "network.h"
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

// out = beta·out + alpha·aᵀa summed over the ranks' rows (a: rows x n). out is the same on every rank before
// and after; rank 0 alone keeps the beta·out term.
void summed_syrk(Network& net, int n, int rows, float alpha, const float* a, float beta, float* out);

// out = the mean over the whole batch's rows (m·T per rank for a convolution) of the columns of layer l's
// rows x cols matrix src.
void batch_column_mean(Network& net, const Workspace& ws, int l, const float* src, int cols, float* out);

// Layers spread over the ranks by their cost (KAISA's greedy rule: the costliest layer first, to the least
// loaded rank). Deterministic, so every rank computes the same owners.
std::vector<int> assign_by_cost(const std::vector<double>& costs, int ranks);

// Runs work on the owner rank only, then lets every rank know whether it failed: a failure becomes the same
// error kind on every rank (the owner's message; the others name the owner), so all ranks take the same branch.
void run_on_owner(Collective& comm, int owner, const std::function<void()>& work);

// Checks, before training, that every rank trains the same model on the same data with the same settings;
// throws Error(Distributed) on every rank, naming what differs from rank 0.
void check_same_run(Network& net, const DataView& train, const FitConfig& config, const char* optimizer);

}  // namespace kb
