// Callbacks in step with training: stops land exactly where they were asked for, async callbacks are awaited,
// the built-in callbacks do what their names say, and learning rates set by a schedule are logged and survive
// a checkpoint resume bit for bit. Classification: labels, one-hot targets, accuracy.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Adam, BusyError, EarlyStopping, InvalidArgumentError, KBFGS, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
  SGD, Sequential, argmax, datasets, oneHot, type EpochLogs, type LayerWeights,
} from '../lib';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-callbacks-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Three Gaussian blobs in 2-D: a problem small enough that the native thread would race far ahead.
const rows = 60;
const x = { data: new Float32Array(rows * 2).map((_, i) => Math.sin(7 * i) * 0.3 + [[-1, 0], [1, 0], [0, 1.5]][Math.floor(i / 2) % 3][i % 2]), rows, cols: 2 };
const labels = Array.from({ length: rows }, (_, r) => r % 3);
const blobs = { x, y: oneHot(labels, 3) };
const tiny = (seed = 1) => new Sequential({ inputDim: 2, layers: [{ units: 16, activation: 'tanh' }, { units: 3 }], loss: 'softmaxCrossEntropy', seed });

test.each([0, 3, 7])('a stop from onEpochEnd at epoch %i ends training after exactly that epoch', async (k) => {
  const model = tiny();
  const history = await model.fit(blobs, { optimizer: new Adam(), epochs: 1000, batchSize: 1, threads: 1,
    onEpochEnd: (epoch) => { if (epoch === k) model.stopTraining = true; } });
  expect(history.epoch).toEqual(Array.from({ length: k + 1 }, (_, i) => i));
  expect(model.epochsTrained).toBe(k + 1);
  model.dispose();
});

test.each([1, 7, 130])('a stop from onBatchEnd at step %i ends training after exactly that step', async (j) => {
  const model = tiny();
  const history = await model.fit(blobs, { optimizer: new Adam(), epochs: 1000, batchSize: 1, threads: 1,
    onBatchEnd: (_, logs) => { if (logs.step === j) model.stopTraining = true; } });
  expect(model.steps).toBe(j);
  expect(history.epoch).toHaveLength(Math.ceil(j / rows));  // the partial epoch is evaluated and reported
  model.dispose();
});

test('async callbacks are awaited: training waits for them, and fit resolves after the last', async () => {
  const model = tiny();
  const seen: string[] = [];
  await model.fit(blobs, { optimizer: new Adam(), epochs: 3, batchSize: 20, threads: 1,
    onBatchEnd: async (_, logs) => {
      await new Promise((r) => setTimeout(r, 2));
      seen.push(`batch ${logs.step} at ${model.steps}`);  // the native thread has not moved on meanwhile
    },
    onEpochEnd: async (epoch) => {
      await new Promise((r) => setTimeout(r, 10));
      seen.push(`epoch ${epoch} at ${model.epochsTrained}`);
    } });
  seen.push('resolved');
  expect(seen).toEqual([
    'batch 1 at 1', 'batch 2 at 2', 'batch 3 at 3', 'epoch 0 at 1', 'batch 4 at 4', 'batch 5 at 5', 'batch 6 at 6', 'epoch 1 at 2',
    'batch 7 at 7', 'batch 8 at 8', 'batch 9 at 9', 'epoch 2 at 3', 'resolved']);
  model.dispose();
});

test('a callback that rejects ends fit with its error; the model stays usable', async () => {
  const model = tiny();
  await expect(model.fit(blobs, { optimizer: new Adam(), epochs: 50, onEpochEnd: async () => { throw new Error('from the callback'); } }))
    .rejects.toThrow('from the callback');
  expect(model.epochsTrained).toBe(1);
  await expect(model.evaluate(blobs)).resolves.toBeGreaterThan(0);
  model.dispose();
});

test('EarlyStopping stops after patience epochs without improvement and restores the best weights', async () => {
  const model = tiny();
  const weights: LayerWeights[][] = [];
  const stopper = new EarlyStopping({ patience: 2, restoreBestWeights: true });
  // Validation targets a class off: the better the fit, the worse the validation loss, after a first improvement.
  const validationData = { x, y: oneHot(labels.map((c, i) => (i < 40 ? c : (c + 1) % 3)), 3) };
  const history = await model.fit(blobs, { optimizer: new SGD({ lr: 0.1 }), epochs: 100, batchSize: 20, threads: 1,
    validationData, callbacks: [stopper], onEpochEnd: () => { weights.push(model.getWeights()); } });
  const losses = history.history.valLoss!;
  expect(history.epoch.length).toBeLessThan(100);
  const best = losses.indexOf(Math.min(...losses));
  expect(history.epoch).toHaveLength(best + 3);  // the best epoch, then patience 2 epochs without improvement
  expect(stopper.stoppedEpoch).toBe(best + 2);
  expect(model.getWeights()).toEqual(weights[best]);
  expect(model.getWeights()).not.toEqual(weights[weights.length - 1]);
  model.dispose();
});

test('ReduceLROnPlateau lowers the learning rate when the loss stalls; the logs and History record it', async () => {
  const model = tiny();
  const lrs: number[] = [];
  const history = await model.fit(blobs, { optimizer: new SGD({ lr: 1e-9 }), epochs: 6, batchSize: 20, threads: 1,
    callbacks: [new ReduceLROnPlateau({ monitor: 'loss', patience: 1, factor: 0.5, minDelta: 1 })],
    onEpochEnd: (_, logs: EpochLogs) => { lrs.push(logs.lr); } });
  // patience 1: each epoch without improvement halves the rate for the next (the first epoch improves on nothing)
  expect(lrs).toEqual([1e-9, 1e-9, 5e-10, 2.5e-10, 1.25e-10, 6.25e-11]);
  expect(history.history.lr).toEqual(lrs);
  model.dispose();
});

test('a per-step schedule: each step uses its rate, the logs show it, and a checkpoint resume continues bit for bit', async () => {
  const schedule = () => new LearningRateScheduler((step) => 0.05 / (1 + step / 4), { every: 'step' });
  const options = (optimizer: KBFGS) => ({ optimizer, batchSize: 15, seed: 2, threads: 1, callbacks: [schedule()] });
  const whole = tiny(3);
  const full = await whole.fit(blobs, { ...options(new KBFGS({ lr: 1 })), epochs: 6 });
  expect(full.history.lr).toEqual([3, 7, 11, 15, 19, 23].map((step) => 0.05 / (1 + step / 4)));  // the rate of each epoch's last step
  const file = path.join(dir, 'scheduled.safetensors');
  const first = tiny(3);
  await first.fit(blobs, { ...options(new KBFGS({ lr: 1 })), epochs: 3, callbacks: [schedule(), new ModelCheckpoint(file)] });
  first.dispose();
  const resumed = Sequential.load(file);
  expect(resumed.optimizer!.lr).toBe(0.05 / (1 + 12 / 4));  // what step 13 will use
  const rest = await resumed.fit(blobs, { ...options(resumed.optimizer as KBFGS), epochs: 3 });
  expect(rest.history.loss).toEqual(full.history.loss.slice(3));
  expect(rest.history.lr).toEqual(full.history.lr.slice(3));
  expect(resumed.getWeights()).toEqual(whole.getWeights());
  resumed.dispose();
  whole.dispose();
});

test('damping changes between steps reach the native state and the logs', async () => {
  const model = tiny();
  const optimizer = new KBFGS({ lr: 0.05, damping: 0.3 });
  const history = await model.fit(blobs, { optimizer, epochs: 3, batchSize: 20, threads: 1,
    onEpochEnd: (epoch) => { optimizer.damping = 0.3 * 2 ** (epoch + 1); } });
  expect(history.history.damping).toEqual([0.3, 0.6, 1.2]);  // each epoch's own; the last change applies after it
  const state = (model as unknown as { handle: { exportState(): { scalars: Record<string, number> } } }).handle.exportState();
  expect(state.scalars.damping).toBe(2.4);
  model.dispose();
});

test('lr set while training runs outside a callback is a BusyError and changes nothing', async () => {
  const model = tiny();
  const optimizer = new Adam({ lr: 0.01 });
  const training = model.fit(blobs, { optimizer, epochs: 200, batchSize: 1, threads: 1 });
  await new Promise((r) => setTimeout(r, 5));
  expect(() => { optimizer.lr = 0.5; }).toThrow(BusyError);
  expect(optimizer.lr).toBe(0.01);
  await training;
  optimizer.lr = 0.5;  // between fits
  expect(optimizer.settings.lr).toBe(0.5);
  expect(() => { optimizer.lr = -1; }).toThrow(InvalidArgumentError);
  model.dispose();
});

test('a worker terminated while training waits for an async callback that never settles: it exits', () => {
  const script = `
const { Worker } = require('worker_threads');
const worker = new Worker(\`
  const lib = require('./dist');
  const x = { data: new Float32Array(200).map((_, i) => Math.sin(i)), rows: 100, cols: 2 };
  const model = new lib.Sequential({ inputDim: 2, layers: [{ units: 2 }], loss: 'halfSquaredError' });
  model.fit(x, { optimizer: new lib.Adam(), epochs: 10, onEpochEnd: () => {
    require('worker_threads').parentPort.postMessage('waiting');
    return new Promise(() => {});
  } });
\`, { eval: true });
worker.once('message', () => worker.terminate());
worker.on('exit', (code) => console.log('worker exited', code));`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60_000 });
  expect([r.signal, r.status, r.stdout.trim()]).toEqual([null, 0, 'worker exited 1']);
});

describe('classification', () => {
  test('MNIST with labels: one-hot targets whose argmax is the label', async () => {
    const d = await datasets.mnist({ labels: true });
    expect([d.name, d.classes, d.train.x.rows, d.train.y.cols, d.test.labels.length]).toEqual(['mnist', 10, 60000, 10, 10000]);
    expect(Array.from(argmax(d.test.y).subarray(0, 10))).toEqual(Array.from(d.test.labels.subarray(0, 10)));
    expect(Array.from(d.test.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  test('accuracy in evaluate, the epoch logs and History, and the argmax of predict agrees', async () => {
    const model = tiny();
    const history = await model.fit(blobs, { optimizer: new Adam({ lr: 0.05 }), epochs: 30, batchSize: 20, threads: 1, validationData: blobs });
    const { loss, accuracy } = await model.evaluate(blobs, { metrics: ['accuracy'] });
    expect(loss).toBe(await model.evaluate(blobs));
    expect(history.history.accuracy![29]).toBe(accuracy);
    expect(history.history.valAccuracy![29]).toBe(accuracy);
    const predicted = argmax(await model.predict(x));
    expect(predicted.filter((c, i) => c === labels[i]).length / rows).toBe(accuracy);
    expect(accuracy).toBeGreaterThan(0.9);
    model.dispose();
  });

  test('accuracy on a model without a class decision is an InvalidArgumentError', async () => {
    const model = new Sequential({ inputDim: 2, layers: [{ units: 2 }], loss: 'halfSquaredError' });
    await expect(model.evaluate(x, { metrics: ['accuracy'] })).rejects.toThrow(InvalidArgumentError);
    expect(() => oneHot([0, 3], 3)).toThrow(/label 3 at row 1/);
    model.dispose();
  });
});

test('an optimizer outlives the model it trained: setting its lr after dispose() is fine', async () => {
  const model = tiny();
  const optimizer = new Adam();
  await model.fit(blobs, { optimizer, epochs: 1, threads: 1 });
  model.dispose();
  optimizer.lr = 0.5;
  expect(optimizer.lr).toBe(0.5);
});
