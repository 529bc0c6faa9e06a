#!/usr/bin/env bash
# Builds and runs bench/conv-kernels.cc: the candidate CPU convolution kernels side by side, with oneDNN's when
# its headers are installed (Debian: apt-get install libdnnl-dev; the package itself does not use oneDNN, so
# scripts/setup.sh leaves it out).
#   bash bench/conv-kernels.sh [threads] [repeats]      (ONLY=substring picks shapes, CHUNK_KB the chunk size)
set -euo pipefail
cd "$(dirname "$0")/.."
arch_dir="$(gcc -print-multiarch)"
out="build/bench"
mkdir -p "$out"
flags=(-O3 -std=c++17 -I"/usr/include/$arch_dir/openblas-pthread")
libs=("/usr/lib/$arch_dir/openblas-pthread/libopenblas.a" -lpthread -lgfortran)
if [ -f /usr/include/oneapi/dnnl/dnnl.hpp ]; then
  flags+=(-fopenmp -DWITH_ONEDNN)
  libs=(-ldnnl "${libs[@]}")
else
  echo "oneDNN's headers are not installed (apt-get install libdnnl-dev): its column is left out" >&2
fi
g++ "${flags[@]}" bench/conv-kernels.cc native/cpu/image_ops.cc -o "$out/conv-kernels" "${libs[@]}"
"$out/conv-kernels" "$@"
