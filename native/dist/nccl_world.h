// NCCL between GPU ranks (algorithm.md §13.3): the sums and broadcasts of a CUDA model's device memory run
// on the backend's stream with NCCL (libnccl.so.2, loaded at run time); host values and the communicator's
// unique id go over the MPI world. One GPU per rank: each process uses its device 0 (give each rank its own
// GPU with CUDA_VISIBLE_DEVICES). Compiled with the CUDA module only.
#pragma once

#include <string>
#include <vector>

#include "../core/collective.h"

namespace kb::nccl {

// The process's NCCL world for the GPU backend `gpu`, made on first use (NCCL loaded from its soname, then from
// each of dirs; the unique id broadcast from rank 0 over mpi). Throws Error(Distributed) naming every file
// tried when NCCL cannot be loaded, or NCCL's own message when the communicator cannot be made.
Collective& world(Collective& mpi, Backend& gpu, const std::vector<std::string>& dirs, double timeout_seconds);

}  // namespace kb::nccl
