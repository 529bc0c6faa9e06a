// Which compute devices this process can use, and the backend for each (spec: one binary, any machine).
//
// The CPU backend always exists. The CUDA backend exists when the addon was built with nvcc, a GPU and
// driver are present, and cuBLAS and cuSOLVER could be loaded at run time (native/cuda/cuda_libraries.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace kb {

struct LibraryInfo {
  std::string path;     // what was loaded, empty if nothing
  std::string version;  // major.minor.patch as the library reports it
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  double memory_bytes = 0;
  int major = 0, minor = 0;  // compute capability
};

// What the CUDA search found; every field is filled whether or not CUDA is usable (for devices()).
struct DeviceReport {
  bool compiled = false;       // the addon holds the CUDA module
  bool available = false;      // a device and both libraries: a CUDA backend can be created
  std::string reason;          // why not, when !available
  int runtime_version = 0;     // of the CUDA runtime linked into the addon, e.g. 13000
  int driver_version = 0;      // 0 when no driver is installed
  std::vector<DeviceInfo> devices;
  LibraryInfo cublas, cusolver;
  std::vector<std::string> searched;  // directories tried after the dynamic loader's own search
  std::vector<std::string> missing;   // one line per library or symbol that could not be found
};

// Loads the CUDA libraries once (later calls return the first result); dirs are searched after the dynamic
// loader's own search (LD_LIBRARY_PATH, the system cache). Thread-safe.
const DeviceReport& probe_cuda(const std::vector<std::string>& dirs);

// A CUDA backend on device 0 with its own stream and handles; requires probe_cuda(...).available.
// tf32 lets cuBLAS use TF32 tensor cores for the GEMMs (opt-in; about 1e-3 relative error).
std::unique_ptr<Backend> make_cuda_backend(bool tf32);

}  // namespace kb
