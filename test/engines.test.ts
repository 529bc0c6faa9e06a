// The two engines side by side, each in its own process (a process runs one engine): a checkpoint written by
// one loads in the other and training continues as it would have in the writer; and what the WebAssembly
// engine refuses (sizes past wasm32's 4 GiB, CUDA, data-parallel training) it refuses with the typed errors.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-engines-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Engine = 'native' | 'wasm';

/** Runs a script against the built package with the engine forced; returns its last line of output as JSON. */
function run(engine: Engine, script: string): any {
  const r = spawnSync(process.execPath, ['-e', `const lib = require('./dist');\n(async () => {\n${script}\n})()` +
    '.catch((e) => { console.error(e); process.exit(1); });'],
  { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, KBFGS_ENGINE: engine } });
  if (r.status !== 0) throw new Error(`${engine} child failed (${r.status} ${r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const SETUP = `
const rows = 240, d = 12;
const x = new Float32Array(rows * d);
for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(0.37 * i + Math.cos(0.11 * i));
const data = { x: { data: x, rows, cols: d }, y: { data: x, rows, cols: d } };
const opts = (optimizer) => ({ optimizer, epochs: 2, batchSize: 60, shuffle: true, seed: 5 });
const flat = (model) => model.getWeights().flatMap((w) => [...w.weight, ...w.bias]);
`;

const write = (file: string, optimizer: string, saveOptimizer = true) => `${SETUP}
const model = new lib.Sequential({ inputDim: d, layers: [{ units: 8, activation: 'tanh' }, { units: d }],
  loss: 'sigmoidCrossEntropy', seed: 3 });
const first = await model.fit(data, opts(${optimizer}));
model.save(${JSON.stringify(file)}, { optimizer: ${saveOptimizer} });
console.log(JSON.stringify({ engine: lib.devices().engine.name, loss: first.history.loss }));`;

const resume = (file: string) => `${SETUP}
const model = lib.Sequential.load(${JSON.stringify(file)});
const rest = await model.fit(data, opts(model.optimizer));
console.log(JSON.stringify({ engine: lib.devices().engine.name, loss: rest.history.loss, weights: flat(model) }));`;

describe.each([
  ['K-BFGS', 'new lib.KBFGS({ lr: 0.1, damping: 0.3 })'],
  ['KFAC', 'new lib.KFAC({ lr: 0.3, damping: 3, inverseEvery: 2, seed: 7 })'],
])('%s checkpoints across engines', (name, optimizer) => {
  test.each([['native', 'wasm'], ['wasm', 'native']] as [Engine, Engine][])(
    'written by the %s engine, it continues on the %s engine as on the writer', (writer, reader) => {
      const file = path.join(dir, `${name}-${writer}.safetensors`);
      const written = run(writer, write(file, optimizer));
      expect(written.engine).toBe(writer);
      const there = run(reader, resume(file));
      const here = run(writer, resume(file));
      expect([there.engine, here.engine]).toEqual([reader, writer]);
      // It continued: the loss keeps falling from where the first run left it.
      expect(there.loss[1]).toBeLessThan(written.loss[1]);
      // As on the writer, up to float rounding (the engines sum in different orders): a resumed run with the
      // optimizer state dropped would differ far more than this.
      there.loss.forEach((l: number, i: number) => expect(Math.abs(l - here.loss[i])).toBeLessThan(1e-4 * here.loss[i]));
      const scale = Math.max(...here.weights.map(Math.abs));
      const worst = Math.max(...here.weights.map((w: number, i: number) => Math.abs(w - there.weights[i])));
      expect(worst).toBeLessThan(1e-4 * scale);
    });
});

test('the continuation check can fail: without the optimizer state the resumed run differs', () => {
  const kbfgs = 'new lib.KBFGS({ lr: 0.1, damping: 0.3 })';
  const full = path.join(dir, 'with-state.safetensors'), bare = path.join(dir, 'no-state.safetensors');
  run('native', write(full, kbfgs));
  run('native', write(bare, kbfgs, false));
  const withState = run('wasm', resume(full));
  const fresh = run('wasm', `${SETUP}
const model = lib.Sequential.load(${JSON.stringify(bare)});
const rest = await model.fit(data, opts(${kbfgs}));
console.log(JSON.stringify({ loss: rest.history.loss }));`);
  expect(Math.abs(fresh.loss[1] - withState.loss[1])).toBeGreaterThan(1e-4 * withState.loss[1]);
});

describe('the WebAssembly engine', () => {
  test('sizes past wasm32\'s 4 GiB fail before allocating, with OutOfMemoryError naming the owner', () => {
    const r = run('wasm', `
const width = 1 << 15, rows = 4;
const model = new lib.Sequential({ inputDim: width, layers: [{ units: 3 }], loss: 'halfSquaredError' });
const data = { x: { data: new Float32Array(rows * width), rows, cols: width }, y: { data: new Float32Array(rows * 3), rows, cols: 3 } };
const state = await model.fit(data, { optimizer: new lib.KBFGS(), batchSize: 2 }).catch((e) => e);
const wide = new lib.Sequential({ inputDim: 1, layers: [{ units: 30000, activation: 'relu' }, { units: 1 }], loss: 'halfSquaredError' });
const n = 100000;
let workspace;
try { wide.computeGradients({ x: { data: new Float32Array(n), rows: n, cols: 1 }, y: { data: new Float32Array(n), rows: n, cols: 1 } }); }
catch (e) { workspace = e; }
const loss = await model.evaluate(data);
console.log(JSON.stringify({ engine: lib.devices().engine.name, names: [state.name, workspace.name],
  messages: [state.message, workspace.message], loss }));`);
    expect(r.engine).toBe('wasm');
    expect(r.names).toEqual(['OutOfMemoryError', 'OutOfMemoryError']);
    expect(r.messages[0]).toMatch(/^K-BFGS's state needs 8\.6 GB \(8592556232 bytes\), of which layer 0 \(2 matrices of 32769 x 32769.*available$/);
    expect(r.messages[1]).toMatch(/^The workspace for batches of 100000 rows needs 36\.0 GB \(36003160004 bytes\)/);
    expect(r.loss).toBeGreaterThanOrEqual(0);  // the model is still usable
  });

  test('CUDA and data-parallel training are native only, and say so', () => {
    const r = run('wasm', `
let device, distributed;
try { new lib.Sequential({ inputDim: 2, layers: [{ units: 1 }], device: 'cuda' }); } catch (e) { device = e; }
try { lib.initDistributed(); } catch (e) { distributed = e; }
const auto = new lib.Sequential({ inputDim: 2, layers: [{ units: 1 }], loss: 'halfSquaredError', device: 'auto' });
const x = { data: new Float32Array(8), rows: 4, cols: 2 }, y = { data: new Float32Array(4), rows: 4, cols: 1 };
const fitted = await auto.fit({ x, y }, { optimizer: new lib.SGD({ lr: 0.1 }), distributed: true }).catch((e) => e);
const { cuda } = lib.devices();
console.log(JSON.stringify({ cuda: [cuda.available, cuda.reason], errors: [device.name, device.message, distributed.name, distributed.message],
  auto: [auto.device, auto.deviceFallbackReason], fit: [fitted.name, fitted.message], steps: auto.steps }));`);
    expect(r.cuda).toEqual([false, 'the WebAssembly engine has no CUDA backend (CUDA needs the native engine)']);
    expect(r.errors[0]).toBe('DeviceError');
    expect(r.errors[1]).toMatch(/WebAssembly engine has no CUDA backend/);
    expect(r.errors[2]).toBe('DistributedError');
    expect(r.errors[3]).toMatch(/needs the native engine/);
    // 'auto' falls back to the CPU and says why; fit({ distributed }) refuses before any step.
    expect(r.auto).toEqual(['cpu', expect.stringMatching(/WebAssembly engine has no CUDA backend/)]);
    expect(r.fit[0]).toBe('DistributedError');
    expect(r.fit[1]).toMatch(/needs the native engine/);
    expect(r.steps).toBe(0);
  });
});
