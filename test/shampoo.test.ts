// Shampoo and SOAP outside the golden trajectories (test/golden-shampoo.test.ts): option checks with typed
// errors, the JSON form checkpoints keep, the CLI's methods, and training runs that report their refreshes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Autoencoder, InvalidArgumentError, NumericalError, SOAP, Shampoo, optimizerFromJSON } from '../lib';
import type { NativeModel } from '../lib/binding';
import { grid, makeOptimizer, settingsFor } from '../lib/cli/methods';
import { randomArray, seeded } from './helpers';

test.each([
  ['Shampoo: precondEvery 0', () => new Shampoo({ precondEvery: 0 }), /Shampoo: precondEvery must be >= 1, got 0/],
  ['Shampoo: startPreconditioningStep negative', () => new Shampoo({ startPreconditioningStep: -1 }), /startPreconditioningStep/],
  ['Shampoo: maxPrecondDim not an integer', () => new Shampoo({ maxPrecondDim: 10.5 }), /maxPrecondDim must be an integer/],
  ['Shampoo: beta2 of 1', () => new Shampoo({ beta2: 1 }), /beta2/],
  ['Shampoo: epsilon 0', () => new Shampoo({ epsilon: 0 }), /epsilon/],
  ['Shampoo: negative damping', () => new Shampoo({ damping: -1 }), /damping/],
  ['SOAP: no epsilon option (its damping is the ε)', () => new SOAP({ epsilon: 1e-8 } as never), /unknown option 'epsilon'/],
  ['SOAP: lr 0', () => new SOAP({ lr: 0 }), /lr/],
])('%s', (_, make, message) => {
  expect(make).toThrow(InvalidArgumentError);
  expect(make).toThrow(message);
});

test('toJSON and optimizerFromJSON give back the same settings', () => {
  for (const o of [new Shampoo({ lr: 0.002, precondEvery: 7, maxPrecondDim: 64, safeguard: false }), new SOAP({ beta2: 0.99 })]) {
    const back = optimizerFromJSON(JSON.parse(JSON.stringify(o.toJSON())));
    expect(back.constructor).toBe(o.constructor);
    expect(back.toJSON()).toEqual(o.toJSON());
  }
});

test('the CLI makes both with its settings and has a grid for each', () => {
  const shampoo = makeOptimizer('shampoo', settingsFor('mnist', 'shampoo', { lr: 0.01 }));
  expect(shampoo).toBeInstanceOf(Shampoo);
  expect(shampoo.settings).toMatchObject({ lr: 0.01, damping: 1e-6 });
  expect(makeOptimizer('soap', settingsFor('mnist', 'soap'))).toBeInstanceOf(SOAP);
  for (const method of ['shampoo', 'soap'] as const) expect(grid(method, true).length).toBeGreaterThan(1);
});

// 60 samples, batch 20: 3 steps an epoch, 12 steps. Refreshes at steps 2, 5, 8, 11.
test.each([
  ['shampoo', () => new Shampoo({ lr: 0.01, precondEvery: 3, startPreconditioningStep: 2 }), 'rootUpdates'],
  ['soap', () => new SOAP({ lr: 0.01, precondEvery: 3, startPreconditioningStep: 2 }), 'basisUpdates'],
  // the 17-wide first layer's right side and the last layer's 16-wide left side are left unpreconditioned
  ['shampoo, maxPrecondDim 12', () => new Shampoo({ lr: 0.01, precondEvery: 3, startPreconditioningStep: 2, maxPrecondDim: 12 }), 'rootUpdates'],
])('%s trains a small autoencoder and reports its refreshes', async (_, make, counter) => {
  const model = new Autoencoder({ encoder: [16, 8, 4], loss: 'sigmoidCrossEntropy', seed: 2 });
  const x = { data: randomArray(60 * 16, seeded(5)).map((v) => (v + 1) / 2), rows: 60, cols: 16 };
  let refreshes = 0;
  const { history } = await model.fit(x, {
    optimizer: make(), epochs: 4, batchSize: 20, shuffle: false,
    onEpochEnd: (_e, { diagnostics }) => { refreshes += diagnostics[counter] ?? 0; },
  });
  expect(refreshes).toBe(4);
  expect(history.loss[3]).toBeLessThan(history.loss[0]);
  model.dispose();
});

test('tune runs both from the command line (bench and train share its method table)', () => {
  const root = path.join(__dirname, '..'), cli = path.join(root, 'dist', 'cli', 'main.js');
  const out = path.join(os.tmpdir(), `kbfgs-tune-shampoo-${process.pid}.json`);
  const tune = spawnSync(process.execPath, [cli, 'tune', '--problem', 'curves-synth', '--train-size', '200', '--batch-size', '100',
    '--methods', 'shampoo,soap', '--lr', '0.001', '--time-budget', '0.2', '--threads', '1', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(tune.status).toBe(0);
  const tuned = JSON.parse(fs.readFileSync(out, 'utf8'))['curves-synth'];
  fs.unlinkSync(out);
  expect(tuned.shampoo).toEqual({ lr: 0.001, damping: 1e-6 });
  expect(tuned.soap).toEqual({ lr: 0.001, damping: 1e-8 });
});

// A step length that overflows the weights: the step that goes non-finite is named, and undone.
test.each([
  ['Shampoo', () => new Shampoo({ lr: 1e37, safeguard: false, precondEvery: 2, startPreconditioningStep: 1 })],
  ['SOAP', () => new SOAP({ lr: 1e37, safeguard: false, precondEvery: 2, startPreconditioningStep: 1 })],
])('%s: a step that goes non-finite is named and the state put back', async (_, make) => {
  const model = new Autoencoder({ encoder: [16, 8, 4], loss: 'sigmoidCrossEntropy', seed: 2 });
  const x = { data: randomArray(60 * 16, seeded(5)).map((v) => (v + 1) / 2), rows: 60, cols: 16 };
  const error = await model.fit(x, { optimizer: make(), epochs: 4, batchSize: 20, onNonFinite: 'stop' }).then(() => null, (e) => e);
  expect(error).toBeInstanceOf(NumericalError);
  expect(error.message).toMatch(/^step \d+ \(epoch \d+, batch \d+\): the .* of layer \d became NaN or infinite; the weights and optimizer state are back/);
  const state = (model as unknown as { handle: NativeModel }).handle.exportState()!;
  for (const [name, buffer] of Object.entries(state.buffers)) expect([name, buffer.every(Number.isFinite)]).toEqual([name, true]);
  model.dispose();
});
