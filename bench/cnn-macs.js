#!/usr/bin/env node
// Multiply-adds per training step of the benchmark CNN (lib/cli/problems.ts cnnClassifier), counted from its
// layer shapes, for Adam and for K-BFGS (algorithm.md §3.3 with §12.4 for the convolutions): what
// bench/cnn-speed.js's measured K-BFGS / Adam ratio is set against when matrix products dominate (a guide, not
// a floor, since the products run at different speeds). It counts the products both methods share (the first pass) and those only K-BFGS does (the second pass, the direction
// H_g M H_a, the dense layers' A = β A + (1 − β) ĀᵀĀ/m, the matrix-vector products of the H_a update).
//   node bench/cnn-macs.js [--batch 128,256] [--curvature-every 1,10]
const { parseArgs } = require('util');
const { cnnClassifier } = require('../dist/cli/problems');

const { values } = parseArgs({ options: {
  batch: { type: 'string', default: '128' }, 'curvature-every': { type: 'string', default: '1' },
} });
const list = (s) => s.split(',').map(Number);

// One row per trainable layer: d outputs, n inputs with the bias column, T locations (1 for dense).
function trainableLayers(model) {
  let [, height, width] = model.inputShape;
  const out = [];
  let shape = 0;
  for (const layer of model.layers) {
    const type = layer.type ?? 'dense';
    if (type === 'conv2d') {
      const [kh, kw] = layer.kernel;
      height = Math.floor((height + 2 * layer.padding - kh) / layer.stride) + 1;
      width = Math.floor((width + 2 * layer.padding - kw) / layer.stride) + 1;
      out.push({ conv: true, d: layer.filters, n: model.weightShapes[shape++].inputs + 1, T: height * width });
    } else if (type === 'maxPool2d' || type === 'avgPool2d') {
      height = Math.floor((height - layer.pool[0]) / layer.stride[0]) + 1;
      width = Math.floor((width - layer.pool[1]) / layer.stride[1]) + 1;
    } else if (type === 'dense') {
      out.push({ conv: false, d: layer.units, n: model.weightShapes[shape++].inputs + 1, T: 1 });
    }
  }
  return out;
}

function macs(layers, m, r) {
  let forward = 0, weightGrad = 0, inputGrad = 0, direction = 0, aUpdate = 0, vectorProducts = 0;
  layers.forEach(({ conv, d, n, T }, l) => {
    const rows = m * T;
    forward += rows * n * d;
    weightGrad += rows * n * d;
    if (l > 0) inputGrad += rows * (n - 1) * d;
    direction += d * d * n + d * n * n;  // H_g M, then (H_g M) H_a
    if (!conv) aUpdate += (n * (n + 1) / 2) * m;  // syrk
    // H_a ā and H_a y_a, A s_a (dense) or P̄ᵀ(P̄ s_a) (conv), the three rank-one terms of the BFGS update.
    vectorProducts += 2 * n * n + (conv ? 2 * rows * n : n * n) + 3 * n * n + 2 * d * d;
  });
  const adam = forward + weightGrad + inputGrad;
  const secondPass = forward + inputGrad;
  const kbfgs = adam + direction + (secondPass + aUpdate + vectorProducts) / r;
  return { forward, weightGrad, inputGrad, secondPass, direction, aUpdate, vectorProducts, adam, kbfgs };
}

const model = cnnClassifier(1);
const layers = trainableLayers(model);
model.dispose();
const M = (x) => (x / 1e6).toFixed(1);
console.log('| batch | curvatureEvery | first pass (both) | second pass | direction | A update | matrix-vector | Adam | K-BFGS | K-BFGS / Adam |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const m of list(values.batch))
  for (const r of list(values['curvature-every'])) {
    const c = macs(layers, m, r);
    console.log(`| ${m} | ${r} | ${M(c.adam)} M | ${M(c.secondPass / r)} M | ${M(c.direction)} M | ${M(c.aUpdate / r)} M | ` +
      `${M(c.vectorProducts / r)} M | ${M(c.adam)} M | ${M(c.kbfgs)} M | ${(c.kbfgs / c.adam).toFixed(2)} |`);
  }
