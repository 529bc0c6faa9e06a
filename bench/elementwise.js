#!/usr/bin/env node
// The CPU backend's element-wise passes of an MNIST autoencoder step, each on its own (algorithm.md §9.1): the
// first-order updates over its 2.84 M parameters, the numerical guard's copy of the weights and two moment
// buffers, KFAC's sampled gradient and the sigmoid cross-entropy with its gradient over a 1000 x 784 batch.
// Median wall and mean processor milliseconds of 20 calls (after one untimed call), at each thread count.
//   node bench/elementwise.js [--threads 1,2] [--root DIR]
// --root DIR runs the package built in DIR (e.g. a worktree of another commit) with this script.
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1,2' }, root: { type: 'string', default: path.join(__dirname, '..') } } });
const root = path.resolve(values.root);
const { native } = require(path.join(root, 'dist/internal'));
const be = native.backend;

const N = 2_837_314;  // the autoencoder's parameters: 784-1000-500-250-30-250-500-1000-784 with biases
let seed = 1;
const random = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
const array = (n, f) => Float32Array.from({ length: n }, f);
const theta = array(N, () => random() - 0.5), grad = array(N, () => random() - 0.5);
const m = array(N, () => 0.1 * (random() - 0.5)), v = array(N, () => 0.01 * random());
const state = new Float32Array(6 * N);
const z = array(1000 * 784, () => 8 * (random() - 0.5)), t = array(1000 * 784, () => (random() < 0.5 ? 0 : 1));
const targets = new Float32Array(1000 * 784), g = new Float32Array(1000 * 784);

const PASSES = [
  ['Adam update (PyTorch)', () => be.firstOrderUpdate({ kind: 1, lr: 1e-3, beta1: 0.9, squareDecay: 0.9, eps: 1e-4, weightDecay: 1e-5, step: 5 }, theta, grad, m, v)],
  ['Adam update (paper)', () => be.firstOrderUpdate({ kind: 1, paper: true, lr: 1e-3, momentum: 0.9, squareDecay: 0.9, eps: 1e-4, weightDecay: 1e-5, step: 5 }, theta, grad, m, v)],
  ['RMSprop update (PyTorch, momentum)', () => be.firstOrderUpdate({ kind: 2, lr: 1e-3, squareDecay: 0.9, eps: 1e-4, momentum: 0.9, weightDecay: 1e-5 }, theta, grad, m, v)],
  ['SGD update (PyTorch, momentum)', () => be.firstOrderUpdate({ kind: 0, lr: 1e-3, momentum: 0.9, weightDecay: 1e-5 }, theta, grad, m, v)],
  ['guard copy (3 x 2.84 M values)', () => be.copyWithin(state, 0, 3 * N, 3 * N)],
  ['KFAC sampled gradient (1000 x 784)', () => be.sampledGradient(0, z, 1000, 784, 7, targets, g)],
  ['sigmoid cross-entropy and gradient (1000 x 784)', () => be.lossGradient(0, z, t, 1000, 784, g)],
];

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
console.log(`package in ${path.relative(process.cwd(), root) || "."}`);
console.log('| pass | threads | wall ms (median of 20) | processor ms (mean of 20) |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, fn] of PASSES) {
  for (const threads of values.threads.split(',').map(Number)) {
    native.threads(threads);
    fn();
    const walls = [];
    const c0 = cpuMs();
    for (let i = 0; i < 20; i++) {
      const w = process.hrtime.bigint();
      fn();
      walls.push(Number(process.hrtime.bigint() - w) / 1e6);
    }
    const cpu = (cpuMs() - c0) / 20;
    walls.sort((a, b) => a - b);
    console.log(`| ${name} | ${threads} | ${walls[10].toFixed(1)} | ${cpu.toFixed(1)} |`);
  }
}
