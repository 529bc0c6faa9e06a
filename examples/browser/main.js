// The example page: two models per task, one trained with K-BFGS and one with Adam, each in its own worker.
// Query parameters (for quick runs): epochs, batch, encoder (e.g. 784,250,30), fashionRows, autostart=1.
import {
  Adam, Autoencoder, KBFGS, Sequential, browserSupport, gunzip, oneHot, parseIdx, parseIdxImages,
} from '../../dist/browser/index.js';

const params = new URLSearchParams(location.search);
const number = (name, fallback) => (params.has(name) ? Number(params.get(name)) : fallback);
const EPOCHS = number('epochs', 40);
const BATCH = number('batch', 20);
const ENCODER = params.has('encoder') ? params.get('encoder').split(',').map(Number) : [784, 1000, 500, 250, 30];
const FASHION_ROWS = number('fashionRows', 2000);
const FASHION_EPOCHS = number('fashionEpochs', 5);

// What a test (or a curious reader, in the console) can look at.
const state = window.kbfgsDemo = {
  ticks: 0, support: browserSupport(), engine: null, running: 0, stopped: false, errors: [],
  mnist: { kbfgs: [], adam: [], history: {} }, fashion: { kbfgs: [], adam: [], history: {} },
};

const $ = (id) => document.getElementById(id);
if (state.support.notice) {
  $('notice').textContent = 'This page is not cross-origin isolated, so each model trains on one thread ' +
    '(see the README: serve it with Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy).';
}

// The clock: it only advances while the page's own thread is free.
setInterval(() => { state.ticks += 1; $('ticks').textContent = String(state.ticks); }, 50);

const COLORS = { kbfgs: '#1f5fbf', adam: '#d2691e' };
function plot(canvas, series) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const all = [...series.kbfgs, ...series.adam].filter(Number.isFinite);
  if (all.length === 0) return;
  const n = Math.max(series.kbfgs.length, series.adam.length, 2);
  const lo = Math.min(...all), hi = Math.max(...all);
  const pad = 30;
  const x = (i) => pad + (i / (n - 1)) * (width - 2 * pad);
  const y = (v) => height - pad - ((v - lo) / (hi - lo || 1)) * (height - 2 * pad);
  ctx.fillStyle = '#444';
  ctx.font = '12px sans-serif';
  ctx.fillText(hi.toPrecision(4), 2, pad - 4);
  ctx.fillText(lo.toPrecision(4), 2, height - pad + 14);
  ctx.fillText('steps →', width - 60, height - 6);
  for (const name of ['kbfgs', 'adam']) {
    const values = series[name];
    ctx.strokeStyle = COLORS[name];
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
    ctx.stroke();
  }
}

// Redraws at most once per frame, however often losses arrive.
const dirty = new Set();
function redraw() {
  if (dirty.has('mnist')) plot($('mnist-plot'), state.mnist);
  if (dirty.has('fashion')) plot($('fashion-plot'), state.fashion);
  dirty.clear();
  requestAnimationFrame(redraw);
}
requestAnimationFrame(redraw);

const models = [];

const statusLines = { mnist: {}, fashion: {} };
function setStatus(task, name, text) {
  statusLines[task][name] = `${name === 'kbfgs' ? 'K-BFGS' : 'Adam'}: ${text}`;
  $(`${task}-status`).textContent = Object.values(statusLines[task]).join(' | ');
}

async function train(task, name, model, data, options) {
  models.push(model);
  state.running += 1;
  try {
    const info = await model.ready;
    state.engine = model.engine;
    $('engine').textContent = model.engine.crossOriginIsolated
      ? `engine threads per model: ${model.engine.threads}` : 'one thread per model (not cross-origin isolated)';
    setStatus(task, name, `${info.paramCount} parameters, training...`);
    // The loss of every step: with threads as it is taken, on one thread an epoch's steps as the epoch ends.
    const history = await model.fit(data, {
      ...options,
      onBatchEnd: (_batch, logs) => { state[task][name].push(logs.loss); dirty.add(task); },
    });
    state[task].history[name] = history;
    const last = history.history.loss.at(-1);
    setStatus(task, name, `${history.epoch.length} epochs, training loss ${last?.toFixed(4)}`);
  } catch (error) {
    state.errors.push(`${task} ${name}: ${error.name}: ${error.message}`);
    setStatus(task, name, `${error.name}: ${error.message}`);
  } finally {
    state.running -= 1;
    if (state.running === 0) { $('start').disabled = false; $('stop').disabled = true; }
  }
}

async function mnistData() {
  const bytes = await (await fetch('../../data/mnist-t10k-first100-images-idx3-ubyte')).arrayBuffer();
  const images = parseIdxImages(bytes, 'mnist-t10k-first100-images-idx3-ubyte');
  return { data: images.data, rows: images.rows, cols: images.cols };
}

function trainMnist(images) {
  const optimizers = { kbfgs: new KBFGS(), adam: new Adam({ lr: 1e-3 }) };
  return Promise.all(Object.entries(optimizers).map(([name, optimizer]) => {
    const model = new Autoencoder({ encoder: ENCODER, loss: 'sigmoidCrossEntropy', seed: 1 });
    return train('mnist', name, model, images, { optimizer, epochs: EPOCHS, batchSize: BATCH });
  }));
}

// The Fashion-MNIST files the page was given: { images, labels } as bytes (decompressed if gzipped).
async function fashionFiles(files) {
  const found = {};
  for (const file of files) {
    let bytes = await file.arrayBuffer();
    if (new Uint8Array(bytes, 0, 2).join() === '31,139') bytes = await gunzip(bytes);
    if (/^train-images/.test(file.name)) found.images = bytes;
    else if (/^train-labels/.test(file.name)) found.labels = bytes;
  }
  return found;
}

function trainFashion({ images, labels }) {
  // Only the slice that trains is scaled to [0, 1] (all 60,000 images would hold the page for a while).
  const x = parseIdx(images, 'train-images');
  const y = parseIdx(labels, 'train-labels');
  const rows = Math.min(FASHION_ROWS, x.dims[0], y.dims[0]);
  const pixels = Float32Array.from(x.bytes.subarray(0, rows * 784), (v) => v / 255);
  const data = { x: { data: pixels, rows, cols: 784 }, y: oneHot(y.bytes.subarray(0, rows), 10) };
  const optimizers = { kbfgs: new KBFGS({ lr: 0.1 }), adam: new Adam({ lr: 1e-3 }) };
  return Promise.all(Object.entries(optimizers).map(([name, optimizer]) => {
    const model = new Sequential({
      inputShape: [1, 28, 28], loss: 'softmaxCrossEntropy', seed: 1,
      layers: [{ type: 'conv2d', filters: 8, kernel: 5, stride: 2, activation: 'relu' }, { type: 'flatten' },
        { units: 10, activation: 'linear' }],
    });
    return train('fashion', name, model, data, { optimizer, epochs: FASHION_EPOCHS, batchSize: 100 });
  }));
}

async function start() {
  $('start').disabled = true;
  $('stop').disabled = false;
  state.stopped = false;
  for (const model of models.splice(0)) model.dispose();
  for (const task of ['mnist', 'fashion']) Object.assign(state[task], { kbfgs: [], adam: [], history: {} });
  const runs = [trainMnist(await mnistData())];
  const files = $('fashion-files').files;
  if (files && files.length) {
    const given = await fashionFiles(files);
    if (given.images && given.labels) runs.push(trainFashion(given));
    else $('fashion-status').textContent = 'needs train-images-idx3-ubyte and train-labels-idx1-ubyte';
  }
  await Promise.all(runs);
  state.done = true;
}

$('start').addEventListener('click', () => { state.done = false; start().catch((e) => state.errors.push(String(e))); });
$('stop').addEventListener('click', () => {
  state.stopped = true;
  for (const model of models) model.stopTraining = true;
  $('stop').disabled = true;
});

if (params.get('autostart') === '1') $('start').click();
