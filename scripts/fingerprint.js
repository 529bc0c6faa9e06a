#!/usr/bin/env node
// Fingerprints of training results: every optimizer (both protocols of the first-order ones) on a dense, a
// convolutional and a small GPT network (every token layer, dropout included), a SHA-256 of the per-batch losses and the final weights (their float32 bits). A change
// that must not alter results (a restructuring) prints the same lines before and after:
//   node scripts/fingerprint.js > before.txt; <change, npm run build>; node scripts/fingerprint.js | diff before.txt -
// Results are bit-identical only on the same machine, kernel family and thread count (docs/blas-kernels.md).
// --root DIR runs the package built in DIR (a checkout of another commit) with this script, so that two builds
// can be compared without rebuilding: node scripts/fingerprint.js --root ../other | diff - <(node scripts/fingerprint.js)
const crypto = require('crypto');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: { root: { type: 'string', default: path.join(__dirname, '..') } } });
const lib = require(path.join(path.resolve(values.root), 'dist'));

const random = (n, seed) => {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  });
};

const rows = 96;
const networks = {
  dense: () => ({
    model: new lib.Sequential({ inputDim: 20, layers: [{ units: 16, activation: 'tanh' }, { units: 8, activation: 'relu' }, { units: 20 }], loss: 'halfSquaredError', seed: 3 }),
    data: { data: random(rows * 20, 1), rows, cols: 20 },
  }),
  conv: () => {
    const x = { data: random(rows * 64, 2), rows, cols: 64 };
    const labels = random(rows, 4).map((v) => Math.floor((v + 0.5) * 4));
    const y = { data: new Float32Array(rows * 4), rows, cols: 4 };
    labels.forEach((c, i) => (y.data[i * 4 + c] = 1));
    const model = new lib.Sequential({
      inputShape: [1, 8, 8], loss: 'softmaxCrossEntropy', seed: 5,
      layers: [{ type: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
        { type: 'conv2d', filters: 3, kernel: 2, activation: 'tanh' }, { type: 'avgPool2d', pool: 3 }, { type: 'flatten' }, { units: 4 }],
    });
    return { model, data: { x, y } };
  },
  gpt: () => {
    const ids = (seed) => ({ data: random(rows * 8, seed).map((v) => Math.floor((v + 0.5) * 16)), rows, cols: 8 });
    const model = lib.Sequential.gpt({ vocabulary: 16, context: 8, width: 16, heads: 2, blocks: 1, mlpRatio: 2, dropout: 0.1, seed: 6 });
    return { model, data: { x: ids(7), y: ids(8) } };
  },
};
const optimizers = {
  'sgd': () => new lib.SGD({ lr: 0.05, momentum: 0.9 }),
  'sgd-paper': () => new lib.SGD({ lr: 0.05, protocol: 'paper' }),
  'adam': () => new lib.Adam({ lr: 1e-3 }),
  'adam-paper': () => new lib.Adam({ lr: 1e-3, protocol: 'paper' }),
  'rmsprop': () => new lib.RMSprop({ lr: 1e-3 }),
  'rmsprop-paper': () => new lib.RMSprop({ lr: 1e-3, protocol: 'paper' }),
  'kbfgs': () => new lib.KBFGS({ lr: 0.3, damping: 0.3 }),
  'kbfgs-every-2': () => new lib.KBFGS({ lr: 0.3, damping: 0.3, curvatureEvery: 2 }),
  'kbfgs-l': () => new lib.KBFGSL({ lr: 0.3, damping: 0.3, memory: 3 }),
  'kfac': () => new lib.KFAC({ lr: 0.3, damping: 0.3, seed: 7 }),
};

(async () => {
  lib.devices();  // the kernel choice is made before anything is timed or hashed
  for (const [net, make] of Object.entries(networks)) {
    for (const [name, optimizer] of Object.entries(optimizers)) {
      const { model, data } = make();
      const losses = [];
      await model.fit(data, { optimizer: optimizer(), epochs: 3, batchSize: 16, seed: 11, threads: 2, onBatchEnd: (_b, l) => losses.push(l.loss) });
      const hash = crypto.createHash('sha256').update(Buffer.from(Float64Array.from(losses).buffer));
      for (const { weight, bias } of model.getWeights()) hash.update(Buffer.from(weight.buffer)).update(Buffer.from(bias.buffer));
      console.log(`${net} ${name.padEnd(14)} ${hash.digest('hex').slice(0, 24)} final loss ${losses[losses.length - 1].toPrecision(8)}`);
      model.dispose();
    }
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
