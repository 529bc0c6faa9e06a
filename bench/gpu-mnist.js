#!/usr/bin/env node
// The MNIST autoencoder comparison on one device: every method, the benchmark's settings (lib/cli/methods.ts),
// batch 1000, seed 9999 (--seed), the full 60,000 training images. Prints one line per epoch and a summary table with
// the training seconds per epoch (warm start and the epoch-end evaluation excluded, as in EpochLogs.seconds),
// the wall time per epoch (evaluation included) and the losses; writes JSON lines with --log.
//   node bench/gpu-mnist.js --device cuda --epochs 20 [--methods kbfgs,adam] [--dir mnist-idx] [--tf32]
//     [--time-budget s (per method)] [--log f.jsonl]
'use strict';
const fs = require('fs');
const { parseArgs } = require('util');
const lib = require('../dist');
const { METHODS, settingsFor, makeOptimizer } = require('../dist/cli/methods');

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda' },
    epochs: { type: 'string', default: '20' },
    methods: { type: 'string', default: METHODS.join(',') },
    dir: { type: 'string' },
    tf32: { type: 'boolean', default: false },
    'time-budget': { type: 'string' },
    seed: { type: 'string', default: '9999' },
    log: { type: 'string' },
  },
});

async function main() {
  const { train, test } = await lib.datasets.mnist(values.dir ? { dir: values.dir } : {});
  const epochs = Number(values.epochs);
  const seed = Number(values.seed);
  const cuda = lib.devices().cuda;
  console.log(`device ${values.device}${values.tf32 ? ' (tf32)' : ''}: ${cuda.devices.map((d) => d.name).join(', ') || 'no GPU'}; cuBLAS ${cuda.cublas?.version ?? '-'}, cuSOLVER ${cuda.cusolver?.version ?? '-'}`);
  const log = values.log ? fs.openSync(values.log, 'w') : null;
  const summary = [];
  for (const method of values.methods.split(',')) {
    const settings = settingsFor('mnist', method);
    const model = lib.Autoencoder.mnist({ seed, device: values.device, tf32: values.tf32 });
    const losses = [];
    const seconds = [];
    let wall = Date.now();
    const walls = [];
    let failure = '';
    try {
      await model.fit(train, {
        optimizer: makeOptimizer(method, settings, seed), epochs, batchSize: 1000, seed, validationData: test,
        timeBudget: values['time-budget'] === undefined ? 0 : Number(values['time-budget']),
        onEpochEnd: (epoch, logs) => {
          const now = Date.now();
          walls.push((now - wall) / 1000);
          wall = now;
          losses.push(logs.loss);
          seconds.push(logs.seconds);
          const line = { device: values.device, tf32: values.tf32, seed, method, settings, epoch: epoch + 1, trainLoss: logs.loss, testLoss: logs.valLoss, seconds: logs.seconds, diagnostics: logs.diagnostics };
          if (log !== null) fs.writeSync(log, JSON.stringify(line) + '\n');
          console.log(`${method} epoch ${epoch + 1}: train ${logs.loss.toFixed(2)} test ${logs.valLoss.toFixed(2)} ${logs.seconds.toFixed(2)} s`);
        },
      });
    } catch (error) {
      failure = error.message;
      console.log(`${method}: stopped: ${failure}`);
    } finally {
      model.dispose();
    }
    // Epoch 1 carries the one-off costs (warm start, first launches); the steady rate is measured after it.
    const steady = seconds.length > 1 ? (seconds.at(-1) - seconds[0]) / (seconds.length - 1) : seconds[0];
    const steadyWall = walls.length > 1 ? walls.slice(1).reduce((a, b) => a + b, 0) / (walls.length - 1) : walls[0];
    summary.push({ method, steady, steadyWall, first: seconds[0], losses, failure });
  }
  const pick = (losses, e) => (losses.length >= e ? losses[e - 1].toFixed(1) : '-');
  console.log('\n| method | train s/epoch | wall s/epoch (with evaluation) | epoch 1 s | loss @1 | @2 | @3 | @5 | @10 | @20 |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of summary)
    console.log(`| ${s.method} | ${s.steady?.toFixed(3)} | ${s.steadyWall?.toFixed(3)} | ${s.first?.toFixed(2)} | ${[1, 2, 3, 5, 10, 20].map((e) => pick(s.losses, e)).join(' | ')} |${s.failure ? ' stopped: ' + s.failure : ''}`);
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
