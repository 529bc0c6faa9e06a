#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer and runs the native-facing tests
# under it. Node itself is not instrumented, so the ASan runtime is preloaded and leak detection (which would
# report Node's own allocations at exit) is off; any error aborts the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build/asan --CDKBFGS_SANITIZE=ON --CDKBFGS_CUDA=OFF --CDKBFGS_OUTPUT_DIR="$PWD/build/asan/Release" >/dev/null
export KBFGS_ADDON="$PWD/build/asan/Release/kbfgs_native.node"
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
npx jest --runInBand test/backend.test.ts test/gradients.test.ts test/curvature.test.ts test/golden.test.ts \
  test/model.test.ts test/second-order.test.ts test/checkpoint.test.ts test/fuzz.test.ts
