#!/usr/bin/env node
// The release guard (`prepack`): a tarball is made only when it holds every prebuilt binary the README
// promises, each built for its architecture, needing no system BLAS (the Windows one: no DLL that Windows
// itself lacks), and not older than the native sources, and the WebAssembly engine (wasm/), not older than
// them either.
// `npm run build:release` makes them. An argument names another package folder to check (tests).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..'));
// Each target's file name (node-gyp-build's tags: Linux binaries say which libc they need), format and machine.
const TARGETS = {
  'linux-x64': { file: 'kbfgs-native.napi.glibc.node', read: readElf, machine: 62 /* EM_X86_64 */ },
  'linux-arm64': { file: 'kbfgs-native.napi.glibc.node', read: readElf, machine: 183 /* EM_AARCH64 */ },
  'win32-x64': { file: 'kbfgs-native.napi.node', read: readPe, machine: 0x8664 /* IMAGE_FILE_MACHINE_AMD64 */ },
};
// The DLLs every Windows 10 and 11 has, and the process that loads an addon (Node-API's functions come from
// node.exe): a Windows binary may import these and nothing else.
const WINDOWS_DLLS = new Set(['kernel32.dll', 'msvcrt.dll', 'ntdll.dll', 'advapi32.dll', 'user32.dll', 'ws2_32.dll',
  'bcrypt.dll', 'shell32.dll', 'ole32.dll', 'node.exe']);
const SOURCES = ['native', 'cmake', 'CMakeLists.txt'];

/** The shared libraries an ELF64 little-endian file names as DT_NEEDED, and its machine. */
function readElf(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const machine = b.readUInt16LE(18);
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const section = (i) => {
    const o = shoff + i * shentsize;
    return { type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 24)), size: Number(b.readBigUInt64LE(o + 32)), link: b.readUInt32LE(o + 40) };
  };
  const needed = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== 6 /* SHT_DYNAMIC */) continue;
    const strtab = section(s.link);
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const tag = b.readBigInt64LE(o);
      if (tag === 0n) break;
      if (tag !== 1n /* DT_NEEDED */) continue;
      const start = strtab.offset + Number(b.readBigUInt64LE(o + 8));
      needed.push(b.toString('latin1', start, b.indexOf(0, start)));
    }
  }
  return { machine, needed };
}

/** The DLLs a PE32+ (64-bit Windows) file imports, and its machine. */
function readPe(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 2) !== 'MZ') throw new Error('not a Windows (PE) file');
  const pe = b.readUInt32LE(0x3c);
  if (b.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error('not a Windows (PE) file');
  const machine = b.readUInt16LE(pe + 4);
  const sectionCount = b.readUInt16LE(pe + 6);
  const optional = pe + 24;
  if (b.readUInt16LE(optional) !== 0x20b) throw new Error('not a PE32+ (64-bit) file');
  const sections = [];
  for (let i = 0, o = optional + b.readUInt16LE(pe + 20); i < sectionCount; i++, o += 40) {
    sections.push({ address: b.readUInt32LE(o + 12), size: Math.max(b.readUInt32LE(o + 8), b.readUInt32LE(o + 16)), raw: b.readUInt32LE(o + 20) });
  }
  const offsetOf = (rva) => {
    const s = sections.find((x) => rva >= x.address && rva < x.address + x.size);
    if (!s) throw new Error(`address ${rva} lies in no section`);
    return rva - s.address + s.raw;
  };
  const needed = [];
  const importTable = b.readUInt32LE(optional + 112 + 8);  // data directory 1: the import descriptors
  if (importTable !== 0) {
    for (let o = offsetOf(importTable); b.readUInt32LE(o + 12) !== 0; o += 20) {
      const start = offsetOf(b.readUInt32LE(o + 12));
      needed.push(b.toString('latin1', start, b.indexOf(0, start)));
    }
  }
  return { machine, needed };
}

function newestSource() {
  let newest = { time: 0, file: '' };
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else if (st.mtimeMs > newest.time) newest = { time: st.mtimeMs, file: path.relative(root, p) };
  };
  for (const s of SOURCES) if (fs.existsSync(path.join(root, s))) visit(path.join(root, s));
  return newest;
}

const problems = [];
const sources = newestSource();
for (const [target, { file: name, read, machine }] of Object.entries(TARGETS)) {
  const rel = path.join('prebuilds', target, name);
  const file = path.join(root, rel);
  if (!fs.existsSync(file)) { problems.push(`${rel} is missing`); continue; }
  let binary;
  try { binary = read(file); } catch (e) { problems.push(`${rel}: ${e.message}`); continue; }
  if (binary.machine !== machine) problems.push(`${rel} is built for machine ${binary.machine}, not ${target} (${machine})`);
  const blas = binary.needed.filter((n) => /blas|lapack|gfortran/i.test(n));
  if (blas.length > 0) problems.push(`${rel} needs ${blas.join(', ')} at run time (OpenBLAS must be linked in)`);
  if (read === readPe) {
    const foreign = binary.needed.filter((n) => !WINDOWS_DLLS.has(n.toLowerCase()) && !blas.includes(n));
    if (foreign.length > 0) problems.push(`${rel} needs ${foreign.join(', ')}, which Windows does not have (link the runtimes statically)`);
  }
  if (fs.statSync(file).mtimeMs < sources.time) problems.push(`${rel} is older than ${sources.file}`);
  const extra = fs.readdirSync(path.dirname(file)).filter((f) => f !== name);
  if (extra.length > 0) problems.push(`prebuilds/${target} holds other files too: ${extra.join(', ')}`);
}
for (const name of ['kbfgs_native.js', 'kbfgs_native.wasm', 'kbfgs_native.worker.js', 'kbfgs_native_st.js', 'kbfgs_native_st.wasm']) {
  const rel = path.join('wasm', name);
  const file = path.join(root, rel);
  if (!fs.existsSync(file)) problems.push(`${rel} is missing (npm run build:wasm)`);
  else if (fs.statSync(file).mtimeMs < sources.time) problems.push(`${rel} is older than ${sources.file}`);
}
if (problems.length > 0) {
  process.stderr.write(`kbfgs-native release guard: the tarball would not hold the binaries it promises:\n${problems.map((p) => `  - ${p}`).join('\n')}\nRun \`npm run build:release\` first.\n`);
  process.exit(1);
}
console.log(`release guard: ${Object.entries(TARGETS).map(([t, { file }]) => `prebuilds/${t}/${file}`).join(', ')} and wasm/ present and current`);
