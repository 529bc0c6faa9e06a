// The Collective of an Open MPI job (algorithm.md §13): one process per rank, MPI_COMM_WORLD.
#pragma once

#include <string>

#include "../core/collective.h"

namespace kb::mpi {

struct WorldInfo {
  int rank = 0, size = 1;
  std::string library, version;
};

// Initialises MPI once per process (MPI_THREAD_SERIALIZED; errors returned, not fatal) and returns what it
// found. Throws Error(Distributed) when Open MPI cannot be loaded or started.
WorldInfo init();
// The world communicator (init() first). Every wait for the other ranks ends after timeout seconds with
// Error(Distributed) instead of hanging when a rank has died or stopped taking part.
Collective& world(double timeout_seconds);
// At process exit: MPI_Finalize, or, after a failed collective (a rank gone), MPI_Abort, which makes the
// launcher end the job instead of waiting for ranks that will never finalize.
void finalize();
bool initialized();

}  // namespace kb::mpi
