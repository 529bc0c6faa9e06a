# The CPU addon built by node-gyp (`node-gyp rebuild`, and tools that expect a binding.gyp). The primary build is
# CMakeLists.txt (cmake-js); this one compiles the same sources (native/sources.txt, which both read), links
# OpenBLAS the same way (statically with its Fortran runtime where a static library exists, its symbols kept
# private) and uses the compile options that matter for speed and results: -O3, C++17, no fused multiply-add,
# no errno from math functions (vectorized square roots), no -ffast-math, C++ exceptions and RTTI on, the same
# Node-API definitions. The CUDA backend is left out (native/cuda/cuda_absent.cc), as in a CMake build without nvcc. scripts/gyp-check.sh builds it from a clean
# copy of the tree and runs the backend and golden suites against it.
{
  "targets": [
    {
      "target_name": "kbfgs_native",
      "sources": [
        "<!@(node scripts/native-build.js sources)",
        "native/cuda/cuda_absent.cc"
      ],
      "include_dirs": [
        "<!(node scripts/native-build.js addon-api)",
        "<!(node scripts/native-build.js openblas-include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions", "-O0", "-O2", "-Os", "-ffast-math"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++20", "-std=c++20"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions", "-frtti"],
      # Node's own Release settings add a frame pointer; the CMake build has none.
      "configurations": { "Release": { "cflags!": ["-fno-omit-frame-pointer"] } },
      "libraries": ["<!@(node scripts/native-build.js openblas-libs)", "-lpthread", "-lm", "-ldl"],
      "conditions": [
        ["OS!='mac'", { "ldflags": ["-Wl,--exclude-libs,ALL"] }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "OTHER_CFLAGS": ["-ffp-contract=off", "-fno-math-errno"]
          }
        }]
      ]
    }
  ]
}
