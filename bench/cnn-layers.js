#!/usr/bin/env node
// Where one training step of the benchmark CNN (lib/cli/problems.ts cnnClassifier, algorithm.md §12.5) spends
// its time, layer by layer and pass by pass, here and in PyTorch on the CPU, measured in one run at --threads:
// forward (with the activation), the activation's backward, the input gradient, the weight gradient, pooling,
// the loss and Adam's step. Here each pass is the engine's own backend op as the layer calls it (the conv
// passes of core/layers/conv_passes.h, the dense layer's products, pooling, the fused Adam update over the flat
// parameters); PyTorch's are its aten ops (bench/cnn_layers_torch.py). Each figure is the fastest of --repeats
// calls after one untimed, over --rounds rounds that alternate the two (the fastest, not the median: on a
// shared machine other jobs only ever add time); the last column is the ratio. A network with a wider first
// dense layer: --units. --clock cpu times each call in the process's processor seconds (all its threads)
// on both sides instead of wall-clock seconds.
//   node bench/cnn-layers.js [--batch 128] [--threads 2] [--repeats 10] [--rounds 3] [--units 128] [--clock wall|cpu]
const { execFileSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');
const { addon } = require('../dist/binding');

const { values } = parseArgs({ options: {
  batch: { type: 'string', default: '128' }, threads: { type: 'string', default: '2' },
  repeats: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, units: { type: 'string', default: '128' },
  clock: { type: 'string', default: 'wall' },
} });
const now = values.clock === 'cpu' ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }
  : () => Number(process.hrtime.bigint()) / 1e9;
const B = Number(values.batch), threads = Number(values.threads), repeats = Number(values.repeats), units = Number(values.units);
const RELU = 1, SOFTMAX_CROSS_ENTROPY = 2, ADAM = 1;

function fastestSeconds(fn) {
  fn();
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const start = now();
    fn();
    best = Math.min(best, now() - start);
  }
  return best;
}
const random = (n) => Float32Array.from({ length: n }, () => Math.random() - 0.5);

function ours() {
  addon.threads(threads);
  const be = addon.backendOps('cpu'), out = {};
  const conv = (name, shape, d, first) => {
    const T = shape.height * shape.width, n = shape.kernelH * shape.kernelW * shape.channels + 1, rows = B * T;
    const x = random(B * shape.channels * T), w = random(d * n), patches = new Float32Array(rows * n);
    const h = new Float32Array(rows * d), a = new Float32Array(rows * d), g = random(rows * d);
    const dw = new Float32Array(d * n), dx = new Float32Array(x.length);
    // Adam reads no statistics: a conv layer above the first keeps no patches (core/layers/conv2d.cc)
    const kept = first ? patches : null;
    out[name] = {
      forward: fastestSeconds(() => { be.convForward(shape, x, B, w, d, kept, h); be.activationForward(RELU, h, rows, d, a); }),
      'activation backward': fastestSeconds(() => be.activationBackward(RELU, h, rows, d, g)),
      'backward data': first ? null : fastestSeconds(() => be.convBackwardData(shape, g, B, w, d, dx)),
      'backward weights': fastestSeconds(() => (first ? be.convBackwardWeights(shape, g, patches, B, d, 1 / B, dw, x)
        : be.convBackwardWeightsFromImages(shape, g, x, B, d, 1 / B, dw))),
    };
  };
  const pool = (name, channels, size) => {
    const shape = { kind: 1, channels, height: size, width: size, sizeH: 2, sizeW: 2, strideH: 2, strideW: 2 };
    const x = random(B * channels * size * size), ld = channels * (size / 2) ** 2, y = new Float32Array(B * ld);
    const dy = random(B * ld), dx = new Float32Array(x.length);
    out[name] = {
      forward: fastestSeconds(() => be.poolForward(shape, x, B, y, ld)),
      'backward data': fastestSeconds(() => be.poolBackward(shape, x, dy, ld, B, dx)),
    };
  };
  const dense = (name, inputs, d, relu) => {
    const n = inputs + 1, abar = random(B * n), w = random(d * n), h = new Float32Array(B * d), g = random(B * d);
    const dw = new Float32Array(d * n), dx = new Float32Array(B * inputs);
    out[name] = {
      forward: fastestSeconds(() => {
        be.gemm(false, true, B, d, n, 1, abar, n, w, n, 0, h, d);
        if (relu) be.activationForward(RELU, h, B, d, h);
      }),
      'activation backward': relu ? fastestSeconds(() => be.activationBackward(RELU, h, B, d, g)) : null,
      'backward data': fastestSeconds(() => be.gemm(false, false, B, n - 1, d, 1, g, d, w, n, 0, dx, inputs)),
      'backward weights': fastestSeconds(() => be.gemm(true, false, d, n, B, 1 / B, g, d, abar, n, 0, dw, n)),
    };
  };
  const convShape = (channels, size, first) =>
    ({ channels, height: size, width: size, channelsFirst: first, kernelH: 5, kernelW: 5, stride: 1, padding: 2, bias: true });
  conv('conv1', convShape(1, 28, true), 32, true);
  pool('pool1', 32, 28);
  conv('conv2', convShape(32, 14, false), 64, false);
  pool('pool2', 64, 14);
  dense('dense1', 3136, units, true);
  dense('dense2', units, 10, false);
  const z = random(B * 10), t = new Float32Array(B * 10), zg = new Float32Array(B * 10);
  for (let i = 0; i < B; i++) t[i * 10 + (i % 10)] = 1;
  out.loss = { forward: fastestSeconds(() => be.loss(SOFTMAX_CROSS_ENTROPY, z, t, B, 10, zg)) };
  const count = 32 * 26 + 64 * 801 + units * 3137 + 10 * (units + 1);
  const theta = random(count), grad = random(count), m = new Float32Array(count), v = new Float32Array(count);
  const settings = { kind: ADAM, lr: 1e-3, beta1: 0.9, squareDecay: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
  out['Adam step'] = { update: fastestSeconds(() => be.firstOrderUpdate(settings, theta, grad, m, v)) };
  return out;
}

function torch() {
  const json = execFileSync('python3', [path.join(__dirname, 'cnn_layers_torch.py'), String(B), String(threads), String(repeats), String(units), values.clock],
    { encoding: 'utf8' });
  return JSON.parse(json.trim().split('\n').pop());
}

// The faster of two {layer: {pass: seconds}} tables, pass by pass.
function faster(a, b) {
  if (!a) return b;
  const out = {};
  for (const [layer, passes] of Object.entries(a)) {
    out[layer] = {};
    for (const [pass, s] of Object.entries(passes)) out[layer][pass] = s == null ? s : Math.min(s, b[layer][pass]);
  }
  return out;
}
let here = null, there = null;
for (let r = 0; r < Number(values.rounds); r++) {
  here = faster(here, ours());
  there = faster(there, torch());
}
const ms = (s) => (s == null ? '-' : (s * 1e3).toFixed(2));
console.log(`Batch ${B}, ${threads} threads, first dense layer ${units} units; ${values.clock} milliseconds per call, fastest of ${repeats} calls in each of ${values.rounds} rounds`);
console.log(`convolutions: ${addon.blasKernels().convolutions ?? 'patches and SGEMM (a build before oneDNN)'}`);
console.log('| layer | pass | kbfgs-native | PyTorch | ratio |');
console.log('| --- | --- | --- | --- | --- |');
const totals = [0, 0];
for (const [layer, passes] of Object.entries(here))
  for (const [pass, s] of Object.entries(passes)) {
    const t = there[layer][pass];
    if (s == null && t == null) continue;
    totals[0] += s ?? 0;
    totals[1] += t ?? 0;
    console.log(`| ${layer} | ${pass} | ${ms(s)} | ${ms(t)} | ${s != null && t != null ? (s / t).toFixed(2) : '-'} |`);
  }
console.log(`| all | one step | ${ms(totals[0])} | ${ms(totals[1])} | ${(totals[0] / totals[1]).toFixed(2)} |`);
