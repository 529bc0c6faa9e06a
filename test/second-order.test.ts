// K-BFGS, K-BFGS(L) and KFAC through the public API: they train, report diagnostics, validate their
// settings, and a factor that is not positive definite is a typed error naming the layer and the factor.
import * as path from 'path';
import { Autoencoder, InvalidArgumentError, KBFGS, KBFGSL, KFAC, NotPositiveDefiniteError, optimizerFromJSON, readIdxImages, type Optimizer } from '../lib';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const small = () => new Autoencoder({ encoder: [784, 64, 16], loss: 'sigmoidCrossEntropy', seed: 1 });

test.each<[string, () => Optimizer, string[]]>([
  ['K-BFGS', () => new KBFGS({ lr: 0.1, damping: 0.3 }), ['hgSkipped', 'haSkipped', 'powellDamping', 'lmDamping', 'secondPassSeconds', 'curvatureSeconds', 'directionSeconds']],
  ['K-BFGS(L)', () => new KBFGSL({ lr: 0.1, damping: 0.3, memory: 100 }), ['hgSkipped', 'powellDamping', 'lmDamping', 'secondPassSeconds', 'replayedSteps']],
  ['KFAC', () => new KFAC({ lr: 1, damping: 3 }), ['inversions', 'sampledPassSeconds', 'inverseSeconds', 'directionSeconds', 'replayedSteps']],
])('%s lowers the loss of a small autoencoder and logs its diagnostics', async (_name, make, keys) => {
  const model = small();
  const before = await model.evaluate(images);
  const diagnostics: Array<Record<string, number>> = [];
  const history = await model.fit(images, { optimizer: make(), epochs: 8, batchSize: 25, onEpochEnd: (_e, logs) => diagnostics.push(logs.diagnostics) });
  expect(history.history.loss[7]).toBeLessThan(0.5 * before);
  for (const key of ['forwardSeconds', 'backwardSeconds', ...keys]) expect(diagnostics[7][key]).toBeGreaterThanOrEqual(0);
  if (diagnostics[0].curvatureUpdates !== undefined) expect(diagnostics[0].curvatureUpdates).toBe(4 * 4);  // 4 steps x 4 layers
  if (diagnostics[0].inversions !== undefined) expect(diagnostics[0].inversions).toBe(4);                 // k <= 20: every step
  if (diagnostics[7].replayedSteps !== undefined) expect(diagnostics[7].replayedSteps).toBe(0);          // the CPU records nothing
  model.dispose();
});

test('damping 0 with a singular A is a NotPositiveDefiniteError naming the layer and the factor', async () => {
  // MNIST's border pixels are always 0, so A = E[ā āᵀ] of the first layer is singular.
  for (const optimizer of [new KBFGS({ damping: 0 }), new KFAC({ damping: 0 })]) {
    const model = small();
    const error = await model.fit(images, { optimizer, epochs: 1, batchSize: 50 }).catch((e) => e);
    expect(error).toBeInstanceOf(NotPositiveDefiniteError);
    expect(error.message).toMatch(/layer 0: factor A \+ sqrt\(damping\) I is not positive definite/);
    model.dispose();
  }
});

test('second-order settings are validated', () => {
  expect(() => new KBFGS({ lr: 0 })).toThrow(InvalidArgumentError);
  expect(() => new KBFGS({ damping: -1 })).toThrow(/damping/);
  expect(() => new KBFGSL({ memory: 0 })).toThrow(/memory/);
  expect(() => new KBFGSL({ memory: 2.5 })).toThrow(/integer/);
  expect(() => new KFAC({ inverseEvery: 0 })).toThrow(/inverseEvery/);
  expect(() => new KBFGS({ memory: 5 } as never)).toThrow(/unknown option 'memory'/);
  expect(() => new KFAC({ dampening: 1 } as never)).toThrow(/did you mean 'damping'/);
  const k = new KBFGSL();
  expect(k.settings).toMatchObject({ lr: 0.3, damping: 0.3, momentum: 0.9, weightDecay: 1e-5, memory: 100 });
  expect(new KFAC().settings).toMatchObject({ lr: 1, damping: 3, inverseEvery: 20 });
  expect(new KFAC().dampingSplit).toBe('even');
  expect(new KFAC({ dampingSplit: 'trace' }).dampingSplit).toBe('trace');
  expect(optimizerFromJSON(new KFAC({ dampingSplit: 'trace' }).toJSON()).toJSON()).toEqual(new KFAC({ dampingSplit: 'trace' }).toJSON());
  // a checkpoint from before the option: the even split
  const { dampingSplit: _omitted, ...older } = new KFAC().toJSON().settings;
  expect((optimizerFromJSON({ kind: 'kfac', protocol: 'paper', settings: older }) as KFAC).dampingSplit).toBe('even');
});
