#!/usr/bin/env node
// The golden suites under every OpenBLAS kernel family this machine can execute, and for each case the
// engine's weight error against the float64 reference as a multiple of the case's sensitivity to float32
// rounding (its "spread", test/reference/golden-harness.ts; docs/blas-kernels.md §2). The largest ratio is
// what the golden tolerance RATIO_TOL must cover.
//   node bench/golden-sensitivity.js
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const lib = require('../dist');

const root = path.join(__dirname, '..');
const blas = lib.devices().cpu.blas;
const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'golden-')), 'golden.jsonl');
const rows = [];
for (const family of blas.executable) {
  fs.writeFileSync(log, '');
  const r = spawnSync('npx', ['jest', '--runInBand', '--silent', 'test/golden.test.ts', 'test/golden-conv.test.ts'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, OPENBLAS_CORETYPE: family, KBFGS_GOLDEN_LOG: log } });
  const summary = (r.stderr.match(/Tests:.*$/m) ?? ['Tests: ?'])[0];
  console.error(`${family}: ${summary}`);
  for (const line of fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean)) rows.push({ family, ...JSON.parse(line) });
}
console.log(`${blas.config}; CPU ${blas.cpu.vendor} family ${blas.cpu.family} model ${blas.cpu.model}`);
console.log('| case | spread | weight error (min-max over families) | error / spread (max) | worst family |');
console.log('| --- | ---: | ---: | ---: | --- |');
const cases = [...new Set(rows.map((r) => r.test))];
let worst = 0;
for (const name of cases) {
  const mine = rows.filter((r) => r.test === name);
  // one test may compare several runs: each run is identified by its place among the test's lines
  const byFamily = mine.reduce((m, r) => m.set(r.family, [...(m.get(r.family) ?? []), r]), new Map());
  const runs = Math.max(...[...byFamily.values()].map((v) => v.length));
  for (let k = 0; k < runs; k++) {
    const set = [...byFamily.values()].map((v) => v[k]).filter(Boolean);
    const ratios = set.map((r) => r.weight / r.spread);
    const top = set[ratios.indexOf(Math.max(...ratios))];
    worst = Math.max(worst, ...ratios);
    const errors = set.map((r) => r.weight);
    console.log(`| ${name}${runs > 1 ? ` (run ${k + 1})` : ''} | ${top.spread.toExponential(2)} | ${Math.min(...errors).toExponential(2)}-` +
      `${Math.max(...errors).toExponential(2)} | ${Math.max(...ratios).toFixed(0)} | ${top.family} |`);
  }
}
console.log(`largest error / spread: ${worst.toFixed(0)}`);
