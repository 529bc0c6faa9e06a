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
    expect(line).toMatchObject({ epoch: i + 1, optimizer: 'kbfgs', problem: 'curves-synth', settings: { lr: 0.1, damping: 0.3 } });
    for (const key of ['trainLoss', 'testLoss', 'seconds']) expect(Number.isFinite(line[key])).toBe(true);
    expect(line.diagnostics.curvatureUpdates).toBe(4 * 12);  // 4 steps x 12 layers of the CURVES autoencoder
  });
  expect(lines[3].trainLoss).toBeLessThan(0.9 * lines[0].trainLoss);
  expect(lines[3].seconds).toBeGreaterThan(lines[0].seconds);
});

test('without --log the JSON lines go to stdout', () => {
  const out = execFileSync(process.execPath, [cli, 'train', '--train-size', '200', '--test-size', '50', '--optimizer', 'sgd',
    '--epochs', '2', '--batch-size', '100', '--quiet'], { cwd: root, encoding: 'utf8' });
  expect(out.trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
});

test.each([
  [['train', '--optimizer', 'lbfgs'], /Allowed choices are kbfgs, kbfgs-l, kfac, adam, rmsprop, sgd/],
  [['train', '--lr', '-1'], /--lr must be a positive number/],
  [['train', '--problem', 'curves'], /needs --file/],
  [['bench', '--methods', 'adam,foo'], /unknown method 'foo'/],
])('%j fails with a clear message', (args, message) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(message);
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
  expect(rest.map((r) => r.epoch)).toEqual([3, 4]);
  expect(rest.map((r) => r.trainLoss)).toEqual(whole.slice(2).map((r) => r.trainLoss));
});
