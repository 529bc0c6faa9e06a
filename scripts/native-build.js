#!/usr/bin/env node
// What binding.gyp needs to know that it cannot say in gyp alone, printed for its <!(...) and <!@(...) commands:
//   sources          the CPU addon's C++ sources, from native/sources.txt (the list CMakeLists.txt reads too)
//   addon-api        node-addon-api's include folder
//   openblas-include the folder holding OpenBLAS's cblas.h
//   openblas-libs    what to link for OpenBLAS: the static library with its Fortran runtime where one exists
//                    (as CMakeLists.txt does), else the shared one
// The OpenBLAS search follows CMakeLists.txt: the same folders, in the same order. CXX names the compiler.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const cxx = process.env.CXX || 'c++';

function sources() {
  return fs.readFileSync(path.join(root, 'native', 'sources.txt'), 'utf8').split('\n')
    .map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

function compilerSays(args) {
  const out = spawnSync(cxx, args, { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : '';
}

const triplet = compilerSays(['-print-multiarch']);
const INCLUDE_DIRS = [`/usr/include/${triplet}/openblas-pthread`, `/usr/include/${triplet}`, '/usr/include/openblas',
  '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include', '/usr/include'];
const LIB_DIRS = [`/usr/lib/${triplet}/openblas-pthread`, `/usr/lib/${triplet}`, '/usr/lib64', '/usr/lib',
  '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib'];

const firstWith = (dirs, name) => dirs.find((d) => fs.existsSync(path.join(d, name)));

function fail(message) {
  process.stderr.write(`kbfgs-native (binding.gyp): ${message}\n`);
  process.exit(1);
}

function openblasInclude() {
  const dir = firstWith(INCLUDE_DIRS, 'cblas.h');
  if (!dir) fail('OpenBLAS not found (cblas.h): install it, e.g. `apt-get install libopenblas-dev`');
  return dir;
}

function openblasLibs() {
  const staticDir = firstWith(LIB_DIRS, 'libopenblas.a');
  if (staticDir) {
    const runtime = (name) => {
      const file = compilerSays([`-print-file-name=${name}`]);
      return path.isAbsolute(file) && fs.existsSync(file) ? file : null;
    };
    const gfortran = runtime('libgfortran.a');
    if (!gfortran) fail(`libgfortran.a (the Fortran runtime a static OpenBLAS needs) not found for ${cxx}: install it, e.g. \`apt-get install gfortran\``);
    const quadmath = runtime('libquadmath.a');  // x86 only
    return [path.join(staticDir, 'libopenblas.a'), gfortran, ...(quadmath ? [quadmath] : [])];
  }
  const sharedDir = LIB_DIRS.find((d) => ['libopenblas.so', 'libopenblas.dylib'].some((f) => fs.existsSync(path.join(d, f))));
  if (!sharedDir) fail('OpenBLAS not found (libopenblas): install it, e.g. `apt-get install libopenblas-dev`');
  return [`-L${sharedDir}`, '-lopenblas'];
}

const what = process.argv[2];
if (what === 'sources') console.log(sources().join(' '));
else if (what === 'addon-api') console.log(path.resolve(require('node-addon-api').include_dir));  // given relative to the working folder
else if (what === 'openblas-include') console.log(openblasInclude());
else if (what === 'openblas-libs') console.log(openblasLibs().join(' '));
else fail(`unknown question ${JSON.stringify(what)} (sources, addon-api, openblas-include, openblas-libs)`);
