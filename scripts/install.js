#!/usr/bin/env node
// npm runs this when the package is installed. A prebuilt binary that matches this machine
// (prebuilds/<platform>-<arch>/, chosen by node-gyp-build) and loads is used as it is. Otherwise nothing is
// built: the package runs on its WebAssembly engine (wasm/, the same engine, which needs no compiler), and one
// message says so and how to build the native addon instead. A package without that engine (a git checkout)
// builds the addon from source, and fails here only where that build cannot be made.
//
// KBFGS_BUILD_FROM_SOURCE=1 (or `npm install --build-from-source`, `npm rebuild kbfgs-native --build-from-source`)
// builds the addon from source with cmake-js, a dependency of the package, after checking that a C++ compiler
// and CMake are on the PATH (OpenBLAS is found by CMakeLists.txt); where something is missing or the build
// fails, one message names it and says how to get it, and the package runs on WebAssembly.
// KBFGS_CUDA=0 leaves the CUDA backend out of a source build on a machine that has nvcc.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const PREBUILT = 'linux-x64 and linux-arm64 with glibc';
const MIN_CMAKE = [3, 18];

const wasmEngine = ['kbfgs_native.js', 'kbfgs_native.wasm'].every((f) => fs.existsSync(path.join(root, 'wasm', f)));
const fail = (lines) => {
  const fallback = wasmEngine
    ? ['the package will run on its WebAssembly engine instead (the same engine, slower, CPU only); the native',
      'engine is used once it is built as above.']
    : [];
  process.stderr.write(['', ...[...lines, ...fallback].map((l) => `kbfgs-native: ${l}`), ''].join('\n') + '\n');
  process.exit(wasmEngine ? 0 : 1);
};

const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';
const forceSource = truthy(process.env.KBFGS_BUILD_FROM_SOURCE) || truthy(process.env.npm_config_build_from_source);

/** null where a prebuilt binary loads, otherwise why none does. */
function prebuiltProblem() {
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    return `no prebuilt binary for ${process.platform}-${process.arch}`;  // none for this platform, architecture and libc
  }
  try {
    require(file);
    return null;
  } catch (e) {
    // e.g. a glibc older than the one the binary was linked against
    return `the binary ${path.relative(root, file)} does not load here (${e.message.split('\n')[0]})`;
  }
}

/** The first of the names found as an executable on the PATH, or null. */
function onPath(names) {
  for (const dir of (process.env.PATH || '').split(path.delimiter).filter(Boolean)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch { /* not here */ }
    }
  }
  return null;
}

function cmakeVersion(cmake) {
  const out = spawnSync(cmake, ['--version'], { encoding: 'utf8' });
  const m = /cmake version (\d+)\.(\d+)/.exec(out.stdout || '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function missingTools() {
  const missing = [];
  const compiler = process.env.CXX ? onPath([process.env.CXX]) || (fs.existsSync(process.env.CXX) ? process.env.CXX : null)
    : onPath(['c++', 'g++', 'clang++']);
  if (!compiler) missing.push(process.env.CXX ? `the C++ compiler CXX=${process.env.CXX}` : 'a C++17 compiler (g++ or clang++)');
  const cmake = onPath(['cmake']);
  const version = cmake && cmakeVersion(cmake);
  if (!cmake) missing.push(`CMake ${MIN_CMAKE.join('.')} or newer`);
  else if (!version || version[0] < MIN_CMAKE[0] || (version[0] === MIN_CMAKE[0] && version[1] < MIN_CMAKE[1]))
    missing.push(`CMake ${MIN_CMAKE.join('.')} or newer (found ${version ? version.join('.') : 'an unreadable version'} at ${cmake})`);
  return missing;
}

const HOW_TO_GET = [
  'install the build tools and OpenBLAS, then run `npm rebuild kbfgs-native --build-from-source`:',
  '  Debian, Ubuntu: sudo apt-get install g++ cmake libopenblas-dev',
  '  Fedora:         sudo dnf install gcc-c++ cmake openblas-devel',
  '  macOS:          xcode-select --install && brew install cmake openblas (untested)',
];

function buildFromSource(reason) {
  const where = `${process.platform}-${process.arch}`;
  const missing = missingTools();
  if (missing.length > 0) {
    fail([
      `${reason}, and it cannot be built from source on ${where}: missing ${missing.join('; ')}.`,
      ...HOW_TO_GET,
      `Prebuilt binaries exist for ${PREBUILT}.`,
    ]);
  }
  process.stderr.write(`kbfgs-native: ${reason}; building it from source (about a minute)\n`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const args = [cmakeJs, 'compile', '--out', path.join('build', 'cmake')];
  if (process.env.KBFGS_CUDA !== undefined && !truthy(process.env.KBFGS_CUDA)) args.push('--CDKBFGS_CUDA=OFF');
  const log = path.join(root, 'build', 'source-build.log');
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const output = `${run.stdout || ''}${run.stderr || ''}`;
  fs.writeFileSync(log, output);
  if (run.status !== 0) {
    // CMakeLists.txt's own errors (OpenBLAS, the Fortran runtime) are the useful lines.
    const errors = output.split('\n').filter((l) => /CMake Error|not found|error:/i.test(l)).slice(0, 8);
    fail([
      `the source build failed${run.error ? ` (${run.error.message})` : ''}; its full output: ${log}`,
      ...errors.map((l) => `  ${l.trim()}`),
      ...HOW_TO_GET,
    ]);
  }
  const built = path.join(root, 'build', 'Release', 'kbfgs_native.node');
  try {
    require(built);
  } catch (e) {
    fail([`the source build produced ${built}, but it does not load: ${e.message.split('\n')[0]}`]);
  }
  process.stderr.write('kbfgs-native: built from source\n');
}

/** No prebuilt binary loads and no source build was asked for: the WebAssembly engine runs, nothing is built. */
function useWasm(problem) {
  // A git checkout, or a package packed without wasm/: the native build is the only engine it can have.
  if (!wasmEngine) return buildFromSource(`${problem}, and this package lacks its WebAssembly engine (wasm/)`);
  process.stderr.write([
    `kbfgs-native: ${problem}; the package runs on its WebAssembly engine (the same engine, slower, CPU only),`,
    'kbfgs-native: nothing was built. For the native engine: `npm rebuild kbfgs-native --build-from-source`',
    `kbfgs-native: (a C++17 compiler, CMake and OpenBLAS). Prebuilt binaries exist for ${PREBUILT}.`,
  ].join('\n') + '\n');
}

if (forceSource) buildFromSource('a source build was asked for');
else {
  const problem = prebuiltProblem();
  if (problem) useWasm(problem);
}
