// The command line's text problem: `train --problem text` on a tiny GPT writes bits per character beside the
// loss and saves a checkpoint that `generate` samples from, the same text for the same seed; AdamW is a method.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-cli-text-'));
const text = path.join(dir, 'cat.txt');
fs.writeFileSync(text, 'the cat sat on the mat. '.repeat(100));
const tiny = ['--problem', 'text', '--file', text, '--context', '8', '--width', '16', '--heads', '2', '--blocks', '1',
  '--batch-size', '16', '--train-size', '64', '--test-size', '32', '--threads', '1', '--quiet'];
afterAll(() => fs.rmSync(dir, { recursive: true }));

test.each(['adamw', 'kfac', 'kbfgs'])('train --problem text --optimizer %s: the loss falls, test loss also in bits per character', (method) => {
  const out = execFileSync(process.execPath, [cli, 'train', ...tiny, '--optimizer', method, '--epochs', '2',
    '--save', path.join(dir, `${method}.ckpt`)], { cwd: root, encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    expect(line).toMatchObject({ problem: 'text', optimizer: method, steps: 4 * (line.epoch + 1) });
    expect(line.testBitsPerCharacter).toBeCloseTo(line.testLoss / Math.LN2, 10);  // ASCII: one token per character
  }
  expect(lines[1].testLoss).toBeLessThan(lines[0].testLoss);
  if (method === 'adamw') expect(lines[0].settings).toEqual({ lr: 1e-3, epsilon: 1e-8, weightDecay: 0.01 });  // train: the API's defaults
});

test('train --steps-per-epoch and --max-steps: epochs of that many steps, the last cut short and marked', () => {
  const out = execFileSync(process.execPath, [cli, 'train', ...tiny, '--optimizer', 'adamw', '--steps-per-epoch', '3', '--max-steps', '7'],
    { cwd: root, encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((l) => [l.epoch, l.steps, l.partial, l.stoppedBy])).toEqual([[0, 3, undefined, undefined], [1, 6, undefined, undefined], [2, 7, true, 'maxSteps']]);
});

test('tune --problem text with a step budget ranks the settings by their validation loss', () => {
  const out = path.join(dir, 'tuned.json');
  const r = spawnSync(process.execPath, [cli, 'tune', '--problem', 'text', '--file', text, '--context', '8', '--width', '16', '--heads', '2',
    '--blocks', '1', '--batch-size', '16', '--train-size', '64', '--threads', '1', '--methods', 'adamw', '--lr', '0.0001,0.01',
    '--max-steps', '6', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const scores = r.stderr.trim().split('\n').filter((l) => l.startsWith('adamw ')).map((l) => l.match(/^adamw (\{.*\}): (\d+\.\d+) \(validation loss after 6 steps, /))
    .map((m) => { expect(m).not.toBeNull(); return { settings: JSON.parse(m![1]), loss: Number(m![2]) }; });
  expect(scores).toHaveLength(2);
  const best = scores[0].loss < scores[1].loss ? scores[0] : scores[1];
  expect(scores[0].loss).not.toBe(scores[1].loss);
  expect(JSON.parse(fs.readFileSync(out, 'utf8')).text.adamw).toEqual(best.settings);
  expect(best.settings.clipNorm).toBe(1);  // the problem's clipping kept in every tried setting
  // the same run by `train`: the score is its validation loss, not its training loss
  const run = execFileSync(process.execPath, [cli, 'train', ...tiny.filter((a, i) => a !== '--test-size' && tiny[i - 1] !== '--test-size'),
    '--optimizer', 'adamw', '--lr', String(best.settings.lr), '--epsilon', String(best.settings.epsilon), '--clip-norm', '1', '--max-steps', '6'], { cwd: root, encoding: 'utf8' });
  const last = JSON.parse(run.trim().split('\n').at(-1)!);
  expect(last.testLoss.toFixed(4)).toBe(best.loss.toFixed(4));
  expect(last.trainLoss.toFixed(4)).not.toBe(best.loss.toFixed(4));
});

test('train --optimizer kfac --damping-split trace: the split in the settings it logs; another split refused', () => {
  const out = execFileSync(process.execPath, [cli, 'train', ...tiny, '--optimizer', 'kfac', '--lr', '0.3', '--damping', '0.01',
    '--damping-split', 'trace', '--max-steps', '2'], { cwd: root, encoding: 'utf8' });
  const line = JSON.parse(out.trim().split('\n').at(-1)!);
  expect(line.settings).toEqual({ lr: 0.3, damping: 0.01, dampingSplit: 'trace' });
  const bad = spawnSync(process.execPath, [cli, 'train', ...tiny, '--optimizer', 'kfac', '--damping-split', 'half'], { cwd: root, encoding: 'utf8' });
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/--damping-split.*half.*even, trace/s);
});

// The text problem's KFAC splits λ by the factors' traces (algorithm.md §5.2); tune varies α and λ only.
test('tune --problem text keeps KFAC\'s damping split and clipping in the settings it tries and writes', () => {
  const out = path.join(dir, 'tuned-kfac.json');
  const r = spawnSync(process.execPath, [cli, 'tune', '--problem', 'text', '--file', text, '--context', '8', '--width', '16', '--heads', '2',
    '--blocks', '1', '--batch-size', '16', '--train-size', '64', '--threads', '1', '--methods', 'kfac', '--lr', '0.3', '--damping', '0.01',
    '--max-steps', '3', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/^kfac \{"lr":0\.3,"damping":0\.01,"clipNorm":1,"dampingSplit":"trace"\}: /m);
  expect(JSON.parse(fs.readFileSync(out, 'utf8')).text.kfac).toEqual({ lr: 0.3, damping: 0.01, clipNorm: 1, dampingSplit: 'trace' });
});

test('generate prints the prompt and its continuation from a checkpoint, the same for the same seed', () => {
  const run = (seed: string) => execFileSync(process.execPath, [cli, 'generate', '--checkpoint', path.join(dir, 'adamw.ckpt'),
    '--prompt', 'the cat', '--tokens', '12', '--seed', seed], { cwd: root }).toString('latin1');
  const a = run('3');
  expect(a.startsWith('the cat')).toBe(true);
  expect(run('3')).toBe(a);
  expect(run('4')).not.toBe(a);
});

test.each([
  [['train', ...tiny, '--heads', '3'], /heads/],
  [['train', '--problem', 'text', '--file', path.join(dir, 'missing.txt')], /missing\.txt/],
  [['generate', '--checkpoint', path.join(dir, 'adamw.ckpt'), '--prompt', ''], /prompt is empty/],
  [['generate', '--prompt', 'a'], /--checkpoint/],
])('%j fails with a clear message', (args, message) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(message);
});
