// One list of native sources (native/sources.txt) for both builds: CMakeLists.txt (cmake-js) reads it with
// file(STRINGS), binding.gyp (node-gyp) through scripts/native-build.js. A source added to native/ but not to the
// list, a listed file that is gone, or a build file that lists sources of its own fails here; the node-gyp build
// itself is checked by scripts/gyp-check.sh (what it compiled, with which options, and the suites against it).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const listed = read('native/sources.txt').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
// Compiled only by a CMake build that finds nvcc; binding.gyp builds the CPU addon with cuda_absent.cc instead.
const DEVICE = ['native/cuda/cuda_backend.cu', 'native/cuda/cuda_kernels.cu', 'native/cuda/token_kernels.cu', 'native/cuda/cuda_libraries.cc',
  'native/cuda/cuda_absent.cc', 'native/dist/nccl_world.cc'];
// The WebAssembly build's own BLAS, which only cmake/wasm.cmake compiles (in place of OpenBLAS).
const WASM_BLAS = 'native/wasm/blas/';

function sourcesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) found.push(...sourcesUnder(rel));
    else if (/\.(cc|cu|cpp)$/.test(e.name)) found.push(rel);
  }
  return found;
}

test('every native source is in the list or is a device source, and every listed file exists', () => {
  const all = sourcesUnder('native').sort();
  expect(all.filter((f) => !listed.includes(f) && !DEVICE.includes(f) && !f.startsWith(WASM_BLAS))).toEqual([]);
  expect(listed.filter((f) => !fs.existsSync(path.join(root, f)))).toEqual([]);
  expect(new Set(listed).size).toBe(listed.length);
  expect(listed.filter((f) => DEVICE.includes(f) || f.startsWith(WASM_BLAS))).toEqual([]);
});

test('CMakeLists.txt reads the list and names no listed source itself', () => {
  const cmake = read('CMakeLists.txt');
  expect(cmake).toMatch(/file\(STRINGS native\/sources\.txt KBFGS_SOURCES/);
  expect(cmake).toMatch(/add_library\(kbfgs_native SHARED \$\{KBFGS_SOURCES\} \$\{KBFGS_DEVICE_SOURCES\}/);
  expect(listed.filter((f) => cmake.includes(f))).toEqual([]);
});

test('binding.gyp compiles the list (through scripts/native-build.js) and cuda_absent.cc, nothing else', () => {
  const gyp = read('binding.gyp');
  const target = JSON.parse(gyp.replace(/^\s*#.*$/gm, '')).targets[0];
  expect(target.sources).toEqual(['<!@(node scripts/native-build.js sources)', 'native/cuda/cuda_absent.cc']);
  const printed = execFileSync(process.execPath, ['scripts/native-build.js', 'sources'], { cwd: root, encoding: 'utf8' });
  expect(printed.trim().split(/\s+/)).toEqual(listed);
});
