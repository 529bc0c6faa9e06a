#!/usr/bin/env node
// The CUDA parity suite without jest, for GPU machines: prints the device report and one line per check,
// exits 1 if any check fails.
//   node test/parity/run.js            (loads ../../dist; KBFGS_ADDON may name the addon)
//   node test/parity/run.js --cpu      (the harness itself: CPU against CPU, every error 0)
//   node test/parity/run.js --ops      (the Backend operations only: short enough for compute-sanitizer)
'use strict';
const path = require('path');
const lib = require(path.join(__dirname, '..', '..', 'dist'));
const { native } = require(path.join(__dirname, '..', '..', 'dist', 'internal'));
const { opParity, tf32Parity, stepParity, formatTable } = require('./cuda-parity');

async function main() {
  const selfTest = process.argv.includes('--cpu');
  const report = lib.devices();
  console.log(JSON.stringify(report.cuda, null, 1));
  if (!selfTest && !report.cuda.available) {
    console.log(`CUDA parity not run: ${report.cuda.reason}`);
    process.exit(1);
  }
  const cpu = native.backendOps('cpu');
  const gpu = selfTest ? cpu : native.backendOps('cuda');
  const results = opParity(cpu, gpu);
  if (!selfTest && !process.argv.includes('--ops')) {
    results.push(tf32Parity(cpu, native.backendOps('cuda', true)));
    results.push(...await stepParity(lib));
    results.push(...await stepParity(lib, { tf32: true }));
  }
  console.log(formatTable(results));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} of ${results.length} parity checks passed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
