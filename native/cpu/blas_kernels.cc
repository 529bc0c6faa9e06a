// The OpenBLAS kernel family by CPU features (blas_kernels.h; docs/blas-kernels.md).
#include "blas_kernels.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <strings.h>

#include "../core/errors.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#if !defined(__EMSCRIPTEN__)
extern "C" {
char* openblas_get_config(void);
char* openblas_get_corename(void);
// Present in DYNAMIC_ARCH builds only (weak: a fixed-target OpenBLAS links without them, and keeps its kernels).
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}
#endif

namespace kb::cpu {
namespace {

// A kernel family that OPENBLAS_CORETYPE can name, the instructions its kernels use, and the first OpenBLAS
// release that has it. Rank orders families by what they run best. Haswell ranks above Zen although both are
// AVX2 kernels: on an AMD EPYC (Zen 3) OpenBLAS's Zen choice ran the K-BFGS step 5-9 % slower than Haswell's
// with two threads, and within 2 % with one (docs/blas-kernels.md §1).
struct Family {
  const char* name;
  int rank;
  std::vector<const char*> needs;
  int since;  // OpenBLAS version as 10000·major + 100·minor + patch
};

constexpr int v(int major, int minor, int patch) { return 10000 * major + 100 * minor + patch; }

const std::vector<Family>& x86_families() {
  static const std::vector<const char*> avx2 = {"ssse3", "sse4_2", "avx", "avx2", "fma"};
  auto with = [](std::vector<const char*> base, std::initializer_list<const char*> more) {
    base.insert(base.end(), more);
    return base;
  };
  static const std::vector<const char*> avx512 = with(avx2, {"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"});
  static const std::vector<Family> families = {
      {"Prescott", 0, {}, 0},
      {"Core2", 1, {"ssse3"}, 0},
      {"Nehalem", 2, {"ssse3", "sse4_2"}, 0},
      {"Sandybridge", 3, {"ssse3", "sse4_2", "avx"}, 0},
      {"Zen", 4, avx2, 0},
      {"Haswell", 5, avx2, 0},
      {"SkylakeX", 6, avx512, 0},
      {"Cooperlake", 7, with(avx512, {"avx512_bf16"}), v(0, 3, 10)},
      {"SapphireRapids", 8, with(avx512, {"avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"}), v(0, 3, 22)},
  };
  return families;
}

// On arm64 OpenBLAS knows specific cores by their part numbers and falls back to generic ARMv8 kernels for a
// core it does not know (Neoverse V2, Apple's); only that fallback is replaced, by the newest Neoverse family
// whose instructions the core has.
const std::vector<Family>& arm64_families() {
  static const std::vector<Family> families = {
      {"armv8", 0, {}, 0},
      {"neoversen1", 1, {"asimd", "asimddp"}, v(0, 3, 10)},
      {"neoversev1", 2, {"asimd", "asimddp", "sve", "bf16"}, v(0, 3, 21)},
      {"neoversen2", 3, {"asimd", "asimddp", "sve", "sve2", "bf16", "i8mm"}, v(0, 3, 21)},
  };
  return families;
}

// Ranks of families OpenBLAS may choose that the feature rule never does.
int foreign_rank(const std::string& arch, const std::string& name) {
  struct Ranked {
    const char* name;
    int rank;
  };
  static const Ranked older_x86[] = {{"Katmai", 0}, {"Coppermine", 0}, {"Northwood", 0}, {"Banias", 0}, {"Athlon", 0},
      {"Opteron", 0}, {"Opteron_SSE3", 0}, {"Atom", 1}, {"Penryn", 1}, {"Dunnington", 1}, {"Bobcat", 1}, {"Nano", 2},
      {"Barcelona", 2}, {"Bulldozer", 3}, {"Piledriver", 3}, {"Steamroller", 3}, {"Excavator", 5}};
  if (arch == "x86_64") {
    for (const Ranked& f : older_x86)
      if (strcasecmp(f.name, name.c_str()) == 0) return f.rank;
    return -1;  // "Unknown"
  }
  return 1000;  // an arm64 core OpenBLAS recognised: its own tuning is kept
}

int parse_version(const std::string& text) {
  int major = 0, minor = 0, patch = 0;
  if (sscanf(text.c_str(), "%d.%d.%d", &major, &minor, &patch) < 2) return 0;
  return v(major, minor, patch);
}

bool has(const CpuDescription& cpu, const char* feature) {
  return std::find(cpu.features.begin(), cpu.features.end(), feature) != cpu.features.end();
}

bool runs_on(const Family& f, const CpuDescription& cpu, int version) {
  if (f.since > version) return false;
  return std::all_of(f.needs.begin(), f.needs.end(), [&](const char* need) { return has(cpu, need); });
}

const std::vector<Family>& families_for(const CpuDescription& cpu) {
  static const std::vector<Family> none;
  if (cpu.arch == "x86_64") return x86_families();
  if (cpu.arch == "aarch64") return arm64_families();
  return none;
}

int rank_of(const CpuDescription& cpu, const std::string& name) {
  for (const Family& f : families_for(cpu))
    if (strcasecmp(f.name, name.c_str()) == 0) return cpu.arch == "aarch64" && f.rank > 0 ? 1000 : f.rank;
  return foreign_rank(cpu.arch, name);
}

}  // namespace

std::vector<std::string> executable_kernel_families(const CpuDescription& cpu, const std::string& openblas_version) {
  std::vector<std::string> out;
  const int version = parse_version(openblas_version);
  for (const Family& f : families_for(cpu))
    if (runs_on(f, cpu, version)) out.push_back(f.name);
  return out;
}

KernelChoice choose_kernel_family(const CpuDescription& cpu, const std::string& openblas_version,
                                  const std::string& openblas_choice) {
  const int version = parse_version(openblas_version);
  const Family* best = nullptr;
  for (const Family& f : families_for(cpu))
    if (runs_on(f, cpu, version) && (!best || f.rank > best->rank)) best = &f;
  if (!best) return {openblas_choice, false, "no kernel family is known for this architecture: OpenBLAS's own choice"};
  if (rank_of(cpu, openblas_choice) >= best->rank)
    return {openblas_choice, false, "OpenBLAS's own choice is the best this CPU supports"};
  return {best->name, true,
          std::string("OpenBLAS chose ") + openblas_choice + " for this CPU model; its features run " + best->name};
}

CpuDescription describe_this_cpu() {
  CpuDescription cpu;
#if defined(__x86_64__) || defined(_M_X64)
  cpu.arch = "x86_64";
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid(0, &a, &b, &c, &d);
  const unsigned max_leaf = a;
  char vendor[13] = {};
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  cpu.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  const unsigned base_family = (a >> 8) & 0xf, ext_family = (a >> 20) & 0xff;
  const unsigned base_model = (a >> 4) & 0xf, ext_model = (a >> 16) & 0xf;
  cpu.family = (int)(base_family == 0xf ? base_family + ext_family : base_family);
  cpu.model = (int)(base_family == 0x6 || base_family == 0xf ? (ext_model << 4) + base_model : base_model);
  auto add = [&](bool present, const char* name) {
    if (present) cpu.features.push_back(name);
  };
  const unsigned leaf1_ecx = c;
  // Register state the operating system saves (XCR0): YMM for AVX, opmask and ZMM for AVX-512, tiles for AMX.
  unsigned long long xcr0 = 0;
  if (leaf1_ecx & (1u << 27)) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = ((unsigned long long)hi << 32) | lo;
  }
  const bool os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
  const bool os_tiles = (xcr0 & 0x60000) == 0x60000;
  add(leaf1_ecx & (1u << 0), "pni");
  add(leaf1_ecx & (1u << 9), "ssse3");
  add(leaf1_ecx & (1u << 19), "sse4_1");
  add(leaf1_ecx & (1u << 20), "sse4_2");
  add(os_ymm && (leaf1_ecx & (1u << 28)), "avx");
  add(os_ymm && (leaf1_ecx & (1u << 12)), "fma");
  if (max_leaf >= 7) {
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    const unsigned leaf7_ebx = b, leaf7_edx = d, subleaves = a;
    add(os_ymm && (leaf7_ebx & (1u << 5)), "avx2");
    add(os_zmm && (leaf7_ebx & (1u << 16)), "avx512f");
    add(os_zmm && (leaf7_ebx & (1u << 17)), "avx512dq");
    add(os_zmm && (leaf7_ebx & (1u << 28)), "avx512cd");
    add(os_zmm && (leaf7_ebx & (1u << 30)), "avx512bw");
    add(os_zmm && (leaf7_ebx & (1u << 31)), "avx512vl");
    add(os_zmm && (leaf7_edx & (1u << 23)), "avx512_fp16");
    add(os_tiles && (leaf7_edx & (1u << 24)), "amx_tile");
    add(os_tiles && (leaf7_edx & (1u << 22)), "amx_bf16");
    if (subleaves >= 1) {
      __get_cpuid_count(7, 1, &a, &b, &c, &d);
      add(os_zmm && (a & (1u << 5)), "avx512_bf16");
    }
  }
#elif defined(__aarch64__)
  cpu.arch = "aarch64";
#if defined(__linux__)
  // Bits of AT_HWCAP / AT_HWCAP2 (Linux's arch/arm64 uapi hwcap.h).
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  auto add = [&](bool present, const char* name) {
    if (present) cpu.features.push_back(name);
  };
  add(hwcap & (1ul << 1), "asimd");
  add(hwcap & (1ul << 20), "asimddp");
  add(hwcap & (1ul << 22), "sve");
  add(hwcap2 & (1ul << 1), "sve2");
  add(hwcap2 & (1ul << 13), "i8mm");
  add(hwcap2 & (1ul << 14), "bf16");
#endif
#else
  cpu.arch = "other";
#endif
  return cpu;
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = (char)tolower((unsigned char)ch);
  return s;
}

#if defined(__EMSCRIPTEN__)
// The WebAssembly engine has no OpenBLAS: its own SIMD128 kernels (native/wasm/blas), one family.
BlasReport make_report() {
  BlasReport r;
  r.library = "kbfgs-native WebAssembly BLAS";
  r.config = "SIMD128 kernels (native/wasm/blas)";
  r.kernels = r.openblas_choice = "simd128";
  r.chosen_by = "build";
  r.reason = "the WebAssembly engine has one kernel family";
  r.cpu = describe_this_cpu();
  r.executable = {r.kernels};
  return r;
}

std::string switch_kernels(const std::string& family) { return family; }
#else
// Re-runs OpenBLAS's kernel selection with OPENBLAS_CORETYPE set to `family`, then clears the variable again
// (child processes make their own choice). Returns the family now in use.
std::string switch_kernels(const std::string& family) {
#ifdef _WIN32
  _putenv_s("OPENBLAS_CORETYPE", family.c_str());
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  _putenv_s("OPENBLAS_CORETYPE", "");  // an empty value removes it
#else
  setenv("OPENBLAS_CORETYPE", family.c_str(), 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
#endif
  return openblas_get_corename();
}

BlasReport make_report() {
  BlasReport r;
  r.config = openblas_get_config();
  if (const char* at = strstr(r.config.c_str(), "OpenBLAS ")) {
    char version[32] = {};
    if (sscanf(at + 9, "%31s", version) == 1) r.version = version;
  }
  r.switchable = gotoblas_dynamic_init && gotoblas_dynamic_quit && r.config.find("DYNAMIC_ARCH") != std::string::npos;
  r.openblas_choice = r.kernels = openblas_get_corename();
  r.cpu = describe_this_cpu();
  r.executable = executable_kernel_families(r.cpu, r.version);
  const char* forced = getenv("OPENBLAS_CORETYPE");
  if (forced && *forced) {
    r.chosen_by = "OPENBLAS_CORETYPE";
    r.reason = lower(forced) == lower(r.kernels)
                   ? std::string("set by OPENBLAS_CORETYPE")
                   : std::string("OPENBLAS_CORETYPE=") + forced + " names no kernel family of this OpenBLAS; it runs " + r.kernels;
    return r;
  }
  r.chosen_by = "openblas";
  if (!r.switchable) {
    r.reason = "this OpenBLAS is built for one CPU target; its kernels cannot be chosen at run time";
    return r;
  }
  const KernelChoice choice = choose_kernel_family(r.cpu, r.version, r.openblas_choice);
  r.reason = choice.reason;
  if (!choice.replaces) return r;
  const std::string now = switch_kernels(choice.family);
  if (lower(now) == lower(choice.family)) {
    r.kernels = now;
    r.chosen_by = "features";
  } else {  // this build lacks the family after all: back to OpenBLAS's own
    r.kernels = switch_kernels(r.openblas_choice);
    r.reason = "this OpenBLAS has no " + choice.family + " kernels; it keeps its own choice";
  }
  return r;
}
#endif

BlasReport& report() {
  static std::once_flag once;
  static BlasReport r;
  std::call_once(once, [] { r = make_report(); });
  return r;
}

}  // namespace

const BlasReport& use_best_blas_kernels() { return report(); }

std::string use_blas_kernels(const std::string& family) {
  BlasReport& r = report();
  const auto& runnable = r.executable;
  const bool known = std::any_of(runnable.begin(), runnable.end(), [&](const std::string& f) { return lower(f) == lower(family); });
  if (!r.switchable || !known)
    throw Error(ErrorKind::InvalidArgument, "BLAS kernels '" + family + "' cannot run here (this CPU and OpenBLAS " +
                r.version + " run: " + (r.switchable ? join(runnable) : std::string("only their built-in target")) + ")");
  r.kernels = switch_kernels(family);
  r.chosen_by = "caller";
  r.reason = "chosen by the program";
  return r.kernels;
}

}  // namespace kb::cpu
