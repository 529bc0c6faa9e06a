#!/usr/bin/env bash
# OpenBLAS for the win32-x64 binary, cross-compiled on Debian with the MinGW-w64 toolchain (scripts/setup.sh installs
# it) and installed as a static library under build/openblas-win64 (include/, lib/libopenblas.a), which
# scripts/build-release.sh hands to CMake (KBFGS_OPENBLAS_PREFIX). Built from source because no package registry
# that this build may use carries a static MinGW build of it: Debian has none for Windows, and MSYS2's and
# conda's are not reachable from Debian's tools. The source is Debian's own (`apt-get source openblas`, the
# version the Linux binaries link), or a folder named by OPENBLAS_SRC.
# DYNAMIC_ARCH with the x86-64 kernel families the Linux binary chooses between most (a full DYNAMIC_ARCH build
# takes an hour on two cores): a CPU outside the list runs the nearest older family's kernels.
# Two Debian quirks are undone on the make command line: OpenBLAS's compiler checks cannot read the version
# "12-posix" of Debian's MinGW compilers, and would take the Fortran compiler for g77 and turn AVX2 off.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
prefix="$root/build/openblas-win64"
work="$root/build/openblas-win64-src"
jobs="${OPENBLAS_JOBS:-2}"
if [ -f "$prefix/lib/libopenblas.a" ] && [ -z "${OPENBLAS_REBUILD:-}" ]; then
  echo "build-openblas-windows: $prefix is there (OPENBLAS_REBUILD=1 builds it again)"; exit 0
fi
for tool in x86_64-w64-mingw32-gcc-posix x86_64-w64-mingw32-gfortran-posix; do
  command -v "$tool" >/dev/null || { echo "build-openblas-windows: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

src="${OPENBLAS_SRC:-}"
if [ -z "$src" ]; then
  mkdir -p "$work"
  src="$(find "$work" -maxdepth 1 -type d -name 'OpenBLAS-*' | head -1)"
  if [ -z "$src" ]; then
    (cd "$work" && apt-get source --download-only openblas >/dev/null) || {
      echo "build-openblas-windows: \`apt-get source openblas\` failed: enable Debian's source packages (a deb-src" \
           "entry in /etc/apt/sources.list.d/) and run apt-get update, or set OPENBLAS_SRC to an OpenBLAS source folder" >&2
      exit 1; }
    tar xf "$work"/openblas_*.orig.tar.xz -C "$work"
    src="$(find "$work" -maxdepth 1 -type d -name 'OpenBLAS-*' | head -1)"
  fi
fi
[ -f "$src/Makefile.system" ] || { echo "build-openblas-windows: $src is not an OpenBLAS source folder" >&2; exit 1; }

opts=(CC=x86_64-w64-mingw32-gcc-posix FC=x86_64-w64-mingw32-gfortran-posix HOSTCC=gcc
  AR=x86_64-w64-mingw32-ar RANLIB=x86_64-w64-mingw32-ranlib CROSS=1 BINARY=64
  TARGET=PRESCOTT DYNAMIC_ARCH=1 DYNAMIC_LIST="PRESCOTT NEHALEM SANDYBRIDGE HASWELL SKYLAKEX ZEN"
  USE_THREAD=1 USE_OPENMP=0 NUM_THREADS=64 NO_AFFINITY=1 NO_LAPACKE=1 NO_SHARED=1
  F_COMPILER=GFORTRAN NO_AVX2=0 OLDGCC=0)
echo "build-openblas-windows: building $src (log: build/openblas-win64.log; about 30 minutes on two cores)"
(cd "$src" && nice make -j"$jobs" libs netlib "${opts[@]}" && make install PREFIX="$prefix" "${opts[@]}") \
  >"$root/build/openblas-win64.log" 2>&1 \
  || { tail -30 "$root/build/openblas-win64.log"; echo "build-openblas-windows: the build failed" >&2; exit 1; }
echo "build-openblas-windows: $prefix/lib/libopenblas.a"
