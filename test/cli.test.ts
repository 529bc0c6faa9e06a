// The command line: `train` on a tiny problem writes the documented JSON log and the loss falls; bad flags
// are clear errors. (`bench` itself is exercised by the README's main command and bench/RESULTS.md.)
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');

test('train on a tiny curves-synth problem: one JSON object per epoch with the documented fields', () => {
  const log = path.join(os.tmpdir(), `kbfgs-train-${process.pid}.jsonl`);
  execFileSync(process.execPath, [cli, 'train', '--problem', 'curves-synth', '--train-size', '400', '--test-size', '100',
    '--optimizer', 'kbfgs', '--lr', '0.1', '--epochs', '4', '--batch-size', '100', '--threads', '1', '--log', log, '--quiet'], { cwd: root });
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  fs.unlinkSync(log);
  expect(lines).toHaveLength(4);
  lines.forEach((line, i) => {
    expect(line).toMatchObject({ epoch: i, optimizer: 'kbfgs', problem: 'curves-synth', settings: { lr: 0.1, damping: 0.3 } });
    for (const key of ['trainLoss', 'testLoss', 'seconds']) expect(Number.isFinite(line[key])).toBe(true);
    expect(line.diagnostics.curvatureUpdates).toBe(4 * 12);  // 4 steps x 12 layers of the CURVES autoencoder
  });
  expect(lines[3].trainLoss).toBeLessThan(0.9 * lines[0].trainLoss);
  expect(lines[3].seconds).toBeGreaterThan(lines[0].seconds);
});

test('without --log the JSON lines go to stdout', () => {
  const out = execFileSync(process.execPath, [cli, 'train', '--train-size', '200', '--test-size', '50', '--optimizer', 'sgd',
    '--epochs', '2', '--batch-size', '100', '--quiet'], { cwd: root, encoding: 'utf8' });
  expect(out.trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([0, 1]);  // numbered as the API's onEpochEnd
});

test.each([
  [['train', '--optimizer', 'lbfgs'], /Allowed choices are kbfgs, kbfgs-l, kfac, adam, rmsprop, sgd/],
  [['train', '--lr', '-1'], /--lr must be a positive number/],
  [['train', '--problem', 'curves'], /needs --file/],
  [['bench', '--methods', 'adam,foo'], /unknown method 'foo'/],
  [['tune', '--lr', '0.1,-1'], /--lr must be a positive number/],
  [['tune', '--damping', ','], /--damping must list at least one value/],
])('%j fails with a clear message', (args, message) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(message);
});

test('a settings file\'s lrDecay multiplies α after every epoch of bench; a bad one is a clear error', () => {
  const { lrDecaySchedule } = require('../lib/cli/methods') as typeof import('../lib/cli/methods');
  const lib = require('../lib') as typeof import('../lib');
  expect(lrDecaySchedule({ lr: 0.1 })).toEqual([]);
  expect(lrDecaySchedule({ lr: 0.1, lrDecay: 1 })).toEqual([]);
  for (const bad of [0, -0.5, 1.5, NaN, '0.5'])
    expect(() => lrDecaySchedule({ lr: 0.1, lrDecay: bad as number })).toThrow(/lrDecay must be a number in \(0, 1\]/);
  // α seen by every step of a 3-epoch fit: 0.1, 0.05, 0.025 per epoch.
  const model = new lib.Autoencoder({ encoder: [4, 2], loss: 'sigmoidCrossEntropy', seed: 1 });
  const optimizer = new lib.SGD({ lr: 0.1 });
  const seen: number[] = [];
  const x = { data: Float32Array.from({ length: 40 }, (_, i) => (1 + Math.sin(i)) / 2), rows: 10, cols: 4 };
  return model.fit(x, { optimizer, epochs: 3, batchSize: 5, callbacks: lrDecaySchedule({ lr: 0.1, lrDecay: 0.5 }),
    onBatchEnd: () => { seen.push(optimizer.lr); } }).then(() => {
    expect(seen).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    model.dispose();
    const file = path.join(os.tmpdir(), `kbfgs-decay-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify({ 'curves-synth': { sgd: { lr: 0.01, lrDecay: 2 } } }));
    const r = spawnSync(process.execPath, [cli, 'bench', '--problems', 'curves-synth', '--methods', 'sgd', '--train-size', '200',
      '--epochs', '1', '--settings', file, '--quiet'], { cwd: root, encoding: 'utf8' });
    fs.unlinkSync(file);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/lrDecay must be a number in \(0, 1\], got 2/);
  });
});

test('a settings file\'s clipNorm reaches every method\'s optimizer; a bad one is a clear error', () => {
  const { makeOptimizer, METHODS } = require('../lib/cli/methods') as typeof import('../lib/cli/methods');
  for (const method of METHODS) {
    expect(makeOptimizer(method, { lr: 0.01, damping: 0.1, clipNorm: 2 }).toJSON().clipNorm).toBe(2);
    expect(makeOptimizer(method, { lr: 0.01, damping: 0.1 }).toJSON().clipNorm).toBeUndefined();
  }
  const file = path.join(os.tmpdir(), `kbfgs-clip-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify({ 'curves-synth': { adam: { lr: 0.001, clipNorm: -1 } } }));
  const r = spawnSync(process.execPath, [cli, 'bench', '--problems', 'curves-synth', '--methods', 'adam', '--train-size', '200',
    '--epochs', '1', '--settings', file, '--quiet'], { cwd: root, encoding: 'utf8' });
  fs.unlinkSync(file);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/clipNorm must be > 0, got -1/);
});

test('tune --lr and --damping replace those axes of the grid and keep the others', () => {
  const { grid } = require('../lib/cli/methods') as typeof import('../lib/cli/methods');
  expect(grid('kbfgs', true, { damping: [0.01, 0.03] })).toEqual(
    [0.1, 0.3, 1].flatMap((lr) => [0.01, 0.03].map((damping) => ({ lr, damping }))));
  expect(grid('adam', true, { damping: [0.01], lr: [0.002] })).toEqual([{ lr: 0.002, epsilon: 1e-4 }]);  // Adam has no λ
  expect(grid('sgd', false)).toHaveLength(10);

  const out = path.join(os.tmpdir(), `kbfgs-tune-${process.pid}.json`);
  const r = spawnSync(process.execPath, [cli, 'tune', '--problem', 'curves-synth', '--train-size', '200', '--batch-size', '100',
    '--methods', 'kbfgs', '--lr', '0.05,0.1', '--damping', '0.3', '--time-budget', '0.2', '--threads', '1', '--out', out],
  { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('kbfgs '))).toEqual([
    expect.stringMatching(/^kbfgs \{"lr":0.05,"damping":0.3\}: /), expect.stringMatching(/^kbfgs \{"lr":0.1,"damping":0.3\}: /)]);
  const tuned = JSON.parse(fs.readFileSync(out, 'utf8'))['curves-synth'].kbfgs;
  fs.unlinkSync(out);
  expect([0.05, 0.1]).toContain(tuned.lr);
  expect(tuned.damping).toBe(0.3);
});

test('output paths are checked before anything is loaded or trained; --damping 0 is accepted as in the API', () => {
  const r = spawnSync(process.execPath, [cli, 'train', '--problem', 'faces-synth', '--damping', '0', '--save', '/nonexistent-dir/model.safetensors'],
    { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/--save \/nonexistent-dir\/model\.safetensors: cannot write there \(ENOENT\)/);
  const log = spawnSync(process.execPath, [cli, 'train', '--log', os.tmpdir()], { cwd: root, encoding: 'utf8' });
  expect(log.stderr).toMatch(/--log .*: cannot write there \(it is a directory\)/);
});

test('train starts from the API defaults of each method and trains the MNIST classifier with accuracy in its log', () => {
  const out = execFileSync(process.execPath, [cli, 'train', '--problem', 'mnist-classifier', '--train-size', '2000', '--test-size', '500',
    '--optimizer', 'kbfgs', '--epochs', '2', '--batch-size', '100', '--threads', '1', '--quiet'], { cwd: root, encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines[0].settings).toEqual({ lr: 0.3, damping: 0.3 });  // new KBFGS()
  expect(lines.map((l) => l.epoch)).toEqual([0, 1]);
  for (const line of lines) for (const key of ['trainAccuracy', 'testAccuracy']) expect(line[key]).toBeGreaterThan(0.3);
  expect(lines[1].testAccuracy).toBeGreaterThan(0.5);  // 40 steps on 2,000 images
});

test('train runs the convolutional classifier on Fashion-MNIST with K-BFGS', () => {
  const out = execFileSync(process.execPath, [cli, 'train', '--problem', 'fashion-mnist-cnn', '--train-size', '1280', '--test-size', '256',
    '--optimizer', 'kbfgs', '--lr', '0.1', '--epochs', '2', '--batch-size', '64', '--threads', '2', '--quiet'], { cwd: root, encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((l) => l.problem)).toEqual(['fashion-mnist-cnn', 'fashion-mnist-cnn']);
  expect(lines[1].trainLoss).toBeLessThan(lines[0].trainLoss);
  expect(lines[1].testAccuracy).toBeGreaterThan(0.4);  // 40 steps on 1,280 images at untuned settings; chance is 0.1
});

test("bench runs K-BFGS on the CNN problems with the curvature at every 10th step and a 20-batch warm start", async () => {
  const { settingsFor } = require('../lib/cli/methods') as typeof import('../lib/cli/methods');
  const { loadProblem } = require('../lib/cli/problems') as typeof import('../lib/cli/problems');
  expect(settingsFor('fashion-mnist-cnn', 'kbfgs').curvatureEvery).toBe(10);
  expect(settingsFor('mnist-cnn', 'kbfgs-l').curvatureEvery).toBe(10);
  expect(settingsFor('fashion-mnist-cnn', 'kfac').curvatureEvery).toBeUndefined();  // KFAC at r = 10 was slower
  expect(settingsFor('mnist', 'kbfgs').curvatureEvery).toBeUndefined();  // the paper's method elsewhere
  expect((await loadProblem('fashion-mnist-cnn', { trainSize: 128, testSize: 64 })).warmStartBatches).toBe(20);
  expect((await loadProblem('mnist', { trainSize: 128, testSize: 64 })).warmStartBatches).toBeUndefined();  // a pass

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-cnn-bench-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'bench', '--problems', 'fashion-mnist-cnn', '--methods', 'kbfgs', '--train-size', '1280',
      '--test-size', '64', '--batch-size', '64', '--max-steps', '20', '--steps-per-epoch', '20', '--threads', '2', '--out', dir, '--quiet'],
    { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const line = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'fashion-mnist-cnn-kbfgs.jsonl'), 'utf8').trim().split('\n')[0]);
    expect(line.settings.curvatureEvery).toBe(10);
    expect(line.diagnostics.curvatureUpdates).toBe(2 * 4);  // steps 0 and 10 of 20, four layers
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every command has --help', () => {
  for (const command of ['train', 'bench', 'tune']) {
    const out = execFileSync(process.execPath, [cli, command, '--help'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`Usage: kbfgs-native ${command}`));
  }
});

test('train --save then --resume continues the run exactly', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-cli-'));
  const common = ['train', '--train-size', '300', '--test-size', '50', '--optimizer', 'kbfgs', '--lr', '0.05', '--batch-size', '100', '--threads', '1', '--quiet'];
  const run = (args: string[]) => execFileSync(process.execPath, [cli, ...common, ...args], { cwd: root, encoding: 'utf8' })
    .trim().split('\n').map((l) => JSON.parse(l));
  const whole = run(['--epochs', '4']);
  const ckpt = path.join(tmp, 'run.safetensors');
  run(['--epochs', '2', '--save', ckpt]);
  const rest = run(['--epochs', '2', '--resume', ckpt]);
  fs.rmSync(tmp, { recursive: true });
  expect(rest.map((r) => r.epoch)).toEqual([2, 3]);
  expect(rest.map((r) => r.trainLoss)).toEqual(whole.slice(2).map((r) => r.trainLoss));
});

test('report targets are rounded up, so every method reaches the target made from its own final loss', () => {
  const { targetLosses, markdownTable } = require('../lib/cli/report') as typeof import('../lib/cli/report');
  const finals = [98.3749, 74.1412, 55.959];
  // worst, median, best × 1.01 (56.51859), each rounded up at the 4th digit (toPrecision gave 98.37, 74.14)
  expect(targetLosses(finals)).toEqual([98.38, 74.15, 56.52]);
  const records = finals.map((loss, i) => ({ epoch: 0, optimizer: `m${i}`, trainLoss: loss, testLoss: loss, seconds: 1 + i, settings: {} }));
  const table = markdownTable('p', records as never);
  // the worst method (m0) reaches the first target, at its own time
  expect(table.split('\n').find((l) => l.startsWith('| m0'))).toMatch(/\| 1\.000 \|/);
});
