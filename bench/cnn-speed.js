#!/usr/bin/env node
// Speed of the benchmark CNN (lib/cli/problems.ts cnnClassifier, algorithm.md §12.5) on Fashion-MNIST, as
// ratios measured back to back in one run:
//   - one training epoch of Adam (PyTorch's definition, lr 1e-3) here against the same network, data and
//     batch size in PyTorch on the CPU (bench/cnn_torch.py), both at --threads; evaluation excluded on both;
//   - the K-BFGS step (α 0.1, λ 0.3) and, with --methods kbfgs,kfac, the KFAC step (α 0.3, λ 0.01) against the
//     Adam step on this package, from the second epoch of each run (so the warm-start pass is not counted), over
//     --step-rows images, for each curvatureEvery r of --curvature-every (1: the published methods; r > 1: the
//     curvature every r-th step, algorithm.md §12.4 and §5.1).
// Each pair is measured --repeats times, alternating; the table gives the median ratio and the range.
//   node bench/cnn-speed.js [--rows 60000] [--step-rows 6400] [--batch 128] [--threads 2] [--repeats 2]
//     [--curvature-every 1,10] [--methods kbfgs,kfac] [--only epoch|step] [--units 128]
// --units widens the first dense layer (the benchmark CNN has 128) on both sides. --clock cpu compares the
// processor seconds of the two processes' Adam epochs (all their threads), and of the timed epochs of the steps,
// instead of wall-clock seconds: on a
// machine shared with other jobs, wall-clock time measures the share the scheduler gave each side, and
// PyTorch's OpenMP threads lose more of it while they wait for each other. --device cuda runs both sides on the
// GPU (PyTorch's CUDA build): each Adam timing is then the second of two epochs, so that neither side's first
// launches, library loading or kernel selection is counted.
const { execFileSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');
const { cnnClassifier } = require('../dist/cli/problems');

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '60000' }, 'step-rows': { type: 'string', default: '6400' },
  batch: { type: 'string', default: '128' }, threads: { type: 'string', default: '2' }, repeats: { type: 'string', default: '2' },
  only: { type: 'string' }, clock: { type: 'string', default: 'wall' }, device: { type: 'string', default: 'cpu' }, units: { type: 'string', default: '128' }, 'curvature-every': { type: 'string', default: '1' },
  methods: { type: 'string', default: 'kbfgs' },
  dir: { type: 'string' },  // default: where Debian's dataset-fashion-mnist installs it
} });
const batch = Number(values.batch), threads = Number(values.threads), units = Number(values.units);
const device = values.device;
if (!['cpu', 'cuda'].includes(device)) throw new Error(`--device must be cpu or cuda, not ${device}`);
const adamEpochs = device === 'cuda' ? 2 : 1;  // on a GPU the second epoch is timed (above)

// The benchmark CNN, or the same network with a wider first dense layer.
function network() {
  if (units === 128) return cnnClassifier(1, device);
  return new lib.Sequential({
    inputShape: [1, 28, 28],
    layers: [
      { type: 'conv2d', filters: 32, kernel: 5, padding: 2, activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
      { type: 'conv2d', filters: 64, kernel: 5, padding: 2, activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
      { type: 'flatten' }, { units, activation: 'relu' }, { units: 10 },
    ],
    loss: 'softmaxCrossEntropy', seed: 1, device,
  });
}

const head = (split, rows) => ({
  x: { data: split.x.data.subarray(0, rows * 784), rows, cols: 784 },
  y: { data: split.y.data.subarray(0, rows * 10), rows, cols: 10 },
});

// Seconds of training epoch `epoch` (history.seconds is cumulative, evaluation excluded); with --clock cpu,
// the processor seconds from the end of the epoch before (or the start) to the end of this one.
async function epochSeconds(data, optimizer, epochs, epoch) {
  const model = network();
  try {
    const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    const ends = [cpuSeconds()];
    const history = await model.fit(data, { optimizer, epochs, batchSize: batch, seed: 1, threads, onEpochEnd: () => { ends.push(cpuSeconds()); } });
    const s = history.history.seconds;
    const seconds = values.clock === 'cpu' ? ends[epoch + 1] - ends[epoch] : s[epoch] - (epoch > 0 ? s[epoch - 1] : 0);
    return { seconds, loss: history.history.loss[epochs - 1] };
  } finally {
    model.dispose();
  }
}

const FASHION_DIR = values.dir ?? '/usr/share/datasets/fashion-mnist';

function torchEpochSeconds(rows) {
  const out = execFileSync('python3', [path.join(__dirname, 'cnn_torch.py'), FASHION_DIR, String(adamEpochs), String(batch), String(threads), String(rows), String(units), device],
    { encoding: 'utf8' });
  const last = JSON.parse(out.trim().split('\n').pop());
  return values.clock === 'cpu' ? last.cpu_seconds : last.seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (label, ratios, base) =>
  console.log(`| ${label} | ${median(ratios).toFixed(2)} | ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} | ${median(base).toFixed(2)} |`);

(async () => {
  const data = await lib.datasets.fashionMnist({ dir: FASHION_DIR, labels: true });
  const rows = Number(values.rows), stepRows = Number(values['step-rows']);
  const gpu = device === 'cuda' ? `; GPU: ${lib.devices().cuda.devices.map((d) => d.name).join(', ')}` : '';
  console.log(`Fashion-MNIST, first dense layer ${units} units, batch ${batch}, ${threads} threads, ${values.clock} clock, device ${device}${gpu}; ${rows} images per Adam epoch, ${stepRows} per step timing`);
  const blas = require('../dist/binding').addon.blasKernels();
  console.log(`kernels: OpenBLAS ${blas.version} ${blas.kernels}; convolutions: ${blas.convolutions ?? 'patches and SGEMM (a build before oneDNN)'}`);
  console.log('| ratio | median | range | baseline seconds |');
  console.log('| --- | --- | --- | --- |');
  const epochRatios = [], torchSeconds = [], stepRatios = [], adamStep = [];
  for (let r = 0; r < Number(values.repeats) && values.only !== 'step'; r++) {
    const ours = await epochSeconds(head(data.train, rows), new lib.Adam({ lr: 1e-3 }), adamEpochs, adamEpochs - 1);
    const theirs = torchEpochSeconds(rows);
    epochRatios.push(ours.seconds / theirs);
    torchSeconds.push(theirs);
  }
  if (epochRatios.length) row('Adam epoch, kbfgs-native / PyTorch', epochRatios, torchSeconds);
  const steps = Math.floor(stepRows / batch);
  const secondOrder = {
    kbfgs: { name: 'K-BFGS', make: (every) => new lib.KBFGS({ lr: 0.1, damping: 0.3, curvatureEvery: every }) },
    kfac: { name: 'KFAC', make: (every) => new lib.KFAC({ lr: 0.3, damping: 0.01, curvatureEvery: every }) },
  };
  for (const method of values.methods.split(',')) {
    if (!secondOrder[method]) throw new Error(`--methods takes kbfgs and kfac, not ${method}`);
    for (const every of values['curvature-every'].split(',').map(Number)) {
      stepRatios.length = adamStep.length = 0;
      for (let r = 0; r < Number(values.repeats) && values.only !== 'epoch'; r++) {
        const ours = await epochSeconds(head(data.train, stepRows), secondOrder[method].make(every), 2, 1);
        const adam = await epochSeconds(head(data.train, stepRows), new lib.Adam({ lr: 1e-3 }), 2, 1);
        stepRatios.push(ours.seconds / adam.seconds);
        adamStep.push(adam.seconds / steps);
      }
      if (stepRatios.length) row(`${secondOrder[method].name} step${every > 1 ? ` (curvatureEvery ${every})` : ''} / Adam step`, stepRatios, adamStep);
    }
  }
})().catch((error) => { console.error(error); process.exitCode = 1; });
