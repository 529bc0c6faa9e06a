// The trainer's side of data-parallel training (algorithm.md §13): each rank takes its share of every
// minibatch, and all ranks must be running the same fit. The optimizers' side (their parts of sums over the
// ranks, the layer split) is rank_sums.h. With one process (single_process()) every helper here reduces to
// the plain single-process computation.
#pragma once

#include <cstdint>

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

// Checks, before training, that every rank trains the same model on the same data with the same settings;
// throws Error(Distributed) on every rank, naming what differs from rank 0.
void check_same_run(Network& net, const DataView& train, const FitConfig& config, const Optimizer& optimizer,
                    const StepRules& rules);

}  // namespace kb
