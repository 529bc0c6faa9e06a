// Finds a GPU through the statically linked CUDA runtime, then cuBLAS and cuSOLVER with dlopen: first by
// soname (LD_LIBRARY_PATH, the system cache), then in each directory the caller names (lib/devices.ts
// adds CUDA_PATH, /usr/local/cuda and the nvidia/cu13/lib or nvidia/cu12/lib folder of pip wheels).
// CUDA 13 libraries are preferred; the CUDA 12 ones are the fallback. Both libraries come from the same major.
#include "cuda_libraries.h"

#include <dlfcn.h>

#include <mutex>

namespace kb::cuda {
namespace {

Api g_api{};
DeviceReport g_report;

struct Generation {
  const char* cublas_lt;
  const char* cublas;
  const char* cusolver;
  std::vector<const char*> cusolver_needs;  // loaded first from the same folder, where present
};

// cuSOLVER's soname runs one major behind the toolkit; it needs cuSPARSE and nvJitLink.
const Generation kGenerations[] = {
    {"libcublasLt.so.13", "libcublas.so.13", "libcusolver.so.12", {"libnvJitLink.so.13", "libcusparse.so.12"}},
    {"libcublasLt.so.12", "libcublas.so.12", "libcusolver.so.11", {"libnvJitLink.so.12", "libcusparse.so.12"}},
};

std::string folder_of(void* handle, const char* symbol) {
  Dl_info info{};
  void* address = dlsym(handle, symbol);
  if (address && dladdr(address, &info) && info.dli_fname) return info.dli_fname;
  return "";
}

// dlopen by soname, then in each directory; returns the handle (global, so later libraries resolve against it).
void* open_library(const char* soname, const std::vector<std::string>& dirs) {
  if (void* h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL)) return h;
  for (const std::string& dir : dirs)
    if (void* h = dlopen((dir + "/" + soname).c_str(), RTLD_NOW | RTLD_GLOBAL)) return h;
  return nullptr;
}

std::string dirname_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

template <typename F>
bool bind(void* handle, const char* symbol, F*& out, std::vector<std::string>& missing, const char* lib) {
  out = reinterpret_cast<F*>(dlsym(handle, symbol));
  if (!out) missing.push_back(std::string(lib) + " lacks " + symbol);
  return out != nullptr;
}

std::string version_of(int (*get_property)(int, int*)) {
  int major = 0, minor = 0, patch = 0;  // libraryPropertyType: MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2
  if (!get_property || get_property(0, &major) || get_property(1, &minor) || get_property(2, &patch)) return "";
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

bool load_generation(const Generation& gen, const std::vector<std::string>& dirs, DeviceReport& r) {
  std::vector<std::string> missing;
  open_library(gen.cublas_lt, dirs);  // cuBLAS needs it; loading it first also covers folders without RUNPATH
  void* blas = open_library(gen.cublas, dirs);
  if (!blas) {
    r.missing.push_back(std::string(gen.cublas) + " not found");
    return false;
  }
  const std::string blas_path = folder_of(blas, "cublasCreate_v2");
  std::vector<std::string> solver_dirs = dirs;
  if (!blas_path.empty()) solver_dirs.insert(solver_dirs.begin(), dirname_of(blas_path));
  for (const char* need : gen.cusolver_needs) open_library(need, solver_dirs);
  void* solver = open_library(gen.cusolver, solver_dirs);
  if (!solver) {
    r.missing.push_back(std::string(gen.cusolver) + " not found (" + gen.cublas + " was)");
    return false;
  }
  Api a{};
  bool ok = true;
  ok &= bind(blas, "cublasCreate_v2", a.blas_create, missing, gen.cublas);
  ok &= bind(blas, "cublasDestroy_v2", a.blas_destroy, missing, gen.cublas);
  ok &= bind(blas, "cublasSetStream_v2", a.blas_set_stream, missing, gen.cublas);
  ok &= bind(blas, "cublasSetMathMode", a.blas_set_math_mode, missing, gen.cublas);
  ok &= bind(blas, "cublasGetProperty", a.blas_get_property, missing, gen.cublas);
  a.blas_set_workspace = reinterpret_cast<decltype(a.blas_set_workspace)>(dlsym(blas, "cublasSetWorkspace_v2"));
  ok &= bind(blas, "cublasSgemm_v2", a.sgemm, missing, gen.cublas);
  ok &= bind(blas, "cublasSgemmStridedBatched", a.sgemm_strided_batched, missing, gen.cublas);
  ok &= bind(blas, "cublasSgemv_v2", a.sgemv, missing, gen.cublas);
  ok &= bind(blas, "cublasSger_v2", a.sger, missing, gen.cublas);
  ok &= bind(blas, "cublasStrsm_v2", a.strsm, missing, gen.cublas);
  ok &= bind(solver, "cusolverDnCreate", a.solver_create, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnDestroy", a.solver_destroy, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSetStream", a.solver_set_stream, missing, gen.cusolver);
  ok &= bind(solver, "cusolverGetProperty", a.solver_get_property, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSpotrf_bufferSize", a.spotrf_buffer_size, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSpotrf", a.spotrf, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSpotrs", a.spotrs, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSsyevd_bufferSize", a.ssyevd_buffer_size, missing, gen.cusolver);
  ok &= bind(solver, "cusolverDnSsyevd", a.ssyevd, missing, gen.cusolver);
  if (!ok) {
    r.missing.insert(r.missing.end(), missing.begin(), missing.end());
    return false;
  }
  g_api = a;
  r.cublas = {blas_path, version_of(a.blas_get_property)};
  r.cusolver = {folder_of(solver, "cusolverDnCreate"), version_of(a.solver_get_property)};
  return true;
}

void probe_once(const std::vector<std::string>& dirs) {
  DeviceReport& r = g_report;
  r.compiled = true;
  r.searched = dirs;
  cudaRuntimeGetVersion(&r.runtime_version);
  cudaDriverGetVersion(&r.driver_version);  // 0 without a driver
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    r.reason = r.driver_version == 0 ? "no NVIDIA driver is installed (libcuda.so.1 was not found)"
                                     : std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    cudaGetLastError();  // clear it, so later runtime calls do not report it again
    return;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    r.devices.push_back({i, p.name, (double)p.totalGlobalMem, p.major, p.minor});
  }
  if (r.devices.empty()) {
    r.reason = "no usable CUDA device";
    return;
  }
  for (const Generation& gen : kGenerations)
    if (load_generation(gen, dirs, r)) {
      r.available = true;
      r.missing.clear();
      return;
    }
  r.reason = "cuBLAS/cuSOLVER not found: " + r.missing.front() +
             " (install the CUDA toolkit libraries, or pip install nvidia-cublas nvidia-cusolver, or set "
             "LD_LIBRARY_PATH or KBFGS_CUDA_LIBRARY_PATH)";
}

}  // namespace

const DeviceReport& load(const std::vector<std::string>& dirs) {
  static std::once_flag once;
  std::call_once(once, [&] { probe_once(dirs); });
  return g_report;
}

const Api& api() { return g_api; }

}  // namespace kb::cuda

namespace kb {
const DeviceReport& probe_cuda(const std::vector<std::string>& dirs) { return cuda::load(dirs); }
}  // namespace kb
