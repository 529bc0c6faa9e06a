#!/usr/bin/env bash
# The prebuilt binaries that the npm tarball carries (`npm run build:release`, before `npm pack` or
# `npm publish`): the WebAssembly engine (wasm/), linux-x64 (with the CUDA backend when nvcc is found) and linux-arm64 (CPU only), each with
# OpenBLAS and its Fortran runtime linked in, stripped, under prebuilds/<platform>-<arch>/. Each is built in its
# own folder under build/, so the developer's build (build/Release) is neither moved nor replaced.
# The arm64 binary is cross-compiled: scripts/setup.sh installs the cross toolchain and OpenBLAS for arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake_js=(node node_modules/cmake-js/bin/cmake-js)

build() {  # platform-arch, strip tool, extra cmake-js arguments
  local target="$1" strip_tool="$2"; shift 2
  local dir="build/release-$target"
  "${cmake_js[@]}" compile --out "$dir" --CDKBFGS_OUTPUT_DIR="$PWD/$dir/out" "$@" >"$dir.log" 2>&1 \
    || { tail -30 "$dir.log"; echo "build-release: the $target build failed (log: $dir.log)" >&2; exit 1; }
  mkdir -p "prebuilds/$target"
  local dest="prebuilds/$target/kbfgs-native.napi.glibc.node"
  rm -f prebuilds/"$target"/*.node
  "$strip_tool" --strip-unneeded -o "$dest" "$dir/out/kbfgs_native.node"
  echo "build-release: $dest ($(du -h "$dest" | cut -f1))"
}

mkdir -p build
npm run build:wasm  # the engine for every other platform (wasm/): Emscripten, from scripts/setup.sh
build linux-x64 strip
build linux-arm64 aarch64-linux-gnu-strip --CDCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" --CDKBFGS_CUDA=OFF
node scripts/check-prebuilds.js
