// Which OpenBLAS kernel family the CPU backend runs (docs/blas-kernels.md).
//
// OpenBLAS built with DYNAMIC_ARCH picks its kernels from a list of CPU models: a model newer than its list
// falls back to old kernels (an AVX-512 Xeon unknown to 0.3.21 gets Prescott's SSE3 ones, 5 × slower). Here
// the choice is made from what the CPU can do instead: the most capable family whose instructions the CPU and
// the operating system support, used only where it ranks above OpenBLAS's own choice, and never over the
// user's OPENBLAS_CORETYPE.
#pragma once

#include <string>
#include <vector>

namespace kb::cpu {

// A CPU as the choice sees it. Features use Linux's /proc/cpuinfo names ("avx2", "avx512_bf16", "asimddp",
// "sve"), and an instruction set whose register state the operating system does not save counts as absent.
struct CpuDescription {
  std::string arch;    // "x86_64" or "aarch64"
  std::string vendor;  // x86-64: "GenuineIntel", "AuthenticAMD", "HygonGenuine"; empty elsewhere
  int family = 0, model = 0;
  std::vector<std::string> features;
};

struct KernelChoice {
  std::string family;        // the kernel family to run
  bool replaces = false;     // it differs from OpenBLAS's own choice
  std::string reason;        // one sentence: why this family
};

// The family for `cpu` given OpenBLAS's version ("0.3.21") and the family it chose by itself. Pure: the
// tests feed it recorded CPU descriptions.
KernelChoice choose_kernel_family(const CpuDescription& cpu, const std::string& openblas_version,
                                  const std::string& openblas_choice);

// The families of this OpenBLAS version that `cpu` can execute, least capable first.
std::vector<std::string> executable_kernel_families(const CpuDescription& cpu, const std::string& openblas_version);

// The CPU this process runs on.
CpuDescription describe_this_cpu();

// What the CPU backend runs, for devices().cpu and the logs of bench and train.
struct BlasReport {
  std::string library = "OpenBLAS";
  std::string version;     // "0.3.21"
  std::string config;      // openblas_get_config()
  bool switchable = false; // a DYNAMIC_ARCH build whose kernels can be chosen at run time
  std::string kernels;     // the family in use
  std::string openblas_choice;  // what OpenBLAS picked by itself at load time
  std::string chosen_by;   // "openblas", "features" or "OPENBLAS_CORETYPE"
  std::string reason;
  CpuDescription cpu;
  std::vector<std::string> executable;
};

// Makes the choice once per process, before the first BLAS call of the CPU backend, and reports it.
const BlasReport& use_best_blas_kernels();

// Runs `family` from now on (the kernel benchmark compares families in one process); only while no BLAS call
// is in flight. Throws kb::Error (InvalidArgument) for a family this CPU or build cannot run. Returns the
// family now in use; the report follows it.
std::string use_blas_kernels(const std::string& family);

}  // namespace kb::cpu
