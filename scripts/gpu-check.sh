#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one go: the device report, the CUDA parity suite (also under
# compute-sanitizer's memcheck when it is installed), then the MNIST comparison of all six methods on the GPU
# KFAC with seed 1 (it diverges with the benchmark's seed, as on the CPU), K-BFGS and K-BFGS(L) with each
# phase timed on its own (KBFGS_SYNC_PHASES=1), and K-BFGS with TF32; before the benchmark, the optimizer-state
# memory check against the GPU's free memory. Needs a built package (dist/ and the addon; KBFGS_ADDON may name the addon).
#   EPOCHS=20 BUDGET=60 MNIST_DIR=path/to/idx OUT_DIR=. bash scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-20}
BUDGET=${BUDGET:-60}
OUT_DIR=${OUT_DIR:-.}
MNIST=${MNIST_DIR:+--dir $MNIST_DIR}
status=0
timeout 150 node test/parity/run.js || status=1
if command -v compute-sanitizer >/dev/null; then
  timeout 90 compute-sanitizer --tool memcheck --error-exitcode 3 node test/parity/run.js --ops >"$OUT_DIR/memcheck.log" 2>&1
  echo "compute-sanitizer memcheck of the op checks: exit $? ($(grep -c 'Invalid\|ERROR SUMMARY' "$OUT_DIR/memcheck.log") lines of note)"
  grep 'ERROR SUMMARY' "$OUT_DIR/memcheck.log" || tail -5 "$OUT_DIR/memcheck.log"
fi
# The memory check before allocation on the GPU (free device memory): a 2^20-wide K-BFGS layer is refused at once.
node -e "
const lib = require('./dist');
const width = 1 << 20, m = new lib.Sequential({ inputDim: width, layers: [{ units: 3 }], loss: 'halfSquaredError', device: 'cuda' });
const d = { x: { data: new Float32Array(4 * width), rows: 4, cols: width }, y: { data: new Float32Array(12), rows: 4, cols: 3 } };
m.fit(d, { optimizer: new lib.KBFGS(), batchSize: 2 }).then(() => { console.log('memory check: NOT refused'); process.exitCode = 1; },
  (e) => console.log('memory check:', e.name, e.message));" || status=1
node bench/gpu-mnist.js --device cuda --epochs "$EPOCHS" --time-budget "$BUDGET" $MNIST --log "$OUT_DIR/gpu-mnist.jsonl" || status=1
node bench/gpu-mnist.js --device cuda --methods kfac --seed 1 --epochs "$EPOCHS" --time-budget "$BUDGET" $MNIST \
  --log "$OUT_DIR/gpu-mnist-kfac-seed1.jsonl" || status=1
KBFGS_SYNC_PHASES=1 node bench/gpu-mnist.js --device cuda --methods kbfgs,kbfgs-l --epochs 3 $MNIST \
  --log "$OUT_DIR/gpu-mnist-phases.jsonl" || status=1
node bench/gpu-mnist.js --device cuda --tf32 --methods kbfgs --epochs "$EPOCHS" --time-budget "$BUDGET" $MNIST \
  --log "$OUT_DIR/gpu-mnist-tf32.jsonl" || status=1
exit $status
