// Stand-ins for builds without nvcc: devices() says the CUDA module was not compiled, and a CUDA backend
// cannot be made. The CPU backend is unaffected.
#include "../core/devices.h"
#include "../core/errors.h"
#include "../dist/nccl_world.h"

namespace kb {

const DeviceReport& probe_cuda(const std::vector<std::string>& dirs) {
  static const DeviceReport report = [&] {
    DeviceReport r;
    r.searched = dirs;
#ifdef __EMSCRIPTEN__
    r.reason = "the WebAssembly engine has no CUDA backend (CUDA needs the native engine)";
#else
    r.reason = "this build of kbfgs-native has no CUDA module (nvcc was not found when it was compiled)";
#endif
    return r;
  }();
  return report;
}

std::unique_ptr<Backend> make_cuda_backend(bool) {
  throw Error(ErrorKind::Device, probe_cuda({}).reason);
}

// Unreachable without a CUDA backend; here so that the distributed code links the same in both builds.
Collective& nccl::world(Collective&, Backend&, const std::vector<std::string>&, double) {
  throw Error(ErrorKind::Device, probe_cuda({}).reason);
}

}  // namespace kb
