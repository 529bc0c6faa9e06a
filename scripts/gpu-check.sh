#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one call of at most TOTAL seconds (default 540, inside a 600-second
# command limit), on a bare machine or a developer's. Each part runs under its own `timeout`, never past the
# total, so one hang cannot eat the rest; its log goes to OUT_DIR (default $OUT, else gpu-logs/), one line per
# part to OUT_DIR/summary.txt, and every log into OUT_DIR/logs.tar.gz, rewritten after each part so that what
# ran comes back even if the call is cut off. The parts, most important first:
#   device     nvidia-smi (GPU, driver), node's version, what the addon found (devices().cuda)
#   parity     test/parity/run.js: every Backend operation, TF32, and whole steps of SGD, Adam, RMSprop, AdamW and
#              K-BFGS (clipped, scheduled), K-BFGS, K-BFGS(L), KFAC, Shampoo and SOAP on a dense autoencoder and a
#              CNN against the CPU, fp32 and TF32 (K-BFGS, K-BFGS(L) and KFAC steps replayed from CUDA graphs)
#   memcheck   compute-sanitizer's memcheck of the operation checks (run.js --ops)
#   gpt        test/parity/run.js --gpt: a tiny GPT (embedding, attention, layer norm, dropout, residual blocks, the
#              per-token loss) trained a few steps with AdamW, KFAC and K-BFGS on the GPU against the CPU, the
#              KFAC and K-BFGS steps replayed from CUDA graphs
#   memory     the optimizer-state memory check against the GPU's free memory: refused before allocating
#   mnist      bench/gpu-mnist.js: the paper's six methods on the MNIST autoencoder, EPOCHS epochs at batch 1000
#   cnn        bench/cnn-speed.js --device cuda: the Fashion-MNIST CNN's Adam epoch against PyTorch's on the same
#              GPU in the same run, and K-BFGS's step against Adam's, over the FASHION_ROWS images carried
#   nccl       test/distributed/nccl-check.js: one NCCL rank against the undistributed GPU run (needs Open MPI)
#   nographs   the whole-step checks again with KBFGS_CUDA_GRAPHS=0: a step failing only when recorded is told
#              from one failing anyway
#   phases     K-BFGS, K-BFGS(L) and KFAC on MNIST with each phase timed on its own (KBFGS_SYNC_PHASES=1)
# The token layers' operations are in the parity part's op checks (test/parity/cuda-parity.js).
#
# A bare machine gets the working tree and what is carried beside it, nothing else (no node_modules, no build
# outputs, no network). Here, with nvcc installed: `npm run build && bash scripts/gpu-pack.sh` writes
# .gpu-carry/ (node's binary, the addon and dist/ xz-compressed; MNIST and part of Fashion-MNIST gzipped; about
# 60 MB with the tree, under the 64 MiB a call may carry); there: `bash scripts/gpu-check.sh` with .gpu-carry
# carried. The script unpacks node (when none is on the PATH), the addon and dist/. Without .gpu-carry/ it uses
# the checkout as it is (dist/, build/Release, node on the PATH); MNIST_DIR and FASHION_DIR name the data.
#   TOTAL=540 EPOCHS=4 OUT_DIR=gpu-logs bash scripts/gpu-check.sh
# REHEARSE=1 runs every part but the memcheck on the CPU at small sizes, without a GPU: a check of the script,
# the carried files and their unpacking (the parity harness against itself, the benchmarks on the CPU, the NCCL
# comparison over MPI).
set -uo pipefail
cd "$(dirname "$0")/.."
TOTAL=${TOTAL:-540}
EPOCHS=${EPOCHS:-4}
CARRY=.gpu-carry
OUT_DIR=${OUT_DIR:-${OUT:-gpu-logs}}
mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOGS=$(mktemp -d)
SUMMARY="$OUT_DIR/summary.txt"
: >"$SUMMARY"
status=0

say() { echo "$*" | tee -a "$SUMMARY"; }
# Every log so far into OUT_DIR/logs.tar.gz (Python's tarfile where gzip is missing).
pack_logs() {
  if command -v gzip >/dev/null; then tar -czf "$OUT_DIR/logs.tar.gz" -C "$LOGS" .
  else (cd "$LOGS" && python3 -m tarfile -c "$OUT_DIR/logs.tar.gz" .); fi
}

# Decompresses an .xz file with xz, or with Python's lzma where xz is missing.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

# part NAME SECONDS COMMAND...: runs the command under the smaller of its limit and the time left, logs to NAME.log.
part() {
  local name=$1 limit=$2 left begin rc verdict
  shift 2
  left=$((TOTAL - SECONDS - 5))
  if [ "$left" -lt 20 ]; then
    say "$name: not run ($left s left of $TOTAL)"
    status=1
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  begin=$SECONDS
  # a function of this script runs in a child bash (timeout runs programs), which gets it by export -f
  if declare -F "$1" >/dev/null; then set -- bash -c "$*"; fi
  timeout -k 5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  case $rc in
    0) verdict=ok ;;
    124 | 137) verdict="TIMED OUT (limit $limit s)"; status=1 ;;
    *) verdict="FAILED (exit $rc)"; status=1 ;;
  esac
  say "$name: $verdict in $((SECONDS - begin)) s; last lines:"
  tail -n "${TAIL:-4}" "$LOGS/$name.log" | sed 's/^/    /' | tee -a "$SUMMARY"
  case $name in parity | mnist | cnn | nccl) cp "$LOGS/$name.log" "$OUT_DIR/" ;; esac
  pack_logs
}

# ---- what a bare machine lacks, from .gpu-carry ----------------------------------------------------------------
if ! command -v node >/dev/null && [ -f "$CARRY/node.xz" ]; then
  NODE_DIR=$(mktemp -d) && unxz_to "$CARRY/node.xz" "$NODE_DIR/node" && chmod +x "$NODE_DIR/node"
  export PATH="$NODE_DIR:$PATH"
fi
if [ -f "$CARRY/addon.node.xz" ] && [ ! -f build/Release/kbfgs_native.node ]; then
  mkdir -p build/Release && unxz_to "$CARRY/addon.node.xz" build/Release/kbfgs_native.node
fi
if [ -f "$CARRY/dist.tar.xz" ] && [ ! -d dist ]; then
  if command -v xz >/dev/null; then tar -xJf "$CARRY/dist.tar.xz"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall()' "$CARRY/dist.tar.xz"; fi
fi
# Without node_modules, node-gyp-build (which finds the addon) is missing: name the addon.
[ -d node_modules/node-gyp-build ] || export KBFGS_ADDON="${KBFGS_ADDON:-$PWD/build/Release/kbfgs_native.node}"
[ -d "$CARRY/mnist" ] && MNIST_DIR=${MNIST_DIR:-$CARRY/mnist}
[ -d "$CARRY/fashion" ] && FASHION_DIR=${FASHION_DIR:-$CARRY/fashion}
FASHION_DIR=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
# cuBLAS, cuSOLVER and NCCL from PyTorch's pip wheels, wherever the python3 on the PATH keeps them.
if [ -z "${KBFGS_CUDA_LIBRARY_PATH:-}" ] && command -v python3 >/dev/null; then
  KBFGS_CUDA_LIBRARY_PATH=$(python3 -c 'import glob, os, nvidia; print(":".join(d for p in nvidia.__path__ for d in sorted(glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null) &&
    export KBFGS_CUDA_LIBRARY_PATH
fi
if ! command -v node >/dev/null || [ ! -f "${KBFGS_ADDON:-build/Release/kbfgs_native.node}" ] || [ ! -d dist ]; then
  say "not run: node, the addon or dist/ is missing (here: npm run build && bash scripts/gpu-pack.sh; carry .gpu-carry)"
  exit 1
fi
FASHION_ROWS=${FASHION_ROWS:-$(node -e "
const fs = require('fs'), zlib = require('zlib'), path = require('path'), dir = process.argv[1];
const name = fs.readdirSync(dir).find((f) => f.startsWith('train-images'));
const bytes = name.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(path.join(dir, name))) : fs.readFileSync(path.join(dir, name));
console.log(bytes.readUInt32BE(4));" "$FASHION_DIR" 2>/dev/null || echo 60000)}

# Open MPI for the NCCL check: mpirun on the PATH or in the usual places; else its library alone (a singleton world).
for dir in /opt/hpcx/ompi/bin /usr/local/mpi/bin /opt/openmpi/bin /usr/lib64/openmpi/bin; do
  command -v mpirun >/dev/null || { [ -x "$dir/mpirun" ] && export PATH="$PATH:$dir"; }
done
if [ -z "${KBFGS_MPI_LIBRARY:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libmpi.so.40 '; then
  found=$(timeout 20 find / -xdev -name 'libmpi.so.40' -not -path '*/proc/*' 2>/dev/null | head -1)
  [ -n "$found" ] && export KBFGS_MPI_LIBRARY=$found
fi
# As root, and without ssh (Open MPI refuses to start without a remote agent even for local ranks).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=${OMPI_MCA_plm_rsh_agent-}

device_report() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || nvidia-smi
  echo "node $(node --version); commit $(cat "$CARRY/commit" 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown); MNIST ${MNIST_DIR:-mnist-data}," \
    "Fashion-MNIST $FASHION_DIR ($FASHION_ROWS training images); mpirun $(command -v mpirun || echo none), libmpi ${KBFGS_MPI_LIBRARY:-from the loader cache, or none}"
  node -e "const c = require('./dist').devices().cuda; console.log(JSON.stringify(c, null, 1)); if (!c.available && process.argv[1] === 'cuda') process.exit(1);" "$DEVICE"
}
memory_check() {  # a 2^20-wide K-BFGS layer's state does not fit: refused at once, before any allocation
  node -e "
const lib = require('./dist');
const width = 1 << 20, m = new lib.Sequential({ inputDim: width, layers: [{ units: 3 }], loss: 'halfSquaredError', device: process.argv[1] });
const d = { x: { data: new Float32Array(4 * width), rows: 4, cols: width }, y: { data: new Float32Array(12), rows: 4, cols: 3 } };
m.fit(d, { optimizer: new lib.KBFGS(), batchSize: 2 }).then(() => { console.log('memory check: NOT refused'); process.exitCode = 1; },
  (e) => { console.log('memory check:', e.name, e.message); if (e.name !== 'OutOfMemoryError') process.exitCode = 1; });" "$DEVICE"
}
memcheck() {
  local sanitizer
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
  [ -n "$sanitizer" ] || { echo "compute-sanitizer not found"; return 1; }
  "$sanitizer" --tool memcheck --error-exitcode 3 node test/parity/run.js --ops
}
nccl() {
  if command -v mpirun >/dev/null; then node test/distributed/nccl-check.js $NCCL_ARGS
  elif [ -n "${KBFGS_MPI_LIBRARY:-}" ] || ldconfig -p 2>/dev/null | grep -q 'libmpi.so.40 '; then node test/distributed/nccl-check.js --singleton $NCCL_ARGS
  else echo "no Open MPI on this machine (neither mpirun nor libmpi.so.40): the NCCL world cannot start"; return 1; fi
}
if [ "${REHEARSE:-0}" = 1 ]; then
  DEVICE=cpu PARITY=--cpu EPOCHS=1 BUDGET=3 CNN_ROWS=1280 STEP_ROWS=1280 REPEATS=1 NCCL_ARGS="--device cpu --engine mpi"
  MNIST_METHODS=adam,sgd PHASE_METHODS=adam  # what fits the parts' limits on a CPU
else
  DEVICE=cuda PARITY= BUDGET=15 CNN_ROWS=$FASHION_ROWS STEP_ROWS=6400 REPEATS=2 NCCL_ARGS=
  MNIST_METHODS=kbfgs,kbfgs-l,kfac,adam,rmsprop,sgd PHASE_METHODS=kbfgs,kbfgs-l,kfac  # the paper's six
fi
export -f device_report memory_check memcheck nccl
export MNIST_DIR FASHION_DIR FASHION_ROWS DEVICE NCCL_ARGS CARRY
MNIST=${MNIST_DIR:+--dir $MNIST_DIR}

TAIL=30 part device 30 device_report
part parity 120 node test/parity/run.js $PARITY
if [ "$DEVICE" = cuda ]; then part memcheck 90 memcheck; else say "memcheck: not rehearsed (it needs the GPU)"; fi
part gpt 30 node test/parity/run.js --gpt $PARITY
part memory 20 memory_check
TAIL=12 part mnist 100 node bench/gpu-mnist.js --device "$DEVICE" --methods "$MNIST_METHODS" --epochs "$EPOCHS" --time-budget "$BUDGET" $MNIST \
  --log "$LOGS/gpu-mnist.jsonl"
part cnn 120 node bench/cnn-speed.js --device "$DEVICE" --dir "$FASHION_DIR" --rows "$CNN_ROWS" --step-rows "$STEP_ROWS" --batch 128 \
  --repeats "$REPEATS"
part nccl 45 nccl
KBFGS_CUDA_GRAPHS=0 part nographs 45 node test/parity/run.js ${PARITY:---steps}
TAIL=6 KBFGS_SYNC_PHASES=1 part phases 40 node bench/gpu-mnist.js --device "$DEVICE" --methods "$PHASE_METHODS" --epochs 2 --time-budget "$BUDGET" $MNIST \
  --log "$LOGS/gpu-mnist-phases.jsonl"
cp "$LOGS/gpu-mnist.jsonl" "$OUT_DIR/" 2>/dev/null
pack_logs
say "total $SECONDS s of $TOTAL; $([ $status = 0 ] && echo 'every part passed' || echo 'some part FAILED or did not run')"
exit $status
