#!/usr/bin/env node
// How far the divergence safeguard's noise allowance (docs/algorithm.md §11.2) raises its bound on the MNIST
// autoencoder at the paper's batch size: K-BFGS and KFAC at their default settings, the first --rows training
// images, batch 1000; per epoch the undone steps, the largest kept loss ratio and the largest bound (1.25 means
// the allowance never mattered, so the decisions are those of the plain 1.25 rule).
//   node bench/safeguard-bound.js [--rows 10000] [--epochs 2] [--threads 1]
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '10000' }, epochs: { type: 'string', default: '2' }, threads: { type: 'string', default: '1' },
} });
(async () => {
  const d = await lib.datasets.mnist();
  const rows = Number(values.rows), x = { data: d.train.data.subarray(0, rows * 784), rows, cols: 784 };
  for (const [name, optimizer] of [['kbfgs', new lib.KBFGS()], ['kfac', new lib.KFAC()]]) {
    const model = lib.Autoencoder.mnist({ seed: 9999 });
    await model.fit(x, { optimizer, epochs: Number(values.epochs), batchSize: 1000, seed: 9999, threads: Number(values.threads),
      onEpochEnd: (e, l) => console.log(`${name} epoch ${e + 1}: loss ${l.loss.toFixed(2)}, rejectedSteps ${l.diagnostics.rejectedSteps}, ` +
        `maxLossRatio ${l.diagnostics.maxLossRatio.toFixed(3)}, maxLossBound ${l.diagnostics.maxLossBound.toFixed(4)}`) });
    model.dispose();
  }
})().catch((error) => { console.error(error); process.exitCode = 1; });
