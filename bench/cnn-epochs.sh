#!/usr/bin/env bash
# One Adam epoch of the benchmark CNN against PyTorch's (bench/cnn-speed.js, processor seconds) at batch 32, 128
# and 256 and with a 1,024-unit first dense layer, for each build given, the pairs run back to back:
#   bash bench/cnn-epochs.sh [threads] [repeats] [another addon (.node) ...]
# CLOCK=wall compares wall-clock seconds instead of processor seconds (default cpu): on an otherwise idle machine
# at two threads, the time a user waits.
# This build runs twice, with oneDNN's convolutions where the system has them and with KBFGS_ONEDNN=off; each
# further addon (an older build, as KBFGS_ADDON takes it) once. The first lines say which kernels each side ran.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-1}" repeats="${2:-3}"
shift $(( $# < 2 ? $# : 2 ))
python3 -c 'import torch; print("PyTorch", torch.__version__, "oneDNN", torch.backends.mkldnn.is_available(), "CPU capability", torch.backends.cpu.get_cpu_capability())'
for config in "--batch 32" "--batch 128" "--batch 256" "--batch 128 --units 1024"; do
  # shellcheck disable=SC2086
  run() { node bench/cnn-speed.js --only epoch --rows 2560 --threads "$threads" --repeats "$repeats" --clock "${CLOCK:-cpu}" $config | sed -n '1,2p;$p'; }
  echo "== $config: this build"
  run
  echo "== $config: this build, KBFGS_ONEDNN=off"
  KBFGS_ONEDNN=off run
  for addon in "$@"; do
    echo "== $config: $(basename "$addon")"
    KBFGS_ADDON="$(realpath "$addon")" run
  done
done
