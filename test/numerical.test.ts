/**
 * Numerical trouble in training: where a NaN or infinity first appears is named (step, phase, layer), the
 * weights and optimizer state go back to those before the failing step, and the skip mode puts back weights and optimizer state,
 * raises the damping (first-order methods: halves the learning rate) and stops after 5 skips in a row.
 * Data with NaN/Inf (test/model.test.ts) and damping 0 (test/second-order.test.ts) are covered beside. The
 * second-order runs here turn the divergence safeguard off: with it, they would not reach a NaN at all.
 */
import * as path from 'path';
import { Autoencoder, InvalidArgumentError, KBFGS, KFAC, NotPositiveDefiniteError, NumericalError, SGD, readIdxImages, type Optimizer } from '../lib';
import { addon, type NativeModel } from '../lib/binding';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const small = () => new Autoencoder({ encoder: [784, 64, 16], loss: 'sigmoidCrossEntropy', seed: 1 });
// The optimizer scalars the native state holds (what a checkpoint stores), e.g. the raised damping.
const scalars = (model: Autoencoder) => (model as unknown as { handle: NativeModel }).handle.exportState()!.scalars;
const allFinite = (model: Autoencoder) => model.getWeights().every((w) => w.weight.every(Number.isFinite) && w.bias.every(Number.isFinite));

async function failure(optimizer: Optimizer, onNonFinite: 'stop' | 'skip', epochs = 4) {
  const model = small();
  const skipped: number[] = [];
  const error = await model.fit(images, {
    optimizer, epochs, batchSize: 20, onNonFinite, onEpochEnd: (_, logs) => skipped.push(logs.diagnostics.skippedSteps!),
  }).then(() => null, (e) => e);
  return { model, error, skipped };
}

test('a K-BFGS step that goes non-finite is named by its step, phase and layer', async () => {
  const { model, error } = await failure(new KBFGS({ lr: 1000, damping: 0.3, safeguard: false }), 'stop');
  expect(error).toBeInstanceOf(NumericalError);
  expect(error.message).toMatch(/^step \d+ \(epoch \d+, batch \d+\): the curvature pair \(s, y\) of layer \d became NaN or infinite; the weights and optimizer state are back/);
  expect(allFinite(model)).toBe(true);
  expect(Number.isFinite(await model.evaluate(images))).toBe(true);
  // the optimizer state is the one from before the failing step too: every buffer finite
  const state = (model as unknown as { handle: NativeModel }).handle.exportState()!;
  for (const [name, buffer] of Object.entries(state.buffers)) expect([name, buffer.every(Number.isFinite)]).toEqual([name, true]);
  model.dispose();
});

test('skip mode: each non-finite step is undone and the damping raised ×10; 5 in a row stop training', async () => {
  const { model, error } = await failure(new KBFGS({ lr: 1000, damping: 0.3, safeguard: false }), 'skip');
  // the fifth skipped step failed in a Cholesky factorisation: the same class as in the stop mode
  expect(error).toBeInstanceOf(NotPositiveDefiniteError);
  expect(error.message).toMatch(/: layer \d+: factor .* after 5 skipped steps in a row; the weights and optimizer state are back/);
  expect(scalars(model).damping).toBeCloseTo(0.3 * 1e5, 6);  // five skips, five raises
  expect(allFinite(model)).toBe(true);
  model.dispose();
});

test('skip mode: the raised damping is reported back to the optimizer, the epoch logs and the history', async () => {
  const optimizer = new KBFGS({ lr: 3, damping: 0.3, safeguard: false });
  const model = small();
  const logged: Array<[number, number]> = [];  // [damping, skips] per epoch
  const error = await model.fit(images, { optimizer, epochs: 4, batchSize: 20, onNonFinite: 'skip',
    onEpochEnd: (_, logs) => { logged.push([logs.damping!, logs.diagnostics.skippedSteps!]); } }).catch((e) => e);
  expect(error).toBeInstanceOf(NotPositiveDefiniteError);
  // each epoch logs the damping its last step used: ×10 per skip so far, not the value set
  let skips = 0;
  for (const [damping, skipped] of logged) {
    skips += skipped;
    expect(damping).toBeCloseTo(0.3 * 10 ** skips, 6);
  }
  expect(skips).toBeGreaterThan(0);
  // after the failure, the optimizer holds what the native state holds
  expect(optimizer.settings.damping).toBe(scalars(model).damping);
  expect(optimizer.damping).toBeCloseTo(0.3 * 1e5, 6);
  model.dispose();
});

test('skip mode with a first-order method halves the learning rate at each skip and counts the skips', async () => {
  const optimizer = new SGD({ lr: 1e6 });
  const { model, error, skipped } = await failure(optimizer, 'skip', 6);
  expect(error).toBeInstanceOf(NumericalError);
  expect(skipped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect(scalars(model).lr).toBe(1e6 / 32);
  expect(optimizer.lr).toBe(1e6 / 32);  // reported back to the optimizer too
  model.dispose();
});

test('the stop mode is the default and the option is validated', async () => {
  const model = small();
  await expect(model.fit(images, { optimizer: new KFAC(), onNonFinite: 'retry' as never })).rejects.toThrow(InvalidArgumentError);
  const error = await model.fit(images, { optimizer: new SGD({ lr: 1e6 }), epochs: 5, batchSize: 10 }).catch((e) => e);
  expect(error).toBeInstanceOf(NumericalError);
  expect(error.message).not.toMatch(/skipped/);
  model.dispose();
});

test('markNonFinite flags NaN and both infinities and leaves the flag alone otherwise', () => {
  const ops = addon.backend;
  for (const bad of [NaN, Infinity, -Infinity]) {
    const flag = new Float32Array(1);
    ops.markNonFinite(Float32Array.of(1, 2, bad, 4), flag);
    expect(flag[0]).toBe(1);
  }
  const flag = Float32Array.of(0.5);
  ops.markNonFinite(Float32Array.of(1, -2, 3e38), flag);
  expect(flag[0]).toBe(0.5);
});
