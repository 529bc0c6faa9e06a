#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer and runs the native-facing tests
# under it. Node itself is not instrumented, so the ASan runtime is preloaded and leak detection is off: Node
# leaves its own allocations at exit, and LeakSanitizer's suppressions match any frame of a stack, so every
# report (each has Node frames under the addon's) would be suppressed or none; the addon's lifetimes are
# checked by RSS instead (test/lifetimes.test.ts). Any error aborts the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build/asan --CDKBFGS_SANITIZE=ON --CDKBFGS_CUDA=OFF --CDKBFGS_OUTPUT_DIR="$PWD/build/asan/Release" >/dev/null
export KBFGS_ADDON="$PWD/build/asan/Release/kbfgs_native.node"
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Every suite that reaches native code (child processes inherit the instrumented addon). Left out: the ones
# that never load it (idx, errors), the packaging suites, which load the binary of an installed tarball, and
# the CUDA suite, whose module this build leaves out, and the browser suites, which run the WebAssembly engine
# in Chromium (the preloaded sanitizer runtime would be loaded into the browser too).
npx jest --runInBand --testPathIgnorePatterns 'test/(idx|errors|package|install|cuda|browser|browser-bundle)\.test\.ts$'
