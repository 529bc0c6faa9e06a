#!/usr/bin/env bash
# The golden suites once under each OpenBLAS kernel family this CPU can execute (OPENBLAS_CORETYPE), so that a
# result that depends on the kernels' order of summation fails on any machine, not only on the CPUs that pick
# the sensitive kernels by themselves (docs/blas-kernels.md). Part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
families="$(node -e "console.log(require('./dist').devices().cpu.blas.executable.join(' '))")"
for family in $families; do
  echo "golden suites with OpenBLAS's $family kernels"
  OPENBLAS_CORETYPE="$family" npx jest --runInBand --silent test/golden.test.ts test/golden-conv.test.ts test/golden-shampoo.test.ts \
    test/golden-transformer.test.ts
done
