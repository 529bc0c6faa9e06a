// The built package works for both CommonJS and ESM consumers (run after `npm run build`).
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');
const script = (code: string, esm: boolean) =>
  execFileSync(process.execPath, [...(esm ? ['--input-type=module'] : []), '-e', code], { cwd: root, encoding: 'utf8' });

test('require() of dist gives the typed API', () => {
  const out = script(`
    const { Autoencoder, Adam, KbfgsError } = require('./dist');
    const m = Autoencoder.curves({ seed: 1 });
    console.log(m.paramCount, typeof Adam, typeof KbfgsError);`, false);
  expect(out.trim()).toBe('842340 function function');
});

test('import of dist/index.mjs gives the same API and trains', () => {
  const out = script(`
    import { Sequential, SGD } from './dist/index.mjs';
    const m = new Sequential({ inputDim: 2, layers: [{ units: 1 }], loss: 'halfSquaredError' });
    const x = { data: new Float32Array([0, 1, 1, 0, 1, 1, 0, 0]), rows: 4, cols: 2 };
    const y = { data: new Float32Array([1, 1, 2, 0]), rows: 4, cols: 1 };
    const h = await m.fit({ x, y }, { optimizer: new SGD({ lr: 0.1 }), epochs: 200, batchSize: 4 });
    console.log(h.history.loss[199] < 1e-3 * h.history.loss[0]);`, true);
  expect(out.trim()).toBe('true');
});

test('the raw native module is not in the public entry point, only under kbfgs-native/internal', () => {
  const lib = require('../dist');
  expect(Object.keys(lib).filter((name) => /native|addon|backend/i.test(name))).toEqual([]);
  const pkg = require('../package.json');
  expect(pkg.exports['./internal']).toEqual({ types: './dist/internal.d.ts', default: './dist/internal.js' });
  const { native } = require('../dist/internal');
  expect(typeof native.backend.gemm).toBe('function');
});

test('the declaration files describe the public API', () => {
  const dts = require('fs').readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8') as string;
  for (const name of ['Autoencoder', 'Sequential', 'SGD', 'Adam', 'RMSprop', 'FitOptions', 'History', 'AbortError'])
    expect(dts).toContain(name);
});

// A consumer project holding only the packed tarball (unpacked as npm would, no install scripts) and
// TypeScript, with no @types/node: every public export must compile under strict, in CommonJS and in ESM.
describe('typings compile in a consumer project', () => {
  const os = require('os') as typeof import('os');
  const fs = require('fs') as typeof import('fs');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-consumer-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

  const runtime = Object.keys(require('../dist'));
  const dts = fs.readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8');
  const types = [...dts.matchAll(/export type \{([^}]*)\}/g)].flatMap((m) => m[1].split(',')).map((t) => t.trim())
    .filter(Boolean).map((t) => t.split(/\s+as\s+/).pop()!);
  const body = (from: string) => `
import * as k from '${from}';
import { Sequential, Adam, KBFGS, EarlyStopping, datasets, type History, type EpochLogs, type ErrorCode } from '${from}';
${runtime.map((name) => `void k.${name};`).join('\n')}
${types.map((name, i) => `export type T${i} = k.${name};`).join('\n')}
export async function train(): Promise<number> {
  const model = new Sequential({ inputDim: 2, layers: [{ units: 3, activation: 'relu' }, { units: 1 }], loss: 'halfSquaredError' });
  const x = { data: new Float32Array(8), rows: 4, cols: 2 }, y = { data: new Float32Array(4), rows: 4, cols: 1 };
  const optimizer = new KBFGS({ lr: 0.1, safeguard: true });
  const kind: 'kbfgs' = optimizer.kind;
  optimizer.damping = 0.5;
  const history: History = await model.fit({ x, y }, { optimizer, epochs: 2, callbacks: [new EarlyStopping({ monitor: 'loss' })],
    onEpochEnd: (_: number, logs: EpochLogs) => { model.stopTraining = logs.diagnostics.rejectedSteps === 3; } });
  const fashion = await datasets.fashionMnist({ labels: true });
  try { await model.fit(x, { optimizer: new Adam() }); } catch (e) { if (e instanceof k.KbfgsError) { const code: ErrorCode = e.code; void code; } }
  const auto: k.Autoencoder = k.Autoencoder.load('x.safetensors');
  return history.history.loss[0] + fashion.classes + auto.paramCount + kind.length;
}
`;

  beforeAll(() => {
    const tarball = execFileSync('npm', ['pack', '--pack-destination', tmp, '--silent', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    const pkg = path.join(tmp, 'node_modules', 'kbfgs-native');
    fs.mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['xzf', path.join(tmp, tarball), '-C', pkg, '--strip-components=1']);
  }, 120_000);

  test.each([
    ['CommonJS', { module: 'node16', moduleResolution: 'node16' }, { type: 'commonjs' }, 'consumer.ts'],
    ['ESM', { module: 'nodenext', moduleResolution: 'nodenext' }, { type: 'module' }, 'consumer.mts'],
  ])('%s, strict', (kind, compilerOptions, packageFields, file) => {
    const project = path.join(tmp, kind);
    fs.mkdirSync(project, { recursive: true });
    fs.symlinkSync(path.join(tmp, 'node_modules'), path.join(project, 'node_modules'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `consumer-${kind}`, private: true, ...packageFields }));
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', skipLibCheck: false, types: [], ...compilerOptions }, files: [file],
    }));
    fs.writeFileSync(path.join(project, file), body('kbfgs-native'));
    const r = require('child_process').spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});
