#!/usr/bin/env node
// The CUDA parity suite without jest, for GPU machines: prints the device report and one line per check,
// exits 1 if any check fails.
//   node test/parity/run.js            (loads ../../dist; KBFGS_ADDON may name the addon)
//   node test/parity/run.js --cpu      (the harness itself: CPU against CPU, every error 0)
//   node test/parity/run.js --ops      (the Backend operations only: short enough for compute-sanitizer)
//   node test/parity/run.js --steps    (the whole steps in fp32 only: e.g. again with KBFGS_CUDA_GRAPHS=0, so that a
//                                       step that fails only when recorded is told from one that fails anyway)
//   node test/parity/run.js --gpt      (a tiny GPT's AdamW, KFAC and K-BFGS steps only; with --cpu, CPU against CPU)
'use strict';
const path = require('path');
const lib = require(path.join(__dirname, '..', '..', 'dist'));
const { native } = require(path.join(__dirname, '..', '..', 'dist', 'internal'));
const { opParity, tf32Parity, stepParity, gptStepParity, formatTable } = require('./cuda-parity');

// Prints the table and the count; exits 1 if any check failed.
function report(results, what) {
  console.log(formatTable(results));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} of ${results.length} ${what} passed`);
  process.exit(failed ? 1 : 0);
}

async function main() {
  const selfTest = process.argv.includes('--cpu');
  const found = lib.devices();
  console.log(JSON.stringify(found.cuda, null, 1));
  if (!selfTest && !found.cuda.available) {
    console.log(`CUDA parity not run: ${found.cuda.reason}`);
    process.exit(1);
  }
  if (process.argv.includes('--gpt')) report(await gptStepParity(lib, { device: selfTest ? 'cpu' : 'cuda' }), 'GPT step parity checks');
  if (!selfTest && process.argv.includes('--steps')) report(await stepParity(lib), 'step parity checks');
  const cpu = native.backendOps('cpu');
  const gpu = selfTest ? cpu : native.backendOps('cuda');
  const results = opParity(cpu, gpu);
  if (!selfTest && !process.argv.includes('--ops')) {
    results.push(tf32Parity(cpu, native.backendOps('cuda', true)));
    results.push(...await stepParity(lib));
    results.push(...await stepParity(lib, { tf32: true }));
  }
  report(results, 'parity checks');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
