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

test('the declaration files describe the public API', () => {
  const dts = require('fs').readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8') as string;
  for (const name of ['Autoencoder', 'Sequential', 'SGD', 'Adam', 'RMSprop', 'FitOptions', 'History', 'AbortError'])
    expect(dts).toContain(name);
});
