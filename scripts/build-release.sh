#!/usr/bin/env bash
# The prebuilt binaries that the npm tarball carries (`npm run build:release`, before `npm pack` or
# `npm publish`): the WebAssembly engine (wasm/), linux-x64 (with the CUDA backend when nvcc is found),
# linux-arm64 and win32-x64 (CPU only), each with OpenBLAS and its Fortran runtime linked in, stripped, under
# prebuilds/<platform>-<arch>/. Each is built in its own folder under build/, so the developer's build
# (build/Release) is neither moved nor replaced. The arm64 and Windows binaries are cross-compiled:
# scripts/setup.sh installs the cross toolchains and OpenBLAS for arm64; OpenBLAS for Windows is built from
# source the first time (scripts/build-openblas-windows.sh, docs/windows.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake_js=(node node_modules/cmake-js/bin/cmake-js)

build() {  # platform-arch, file name (node-gyp-build's tags), strip tool, extra cmake-js arguments
  local target="$1" name="$2" strip_tool="$3"; shift 3
  local dir="build/release-$target"
  "${cmake_js[@]}" compile --out "$dir" --CDKBFGS_OUTPUT_DIR="$PWD/$dir/out" "$@" >"$dir.log" 2>&1 \
    || { tail -30 "$dir.log"; echo "build-release: the $target build failed (log: $dir.log)" >&2; exit 1; }
  mkdir -p "prebuilds/$target"
  local dest="prebuilds/$target/$name"
  rm -f prebuilds/"$target"/*.node
  "$strip_tool" --strip-unneeded -o "$dest" "$dir/out/kbfgs_native.node"
  echo "build-release: $dest ($(du -h "$dest" | cut -f1))"
}

mkdir -p build
npm run build:wasm  # the engine for every other platform (wasm/): Emscripten, from scripts/setup.sh
build linux-x64 kbfgs-native.napi.glibc.node strip
build linux-arm64 kbfgs-native.napi.glibc.node aarch64-linux-gnu-strip \
  --CDCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" --CDKBFGS_CUDA=OFF
bash scripts/build-openblas-windows.sh  # once: it keeps build/openblas-win64
build win32-x64 kbfgs-native.napi.node x86_64-w64-mingw32-strip \
  --CDCMAKE_TOOLCHAIN_FILE="$PWD/cmake/x86_64-w64-mingw32.cmake" --CDKBFGS_CUDA=OFF \
  --CDKBFGS_OPENBLAS_PREFIX="$PWD/build/openblas-win64"
node scripts/check-prebuilds.js
