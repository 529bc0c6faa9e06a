#include "mpi_library.h"

#ifndef _WIN32
#include <dlfcn.h>
#endif

#include <cstdlib>
#include <mutex>

#include "../core/errors.h"

namespace kb::mpi {

std::vector<std::string> candidates() {
  std::vector<std::string> names;
  if (const char* own = std::getenv("KBFGS_MPI_LIBRARY"); own && *own) return {own};  // the user's choice only
  // The soname Open MPI 4 and 5 install (Debian's libopenmpi3, Fedora, Homebrew, conda all ship this name).
  names.push_back("libmpi.so.40");
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64/openmpi/lib",
                          "/usr/local/lib", "/opt/openmpi/lib"})
    names.push_back(std::string(dir) + "/libmpi.so.40");
  return names;
}

namespace {

#ifdef _WIN32
// The Windows build has no distributed engine: Open MPI does not run on Windows.
Api load() {
  throw Error(ErrorKind::Distributed,
              "distributed training is not available on Windows (it needs Open MPI, which runs on Linux and macOS); "
              "train in one process, or on Linux");
}
#else
template <typename F>
void bind(void* handle, const char* symbol, F& out, std::vector<std::string>& missing) {
  out = reinterpret_cast<F>(dlsym(handle, symbol));
  if (!out) missing.push_back(symbol);
}

Api load() {
#ifdef __EMSCRIPTEN__
  throw Error(ErrorKind::Distributed,
              "distributed (data-parallel) training needs the native engine: the WebAssembly engine runs in one "
              "process and loads no MPI library (KBFGS_ENGINE=native, or engine: 'native')");
#endif
  std::string tried;
  void* handle = nullptr;
  Api api{};
  for (const std::string& name : candidates()) {
    handle = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle) {
      api.library = name;
      break;
    }
    const char* why = dlerror();
    tried += "\n  " + name + ": " + (why ? why : "not found");
  }
  if (!handle)
    throw Error(ErrorKind::Distributed,
                "distributed training needs Open MPI (libmpi.so.40; on Debian and Ubuntu: apt-get install "
                "openmpi-bin), and none of these loaded:" + tried);
  std::vector<std::string> missing;
  bind(handle, "MPI_Initialized", api.Initialized, missing);
  bind(handle, "MPI_Finalized", api.Finalized, missing);
  bind(handle, "MPI_Init_thread", api.Init_thread, missing);
  bind(handle, "MPI_Finalize", api.Finalize, missing);
  bind(handle, "MPI_Abort", api.Abort, missing);
  bind(handle, "MPI_Comm_rank", api.Comm_rank, missing);
  bind(handle, "MPI_Comm_size", api.Comm_size, missing);
  bind(handle, "MPI_Comm_set_errhandler", api.Comm_set_errhandler, missing);
  bind(handle, "MPI_Ireduce", api.Ireduce, missing);
  bind(handle, "MPI_Ibcast", api.Ibcast, missing);
  bind(handle, "MPI_Test", api.Test, missing);
  bind(handle, "MPI_Error_string", api.Error_string, missing);
  bind(handle, "MPI_Get_library_version", api.Get_library_version, missing);
  bind(handle, "ompi_mpi_comm_world", api.comm_world, missing);
  bind(handle, "ompi_mpi_float", api.type_float, missing);
  bind(handle, "ompi_mpi_double", api.type_double, missing);
  bind(handle, "ompi_mpi_byte", api.type_byte, missing);
  bind(handle, "ompi_mpi_op_sum", api.op_sum, missing);
  bind(handle, "ompi_mpi_errors_return", api.errors_return, missing);
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    throw Error(ErrorKind::Distributed, api.library + " is not Open MPI 4 or later (it lacks " + names +
                                            "); distributed training supports Open MPI only");
  }
  return api;
}
#endif

}  // namespace

const Api& api() {
  static std::once_flag once;
  static Api table;
  static std::string failure;
  std::call_once(once, [] {
    try {
      table = load();
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw Error(ErrorKind::Distributed, failure);
  return table;
}

}  // namespace kb::mpi
