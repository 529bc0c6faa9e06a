# The WebAssembly engine: the same engine and Node-API binding sources as the native addon, compiled with
# Emscripten (`npm run build:wasm` runs `emcmake cmake` on CMakeLists.txt, which includes this file) to wasm32
# with SIMD128 and pthreads. emnapi (an npm dev dependency) supplies Node-API for Emscripten: its C part is
# compiled in here, its JS part is linked as an Emscripten JS library, and @emnapi/runtime hands the module
# its JS side at load time (lib/wasm-engine.ts). OpenBLAS is replaced by native/wasm/blas, which implements
# the CBLAS/LAPACK calls cpu_backend.cc makes. The output goes to wasm/ (shipped in the package).
#
# KBFGS_WASM_THREADS=OFF builds the one-thread variant wasm/kbfgs_native_st.{js,wasm} for browser pages that
# are not cross-origin isolated (no shared memory across workers there): no pthreads, and emnapi's async work
# and thread-safe functions from its JS library, which run on the JS thread.
enable_language(C)
option(KBFGS_WASM_THREADS "pthreads build (off: the one-thread browser variant)" ON)

execute_process(COMMAND node -p "require('emnapi').include"
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE EMNAPI_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND node -p "require('emnapi').js_library"
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE EMNAPI_JS_LIBRARY OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND node -p "require('emnapi').sources.join(';')"
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE EMNAPI_SOURCES OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT EMNAPI_SOURCES OR NOT EXISTS "${EMNAPI_JS_LIBRARY}")
  message(FATAL_ERROR "emnapi not found: run `npm install` first (it is a dev dependency of this package)")
endif()
get_filename_component(EMNAPI_SRC_DIR "${EMNAPI_INCLUDE}/../../src" ABSOLUTE)

if(NOT KBFGS_WASM_THREADS)
  list(FILTER EMNAPI_SOURCES EXCLUDE REGEX "(async_work|threadsafe_function|/uv/)")
endif()
add_library(kbfgs_emnapi STATIC ${EMNAPI_SOURCES})
target_include_directories(kbfgs_emnapi PRIVATE ${EMNAPI_INCLUDE} ${EMNAPI_SRC_DIR})
target_compile_definitions(kbfgs_emnapi PRIVATE NAPI_VERSION=8 BUILDING_NODE_EXTENSION)
if(KBFGS_WASM_THREADS)
  set(KBFGS_WASM_FLAGS -pthread -fexceptions)
  set(KBFGS_WASM_LINK_THREADS "SHELL:-s DEFAULT_PTHREAD_STACK_SIZE=2MB" "SHELL:-s PTHREAD_POOL_SIZE=20")
  set(KBFGS_WASM_NAME kbfgs_native)
else()
  set(KBFGS_WASM_FLAGS -fexceptions)
  set(KBFGS_WASM_LINK_THREADS)
  set(KBFGS_WASM_NAME kbfgs_native_st)
endif()
target_compile_options(kbfgs_emnapi PRIVATE ${KBFGS_WASM_FLAGS} -O3)

set(KBFGS_WASM_BLAS_SOURCES
  native/wasm/blas/cholesky.cc
  native/wasm/blas/eigen.cc
  native/wasm/blas/gemm.cc
  native/wasm/blas/level2.cc
  native/wasm/blas/syrk.cc
  native/wasm/blas/threads.cc
  native/wasm/blas/trsm.cc)

add_executable(kbfgs_native ${KBFGS_SOURCES} native/cuda/cuda_absent.cc
  ${KBFGS_WASM_BLAS_SOURCES})
set(KBFGS_WASM_OUTPUT_DIR "${CMAKE_SOURCE_DIR}/wasm" CACHE PATH "where kbfgs_native.js and .wasm go")
set_target_properties(kbfgs_native PROPERTIES SUFFIX ".js" OUTPUT_NAME ${KBFGS_WASM_NAME}
  RUNTIME_OUTPUT_DIRECTORY ${KBFGS_WASM_OUTPUT_DIR})
target_include_directories(kbfgs_native PRIVATE ${NODE_ADDON_API_DIR} ${EMNAPI_INCLUDE}
  ${CMAKE_SOURCE_DIR}/native/wasm/blas)
target_compile_definitions(kbfgs_native PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED
  NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS BUILDING_NODE_EXTENSION)
if(NOT KBFGS_WASM_THREADS)
  # node-addon-api's AsyncWorker and AsyncProgressQueueWorker, over emnapi's JS async work and thread-safe
  # functions (which run on the JS thread)
  target_compile_definitions(kbfgs_native PRIVATE NAPI_HAS_THREADS=1)
endif()
target_compile_options(kbfgs_native PRIVATE ${KBFGS_WASM_FLAGS} -msimd128 -Wall -Wextra -Wno-unused-parameter
  -ffp-contract=off)
# 4 GiB is all wasm32 can address; the engine checks its sizes against what is left (cpu_backend.cc).
# The pool of Web Workers is made at load: emnapi's 4 async-work threads and up to 16 of the BLAS pool's
# (native/wasm/blas/threads.h), so no thread ever waits for a worker to be started. A library leaves the
# process's uncaught-exception and unhandled-rejection handling alone.
target_link_options(kbfgs_native PRIVATE ${KBFGS_WASM_FLAGS} -O3
  "SHELL:-s MODULARIZE=1" "SHELL:-s EXPORT_NAME=kbfgsNativeWasm"
  "SHELL:-s WASM_BIGINT=1" "SHELL:-s ALLOW_MEMORY_GROWTH=1" "SHELL:-s MAXIMUM_MEMORY=4GB"
  "SHELL:-s INITIAL_MEMORY=64MB" "SHELL:-s TOTAL_STACK=2MB" ${KBFGS_WASM_LINK_THREADS} "SHELL:-s ENVIRONMENT=node,worker"
  "SHELL:-s NODEJS_CATCH_EXIT=0" "SHELL:-s NODEJS_CATCH_REJECTION=0"
  "SHELL:-s EXPORTED_RUNTIME_METHODS=['emnapiInit','removeRunDependency']"
  "SHELL:-s EXPORTED_FUNCTIONS=['_malloc','_free','_napi_register_wasm_v1','_node_api_module_get_api_version_v1']"
  "SHELL:--js-library ${CMAKE_SOURCE_DIR}/native/wasm/emnapi_before.js"
  "SHELL:--js-library ${EMNAPI_JS_LIBRARY}"
  "SHELL:--js-library ${CMAKE_SOURCE_DIR}/native/wasm/emnapi_after.js")
target_link_libraries(kbfgs_native PRIVATE kbfgs_emnapi)
set_target_properties(kbfgs_native PROPERTIES LINK_DEPENDS
  "${CMAKE_SOURCE_DIR}/native/wasm/emnapi_before.js;${EMNAPI_JS_LIBRARY};${CMAKE_SOURCE_DIR}/native/wasm/emnapi_after.js")
