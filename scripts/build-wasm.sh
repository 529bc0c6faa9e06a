#!/usr/bin/env bash
# Builds the WebAssembly engine (cmake/wasm.cmake) into wasm/ with Emscripten: `npm run build:wasm`. Two
# builds: the pthreads one (kbfgs_native.*, Node and cross-origin isolated pages) and the one-thread one
# (kbfgs_native_st.*, for pages that are not cross-origin isolated).
# Debian's emscripten package keeps its JS dependencies (acorn) in /usr/share/nodejs, where a Node.js that did
# not come from Debian does not look.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v emcmake >/dev/null || { echo "build:wasm needs Emscripten (Debian, Ubuntu: apt-get install emscripten)" >&2; exit 1; }
[ -d /usr/share/nodejs ] && export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
emcmake cmake -S . -B build/wasm -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/wasm -j "${KBFGS_BUILD_JOBS:-2}"
emcmake cmake -S . -B build/wasm-st -G Ninja -DCMAKE_BUILD_TYPE=Release -DKBFGS_WASM_THREADS=OFF >/dev/null
cmake --build build/wasm-st -j "${KBFGS_BUILD_JOBS:-2}"
