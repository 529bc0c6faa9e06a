#!/usr/bin/env bash
# OpenBLAS for the win32-x64 binary, cross-compiled on Debian with the MinGW-w64 toolchain (scripts/setup.sh installs
# it) and installed as a static library under build/openblas-win64 (include/, lib/libopenblas.a), which
# scripts/build-release.sh hands to CMake (KBFGS_OPENBLAS_PREFIX). Built from source because no package registry
# this build can reach carries a static MinGW build of it: Debian has none for Windows, and npm none at all.
# The sources are Debian's own (`apt-get source openblas lapack`: the OpenBLAS version the Linux binaries link), or
# folders named by OPENBLAS_SRC and LAPACK_SRC.
# What the addon calls, and only that, to keep the build short on two cores (the install test builds it): single
# precision (BLAS, and OpenBLAS's own LAPACK routines: spotrf, strtri, slauum), with DYNAMIC_ARCH over three
# x86-64 kernel families: Prescott (any x86-64), Haswell (AVX2 and FMA: Zen runs it too, and the addon prefers it
# there, docs/blas-kernels.md) and SkylakeX (AVX-512). OpenBLAS maps a CPU outside the list to the nearest
# family built: AVX-only CPUs (Sandy Bridge, Ivy Bridge, Bulldozer; 2011-2013) run Prescott's SSE3 kernels. Debian's OpenBLAS source
# leaves out LAPACK's Fortran part; the one Fortran routine the addon needs, spotri (strtri then slauum), comes
# from Debian's LAPACK source, compiled with the same toolchain and added to the library.
# Debian's MinGW compilers give their version as "12-posix", which OpenBLAS's checks cannot read: they would take
# the Fortran compiler for g77, the C compiler for one too old for AVX, and skip version-gated flags. Wrappers
# that answer -dumpversion with the number only, and the make command line, undo that.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
prefix="$root/build/openblas-win64"
work="$root/build/openblas-win64-src"
mkdir -p "$work"
jobs="${OPENBLAS_JOBS:-2}"
if [ -f "$prefix/lib/libopenblas.a" ] && [ -z "${OPENBLAS_REBUILD:-}" ]; then
  echo "build-openblas-windows: $prefix is there (OPENBLAS_REBUILD=1 builds it again)"; exit 0
fi
for tool in x86_64-w64-mingw32-gcc-posix x86_64-w64-mingw32-gfortran-posix; do
  command -v "$tool" >/dev/null || { echo "build-openblas-windows: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

# A Debian source package's folder under $work, fetched and unpacked when missing.
debian_source() {  # source package, folder name pattern
  local dir
  dir="$(find "$work" -maxdepth 1 -type d -name "$2" | head -1)"
  if [ -z "$dir" ]; then
    (cd "$work" && apt-get source --download-only "$1" >/dev/null 2>&1) || {
      echo "build-openblas-windows: \`apt-get source $1\` failed: enable Debian's source packages (a deb-src entry in" \
           "/etc/apt/sources.list.d/, as scripts/setup.sh writes) and run apt-get update, or name a source folder" >&2
      exit 1; }
    tar xf "$(ls "$work"/"$1"_*.orig.tar.* | head -1)" -C "$work"
    dir="$(find "$work" -maxdepth 1 -type d -name "$2" | head -1)"
  fi
  echo "$dir"
}
src="${OPENBLAS_SRC:-$(debian_source openblas 'OpenBLAS-*')}"
lapack="${LAPACK_SRC:-$(debian_source lapack 'lapack-*')}"
[ -f "$src/Makefile.system" ] || { echo "build-openblas-windows: $src is not an OpenBLAS source folder" >&2; exit 1; }
[ -f "$lapack/SRC/spotri.f" ] || { echo "build-openblas-windows: $lapack is not a LAPACK source folder" >&2; exit 1; }

# OpenBLAS 0.3.21's Windows thread server names the double and complex GEMM blocking sizes, which a
# single-precision build lacks; it needs them only to place the buffers of double and complex jobs, which such a
# build never queues, so they stand in with the single ones.
server="$src/driver/others/blas_server_win32.c"
if ! grep -q 'single-precision-only build' "$server"; then
  cat >"$work/server-single.h" <<'PATCH'
/* A single-precision-only build has no double or complex GEMM blocking sizes; the buffer split below uses them only for double and complex jobs, which such a build never queues. */
#ifndef BUILD_DOUBLE
#define DGEMM_P SGEMM_P
#define DGEMM_Q SGEMM_Q
#endif
#ifndef BUILD_COMPLEX
#define CGEMM_P SGEMM_P
#define CGEMM_Q SGEMM_Q
#endif
#ifndef BUILD_COMPLEX16
#define ZGEMM_P SGEMM_P
#define ZGEMM_Q SGEMM_Q
#endif
PATCH
  sed -i "/^#include \"common.h\"/r $work/server-single.h" "$server"
fi

mkdir -p "$work/bin"
for tool in gcc gfortran; do
  cat >"$work/bin/x86_64-w64-mingw32-$tool-posix" <<WRAP
#!/bin/sh
if [ "\$1" = "-dumpversion" ]; then v="\$($(command -v x86_64-w64-mingw32-$tool-posix) -dumpversion)"; echo "\${v%%-*}"; exit 0; fi
exec $(command -v x86_64-w64-mingw32-$tool-posix) "\$@"
WRAP
  chmod +x "$work/bin/x86_64-w64-mingw32-$tool-posix"
done
export PATH="$work/bin:$PATH"

opts=(CC=x86_64-w64-mingw32-gcc-posix FC=x86_64-w64-mingw32-gfortran-posix HOSTCC=gcc
  AR=x86_64-w64-mingw32-ar RANLIB=x86_64-w64-mingw32-ranlib CROSS=1 BINARY=64
  TARGET=PRESCOTT DYNAMIC_ARCH=1 DYNAMIC_LIST="PRESCOTT HASWELL SKYLAKEX"
  USE_THREAD=1 USE_OPENMP=0 NUM_THREADS=64 NO_AFFINITY=1 NO_LAPACKE=1 NO_SHARED=1 BUILD_SINGLE=1
  F_COMPILER=GFORTRAN NO_AVX2= OLDGCC=)
echo "build-openblas-windows: building $src (log: build/openblas-win64.log; the longest step of the release build)"
(cd "$src" && nice make -j"$jobs" libs "${opts[@]}" && make install PREFIX="$prefix" "${opts[@]}" \
  && x86_64-w64-mingw32-gfortran-posix -O2 -c "$lapack/SRC/spotri.f" -o "$work/spotri.o" \
  && x86_64-w64-mingw32-ar rs "$prefix/lib/libopenblas.a" "$work/spotri.o") >"$root/build/openblas-win64.log" 2>&1 \
  || { tail -30 "$root/build/openblas-win64.log"; echo "build-openblas-windows: the build failed" >&2; exit 1; }
echo "build-openblas-windows: $prefix/lib/libopenblas.a"
