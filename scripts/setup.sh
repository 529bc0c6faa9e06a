#!/usr/bin/env bash
# One-time set-up on a fresh Debian (12 or 13) or Ubuntu LTS machine: system packages for the native build,
# the WebAssembly build (Emscripten) and the distributed tests (Open MPI),
# the arm64 and Windows cross toolchains and emulators for the release build and its test, npm packages, the build.
# Safe to run again; it skips what is already there. No package is named by a compiler version: the Fortran
# runtime that a static OpenBLAS needs is the one of the installed g++.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
updated=""
apt_install() {  # packages not yet installed
  local need=() pkg native
  native="$(dpkg --print-architecture)"
  # name:arch, because a package installed for two architectures is ambiguous to dpkg without it
  for pkg in "$@"; do
    case "$pkg" in *:*) ;; *) pkg="$pkg:$native" ;; esac
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "installing system packages: ${need[*]}"
  [ -z "$updated" ] && { $SUDO apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
}

apt_install g++ cmake ninja-build libopenblas-dev
# Emscripten for the WebAssembly engine (`npm run build:wasm`, cmake/wasm.cmake).
apt_install emscripten
# Fashion-MNIST for the tests that train on it (/usr/share/datasets/fashion-mnist).
apt_install dataset-fashion-mnist
# Debian's fortune files, the default text of datasets.text (/usr/share/games/fortunes; read there, not shipped).
apt_install fortunes
# Chromium for the browser test (test/browser.test.ts drives it headless through playwright-core).
apt_install chromium
# Open MPI (mpirun and libmpi.so.40, which the addon loads at run time) for the distributed tests.
apt_install openmpi-bin
# oneDNN 2 (libdnnl.so.2, which the addon opens at run time for its convolutions where present) so the tests
# run its path too; the package works without it (algorithm.md §12.7).
apt_install libdnnl2
gcc_major="$(g++ -dumpversion | cut -d. -f1)"
case "$(g++ -print-file-name=libgfortran.a)" in
  /*) ;;
  *) apt_install "libgfortran-${gcc_major}-dev" ;;
esac

# linux-arm64: cross compiler, OpenBLAS and the C++ runtime for arm64 (multiarch), qemu-user to run the result.
# Debian serves every architecture from one archive; Ubuntu serves arm64 from another (ports), which this
# script does not configure.
. /etc/os-release
if [ "${ID:-}" = debian ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
    updated=""
  fi
  apt_install crossbuild-essential-arm64 gfortran-aarch64-linux-gnu libopenblas-dev:arm64 libstdc++6:arm64 qemu-user
  # win32-x64: the MinGW-w64 compilers (POSIX threads: std::thread needs them) for the addon and for OpenBLAS,
  # which scripts/build-openblas-windows.sh builds from Debian's source packages (hence the deb-src entry), and
  # Wine to run the Windows Node.js in the install test (docs/windows.md).
  apt_install g++-mingw-w64-x86-64-posix gfortran-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64 dpkg-dev
  if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$VERSION_CODENAME" | $SUDO tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
    $SUDO apt-get update -qq
  fi
else
  echo "set-up: the arm64 cross toolchain is set up on Debian only; \`npm run build:release\` and the install test need it"
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
npm run build:wasm
