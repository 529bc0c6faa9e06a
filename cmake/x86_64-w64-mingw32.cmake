# Cross build of the win32-x64 prebuilt binary on an x86-64 Debian machine (scripts/build-release.sh): Debian's
# MinGW-w64 compilers in their POSIX-threads flavour (g++-mingw-w64-x86-64-posix, gfortran-mingw-w64-x86-64-posix;
# std::thread needs it), and an OpenBLAS for Windows built from source with the same toolchain
# (scripts/build-openblas-windows.sh), whose install prefix KBFGS_OPENBLAS_PREFIX names.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_DLLTOOL x86_64-w64-mingw32-dlltool)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
