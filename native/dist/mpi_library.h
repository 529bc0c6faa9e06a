// Open MPI, loaded at run time (algorithm.md §13.3): the prebuilt addon has no link-time dependency on it, so a
// user without MPI installs and runs the package as before. The library is opened with global symbol
// visibility because Open MPI's own plugins (dlopened by it) resolve their symbols against it.
#pragma once

#include <string>
#include <vector>

namespace kb::mpi {

// Open MPI's handles are pointers to its predefined objects; the predefined ones are the addresses of
// exported globals (ompi_mpi_comm_world, ompi_mpi_float, ...), which is how this file finds them by name.
using Handle = void*;

struct Api {
  int (*Initialized)(int*);
  int (*Finalized)(int*);
  int (*Init_thread)(int*, char***, int, int*);
  int (*Finalize)();
  int (*Abort)(Handle, int);
  int (*Comm_rank)(Handle, int*);
  int (*Comm_size)(Handle, int*);
  int (*Comm_set_errhandler)(Handle, Handle);
  int (*Ireduce)(const void*, void*, int, Handle, Handle, int, Handle, Handle*);
  int (*Ibcast)(void*, int, Handle, int, Handle, Handle*);
  int (*Test)(Handle*, int*, void*);
  int (*Error_string)(int, char*, int*);
  int (*Get_library_version)(char*, int*);
  Handle comm_world, type_float, type_double, type_byte, op_sum, errors_return;
  std::string library;  // the file that was loaded
};

// Loads Open MPI once (later calls return the same table); throws Error(Distributed) naming every file that
// was tried and why it did not load. KBFGS_MPI_LIBRARY, when set, names the one file to load.
const Api& api();

// The names and folders tried, for messages and the README.
std::vector<std::string> candidates();

// MPI_THREAD_SERIALIZED: MPI calls come from whichever thread runs training, one at a time.
constexpr int kThreadSerialized = 2;
constexpr int kSuccess = 0;
constexpr int kMaxLibraryVersion = 256;
constexpr int kMaxErrorString = 256;

}  // namespace kb::mpi
