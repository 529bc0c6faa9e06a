/**
 * Input validation at the API boundary: every public call, given a wrong shape, type, range or option name,
 * throws (or rejects with) a typed KbfgsError that names the problem, and leaves the model usable.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Adam, Autoencoder, CheckpointError, IdxFormatError, InvalidArgumentError, InvalidDataError, KbfgsError, KBFGS, KBFGSL, KFAC,
  MatFormatError, RMSprop, SGD, Sequential, ShapeError, cudaLibrarySearchPath, datasets, matrix, mulberry32,
  optimizerFromJSON, parseIdx, parseMat, readIdx, readIdxImages, readMat,
} from '../lib';
import type { NativeLayer } from '../lib/binding';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const tiny = () => new Sequential({ inputDim: 4, layers: [{ units: 3, activation: 'tanh' }, { units: 2 }], loss: 'halfSquaredError' });
const x4 = matrix(new Float32Array(8).fill(0.5), 2, 4);
const y2 = matrix(new Float32Array(4).fill(0.1), 2, 2);
const missing = path.join(os.tmpdir(), 'kbfgs-no-such-file');

type Case = [string, () => unknown, RegExp];

// Synchronous calls: [what, call, message]; each must throw a KbfgsError whose message matches.
const syncCases: Case[] = [
  ['Sequential: layers missing', () => new Sequential({ inputDim: 4 } as never), /layers/],
  ['Sequential: width not an integer', () => new Sequential({ inputDim: 4, layers: [{ units: 2.5 }], loss: 'halfSquaredError' }), /units/],
  ['Sequential: unknown loss', () => new Sequential({ inputDim: 4, layers: [{ units: 2 }], loss: 'mse' as never }), /loss/],
  ['Sequential: unknown option', () => new Sequential({ inputDim: 4, layers: [{ units: 2 }], loss: 'halfSquaredError', sed: 1 } as never), /did you mean 'seed'/],
  ['Sequential: negative seed', () => new Sequential({ inputDim: 4, layers: [{ units: 2 }], loss: 'halfSquaredError', seed: -1 }), /seed/],
  ['Autoencoder: one width', () => new Autoencoder({ encoder: [784], loss: 'halfSquaredError' }), /encoder/],
  ['Autoencoder preset: unknown option', () => Autoencoder.mnist({ seeds: 1 } as never), /unknown option/],
  ['setWeights: not an array', () => tiny().setWeights({} as never), /./],
  ['setWeights: wrong bias length', () => {
    const m = tiny();
    const w = m.getWeights();
    w[1].bias = new Float32Array(3);
    m.setWeights(w);
  }, /bias/],
  ['setWeights: NaN', () => {
    const m = tiny();
    const w = m.getWeights();
    w[0].weight[1] = NaN;
    m.setWeights(w);
  }, /NaN or Infinity/],
  ['computeGradients: wrong width', () => tiny().computeGradients({ x: images, y: y2 }), /inputs|columns|784/],
  ['computeGradients: targets of the wrong width', () => tiny().computeGradients({ x: x4, y: x4 }), /targets|2/],
  ['save: unknown option', () => tiny().save(path.join(os.tmpdir(), 'kbfgs-v.safetensors'), { optimiser: false } as never), /did you mean 'optimizer'/],
  ['save: unwritable path', () => tiny().save(path.join(missing, 'sub', 'model.safetensors')), /cannot write \(ENOENT\)/],
  ['load: missing file', () => Sequential.load(missing), /cannot read/],
  ['load: unknown device', () => Sequential.load(missing, { device: 'tpu' as never }), /device/],
  ['matrix: length mismatch', () => matrix(new Float32Array(5), 2, 3), /./],
  ['matrix: not a Float32Array', () => matrix([1, 2] as never, 1, 2), /Float32Array/],
  ['SGD: negative momentum', () => new SGD({ momentum: -0.1 }), /momentum/],
  ['Adam: epsilon 0', () => new Adam({ epsilon: 0 }), /epsilon/],
  ['RMSprop: alpha out of range', () => new RMSprop({ alpha: 1.5 }), /alpha/],
  ['KBFGS: unknown option', () => new KBFGS({ dampening: 1 } as never), /unknown option/],
  ['KBFGSL: memory not an integer', () => new KBFGSL({ memory: 1.5 }), /memory/],
  ['KFAC: inverseEvery 0', () => new KFAC({ inverseEvery: 0 }), /inverseEvery/],
  ['KFAC: an unknown damping split', () => new KFAC({ dampingSplit: 'half' as never }), /KFAC: dampingSplit must be one of 'even', 'trace', got 'half'/],
  ['KBFGS: curvatureEvery 0', () => new KBFGS({ curvatureEvery: 0 }), /KBFGS: curvatureEvery must be >= 1, got 0/],
  ['KFAC: curvatureEvery not an integer', () => new KFAC({ curvatureEvery: 1.5 }), /KFAC: curvatureEvery must be an integer/],
  ['KBFGSL: curvatureEvery not an integer', () => new KBFGSL({ curvatureEvery: 2.5 }), /KBFGSL: curvatureEvery must be an integer/],
  ['optimizerFromJSON: unknown kind', () => optimizerFromJSON({ kind: 'lbfgs', settings: {} }), /lbfgs/],
  ['optimizerFromJSON: bad setting', () => optimizerFromJSON({ kind: 'adam', settings: { lr: -1 } }), /lr/],
  ['parseIdx: not bytes', () => parseIdx('abc' as never), /./],
  ['parseIdx: truncated', () => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 9, 1])), /./],
  ['readIdx: missing file', () => readIdx(missing), /cannot read/],
  ['readIdxImages: missing file', () => readIdxImages(missing), /cannot read/],
  ['parseMat: not a MAT file', () => parseMat(new Uint8Array(200)), /./],
  ['readMat: missing file', () => readMat(missing), /cannot read/],
  ['datasets.curvesSynth: unknown option', () => datasets.curvesSynth({ trainRows: 10 } as never), /unknown option/],
  ['datasets.facesSynth: unknown option', () => datasets.facesSynth({ size: 10 } as never), /unknown option/],
  ['datasets.curves: missing file', () => datasets.curves({ file: missing }), /cannot read/],
  ['datasets.faces: no file', () => datasets.faces({} as never), /file must be the path/],
  ['mulberry32: not an integer', () => mulberry32(1.5), /seed/],
];

test.each(syncCases)('%s', (_, call, message) => {
  let thrown: unknown;
  try {
    call();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(KbfgsError);
  expect((thrown as Error).message).toMatch(message);
});

// Asynchronous calls reject with a typed error; the model stays usable afterwards.
const asyncCases: [string, (m: Sequential) => Promise<unknown>, new (message: string) => KbfgsError, RegExp][] = [
  ['fit: data not a Matrix', (m) => m.fit({ x: [1, 2] } as never, { optimizer: new Adam() }), InvalidArgumentError, /Float32Array/],
  ['fit: wrong width', (m) => m.fit(images, { optimizer: new Adam() }), ShapeError, /4 inputs|784/],
  ['fit: batchSize above the rows', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), batchSize: 3 }), ShapeError, /batchSize/],
  ['fit: shuffle not a boolean', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), shuffle: 'yes' as never }), InvalidArgumentError, /shuffle/],
  ['fit: negative time budget', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), timeBudget: -1 }), InvalidArgumentError, /timeBudget/],
  ['fit: signal not an AbortSignal', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), signal: {} as never }), InvalidArgumentError, /signal/],
  ['fit: callback not a function', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), onEpochEnd: 3 as never }), InvalidArgumentError, /onEpochEnd/],
  ['fit: validation data of the wrong width', (m) => m.fit({ x: x4, y: y2 }, { optimizer: new Adam(), validationData: images }), ShapeError, /validationData/],
  ['evaluate: wrong width', (m) => m.evaluate({ x: images, y: y2 }), ShapeError, /./],
  ['predict: not a Matrix', (m) => m.predict(new Float32Array(4) as never), InvalidArgumentError, /Float32Array/],
  ['predict: unknown option', (m) => m.predict(x4, { logit: true } as never), InvalidArgumentError, /did you mean 'logits'/],
  ['datasets.mnist: missing directory', () => datasets.mnist({ dir: missing }), IdxFormatError, /not found/],
];

test.each(asyncCases)('%s', async (_, call, type, message) => {
  const model = tiny();
  const error = await call(model).then(() => null, (e) => e);
  expect(error).toBeInstanceOf(type);
  expect(error.message).toMatch(message);
  expect(Number.isFinite(await model.evaluate({ x: x4, y: y2 }))).toBe(true);  // still usable
  model.dispose();
});

test('computeGradients on NaN or Infinity is an InvalidDataError naming the row and column, as evaluate and fit give', async () => {
  const model = tiny();
  const withValue = (m: typeof x4, at: number, value: number) => {
    const data = Float32Array.from(m.data);
    data[at] = value;
    return { data, rows: m.rows, cols: m.cols };
  };
  const badInputs = { x: withValue(x4, 6, NaN), y: y2 };  // row 1, column 2
  const call = (data: Parameters<Sequential['computeGradients']>[0]) => {
    try {
      model.computeGradients(data);
    } catch (e) {
      return e as Error;
    }
    return undefined;
  };
  const error = call(badInputs);
  expect(error).toBeInstanceOf(InvalidDataError);
  expect(error!.message).toBe('inputs contain NaN or Infinity at row 1, column 2');
  await expect(model.evaluate(badInputs)).rejects.toThrow(error!.message);  // the same words as evaluate
  const badTargets = call({ x: x4, y: withValue(y2, 1, -Infinity) });
  expect(badTargets).toBeInstanceOf(InvalidDataError);
  expect(badTargets!.message).toBe('targets contain NaN or Infinity at row 0, column 1');
  const autoencoder = new Sequential({ inputDim: 4, layers: [{ units: 4 }], loss: 'halfSquaredError' });
  expect(() => autoencoder.computeGradients(withValue(x4, 7, Infinity))).toThrow(/^inputs contain NaN or Infinity at row 1, column 3$/);
  expect(model.computeGradients({ x: x4, y: y2 }).gradients.every((g) => g.weight.every(Number.isFinite))).toBe(true);
  model.dispose();
  autoencoder.dispose();
});

test('the device search path ignores folders that do not exist', () => {
  expect(cudaLibrarySearchPath({ PATH: missing, KBFGS_CUDA_LIBRARY_PATH: missing })).not.toContain(missing);
});

test('a checkpoint written over a directory fails with a typed error and leaves nothing behind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-v-'));
  try {
    expect(() => tiny().save(dir)).toThrow(CheckpointError);
    expect(() => Sequential.load(dir)).toThrow(CheckpointError);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(`.${path.basename(dir)}.`))).toEqual([]);  // no temporary file left
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('format errors are typed by reader', () => {
  expect(() => parseIdx(new Uint8Array([1, 2, 3, 4]))).toThrow(IdxFormatError);
  expect(() => parseMat(new Uint8Array(10))).toThrow(MatFormatError);
});

// The typed native contract: TypeScript holds every default, so the native side requires every setting and
// names the one that is missing or unknown, and takes activations and losses by name.
describe('the native contract', () => {
  const { addon } = require('../lib/binding') as typeof import('../lib/binding');
  const layers: NativeLayer[] = [{ type: 'dense', in: 3, out: 2, activation: 'tanh' }, { type: 'dense', in: 2, out: 3, activation: 'linear' }];
  const config = { epochs: 1, batchSize: 2, stepsPerEpoch: 0, timeBudget: 0, maxSteps: 0, trainingLossRows: 0, warmStartBatches: 0, shuffle: false, seed: 0, batchEvents: false, awaitBatchEvents: false,
    awaitEpochEvents: false, skipNonFinite: false, threads: 1, splitCurvature: false, distributedTimeout: 0,
    distributedEngine: 'mpi' as const, librarySearchPath: [] as string[] };
  const noRules = { clipNorm: 0, warmupSteps: 0, totalSteps: 0, minFactor: 0 };
  const fit = async (settings: Record<string, number>, kind = 'kbfgs', change: Partial<typeof config> = {}, rules: Record<string, number> = noRules) => {
    const model = new addon.NativeModel({ layers, loss: 'halfSquaredError', seed: 1, device: 'cpu', tf32: false });
    const train = { x: new Float32Array(12), y: null, rows: 4 };
    try {
      await model.fit({ train, validation: null, config: { ...config, ...change } as typeof config,
        optimizer: { id: `contract-${Math.random()}`, kind, paper: true, settings, rules }, onEvent: () => {} });
    } finally {
      model.dispose();
    }
  };
  const kbfgs = { lr: 0.1, damping: 0.3, momentum: 0.9, weightDecay: 1e-5, safeguard: 1, curvatureEvery: 1 };

  test('every optimizer setting is required, and no other is accepted', async () => {
    await expect(fit(kbfgs)).resolves.toBeUndefined();
    const { damping: _, ...withoutDamping } = kbfgs;
    await expect(fit(withoutDamping)).rejects.toThrow("optimizer 'kbfgs' lacks the setting 'damping'");
    await expect(fit({ ...kbfgs, eps: 1e-8 })).rejects.toThrow("optimizer 'kbfgs' has no setting 'eps'");
    await expect(fit(kbfgs, 'kbfgs-l')).rejects.toThrow("optimizer 'kbfgs-l' lacks the setting 'memory'");
    await expect(fit({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, 'adam')).rejects.toThrow("optimizer 'adam' lacks the setting 'epsilon'");
    await expect(fit(kbfgs, 'lbfgs')).rejects.toThrow("unknown optimizer kind 'lbfgs'");
  });

  test('the step rules are required, each of them, and checked (algorithm.md §15)', async () => {
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, clipNorm: 1, warmupSteps: 2, totalSteps: 5, minFactor: 0.1 })).resolves.toBeUndefined();
    const { minFactor: _, ...withoutMin } = noRules;
    await expect(fit(kbfgs, 'kbfgs', {}, withoutMin)).rejects.toThrow("step rules: lack 'minFactor'");
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, clip: 1 })).rejects.toThrow('step rules: have a setting other than');
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, clipNorm: -1 })).rejects.toThrow('clipNorm must be a finite number >= 0');
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, warmupSteps: 5, totalSteps: 5 })).rejects.toThrow('totalSteps must be larger than warmupSteps');
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, warmupSteps: 1.5, totalSteps: 5 })).rejects.toThrow('warmupSteps must be a whole number');
    await expect(fit(kbfgs, 'kbfgs', {}, { ...noRules, totalSteps: 5, minFactor: 2 })).rejects.toThrow('minFactor must be between 0 and 1');
    const adam = { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };
    await expect(fit(adam, 'adamw')).rejects.toThrow("optimizer 'adamw' has no paper protocol");
  });

  test('intervals and memory are whole numbers of at least 1 (a zero interval would divide by zero)', async () => {
    await expect(fit({ ...kbfgs, curvatureEvery: 0 })).rejects.toThrow("optimizer 'kbfgs' setting 'curvatureEvery' must be a whole number of at least 1");
    await expect(fit({ ...kbfgs, curvatureEvery: 2.5 })).rejects.toThrow("setting 'curvatureEvery' must be a whole number");
    await expect(fit({ ...kbfgs, memory: -3 }, 'kbfgs-l')).rejects.toThrow("optimizer 'kbfgs-l' setting 'memory' must be a whole number of at least 1");
    const kfac = { lr: 0.1, damping: 0.3, momentum: 0.9, weightDecay: 1e-5, safeguard: 1, inverseEvery: 0, curvatureEvery: 1, seed: 0 };
    await expect(fit(kfac, 'kfac')).rejects.toThrow("optimizer 'kfac' setting 'inverseEvery' must be a whole number of at least 1");
    await expect(fit({ ...kfac, inverseEvery: 20, curvatureEvery: 0 }, 'kfac')).rejects.toThrow("optimizer 'kfac' setting 'curvatureEvery' must be a whole number of at least 1");
  });

  test('every fit setting is required', async () => {
    await expect(fit(kbfgs, 'kbfgs', { batchSize: undefined })).rejects.toThrow('batchSize must be a number');
    await expect(fit(kbfgs, 'kbfgs', { shuffle: undefined })).rejects.toThrow('shuffle must be a boolean');
    await expect(fit(kbfgs, 'kbfgs', { splitCurvature: undefined })).rejects.toThrow('splitCurvature must be a boolean');
    await expect(fit(kbfgs, 'kbfgs', { stepsPerEpoch: undefined })).rejects.toThrow('stepsPerEpoch must be a number');
    await expect(fit(kbfgs, 'kbfgs', { maxSteps: -1 })).rejects.toThrow('stepsPerEpoch, maxSteps, trainingLossRows and warmStartBatches must be whole numbers');
    await expect(fit(kbfgs, 'kbfgs', { stepsPerEpoch: 2.5 })).rejects.toThrow('must be whole numbers');
  });

  test('token layers: the native side checks them itself', () => {
    const make = (layers: unknown[], loss = 'softmaxCrossEntropy') =>
      () => new addon.NativeModel({ layers: layers as never, loss, seed: 1, device: 'cpu', tf32: false });
    const embedding = { type: 'embedding', vocabulary: 5, width: 4, tokens: 3, positional: true };
    const head = { type: 'dense', in: 4, out: 5, activation: 'linear', tokens: 3 };
    const norm = { type: 'layerNorm', width: 4, tokens: 3 };
    expect(make([embedding, head])).not.toThrow();
    expect(make([embedding, { type: 'dense', in: 4, out: 12, activation: 'linear', tokens: 3 }, { type: 'causalSelfAttention', width: 4, tokens: 3, heads: 3 }, head]))
      .toThrow('layer 2 (causalSelfAttention): 3 heads do not divide the width 4');
    expect(make([{ ...embedding, vocabulary: 1 }, head])).toThrow('layer 0 (embedding) has a vocabulary of 1 (2 to 1048576 tokens)');
    expect(make([norm, embedding, head])).toThrow('layer 0 (layerNorm) takes the 3 token rows per sample of a layer below it');
    expect(make([{ type: 'dense', in: 3, out: 3, activation: 'linear' }, embedding, head])).toThrow('layer 1 (embedding) must be the first layer (its inputs are token ids)');
    expect(make([{ ...embedding, tokens: 1 << 15 }, head])).toThrow('layer 0 has a sequence length of 32768 (at most 16384)');
    expect(make([embedding, { type: 'residualEnd', width: 4, tokens: 3, start: 1 }, head])).toThrow('layer 1 (residualEnd): its start 1 is not a layer below it');
    expect(make([embedding, norm, { type: 'residualEnd', width: 4, tokens: 3, start: 1 }, head]))
      .toThrow('layer 2 ends a residual block whose start, layer 1, is not a residualStart of the same width');
    expect(make([embedding, { type: 'dropout', width: 4, tokens: 3, rate: 1, seed: 0 }, head])).toThrow('layer 1 (dropout): rate must be in [0, 1), got 1.000000');
    expect(make([embedding, { ...head, tokens: 0, in: 12 }])).toThrow('layer 1 (dense) is applied to 0 tokens per sample but the layer below gives 3');
    expect(make([head])).toThrow('layer 0 (dense) over tokens needs the token rows of a layer below it (an embedding)');
    expect(make([embedding, head], 'halfSquaredError')).toThrow("a model with token outputs takes loss 'softmaxCrossEntropy' (one softmax per token)");
    expect(make([embedding, norm])).toThrow("the last layer must be dense (it gives the model's outputs)");
  });

  test('activations and losses cross by name', () => {
    expect(() => new addon.NativeModel({ layers: [{ type: 'dense', in: 3, out: 2, activation: 'swish' }], loss: 'halfSquaredError', seed: 1, device: 'cpu', tf32: false }))
      .toThrow("layer 0 has an unknown activation 'swish' (linear, relu, sigmoid, tanh, gelu)");
    expect(() => new addon.NativeModel({ layers, loss: 'hinge', seed: 1, device: 'cpu', tf32: false }))
      .toThrow("unknown loss 'hinge' (sigmoidCrossEntropy, halfSquaredError, softmaxCrossEntropy)");
    expect(() => new addon.NativeModel({ layers: [{ type: 'dense', in: 3, out: 2, activation: 1 as never }], loss: 'halfSquaredError', seed: 1, device: 'cpu', tf32: false }))
      .toThrow(/unknown activation '1'/);
  });
});

// Convolutional stacks: each mistake is an InvalidArgumentError that names the layer and the problem, before
// anything native is allocated; the native side checks the same shapes again.
describe('image layers', () => {
  const conv = (extra: object = {}) => ({ type: 'conv2d' as const, filters: 2, kernel: 3, ...extra });
  const build = (layers: unknown[], shape: unknown = [1, 6, 6], extra: object = {}) =>
    () => new Sequential({ inputShape: shape as [number, number, number], layers: layers as never, loss: 'halfSquaredError', ...extra }).dispose();
  test.each([
    ['kernel larger than the input', [conv({ kernel: 7 }), { type: 'flatten' }, { units: 1 }], /layer 0: the 7x7 kernel is larger than the 6x6 input/],
    ['kernel larger than the padded input', [conv({ kernel: [9, 3], padding: 1 }), { type: 'flatten' }, { units: 1 }], /9x3 kernel is larger than the 6x6 input padded by 1/],
    ['pool window larger than its input', [conv(), { type: 'maxPool2d', pool: 5 }, { type: 'flatten' }, { units: 1 }], /layer 1: the 5x5 pooling window is larger than its 4x4 input/],
    ['dense on an image', [conv(), { units: 1 }], /layer 1: a dense layer takes a vector; add \{ type: 'flatten' \} before it/],
    ['conv after dense', [{ type: 'flatten' }, { units: 4 }, conv(), { units: 1 }], /layer 2: conv2d can only follow the input or another conv2d layer/],
    ['pooling not after a conv', [{ type: 'maxPool2d', pool: 2 }, { type: 'flatten' }, { units: 1 }], /layer 0: maxPool2d must come right after a conv2d layer/],
    ['two poolings', [conv(), { type: 'maxPool2d', pool: 2 }, { type: 'avgPool2d', pool: 1 }, { type: 'flatten' }, { units: 1 }], /layer 2: avgPool2d must come right after a conv2d/],
    ['same padding with an even kernel', [conv({ kernel: 2, padding: 'same' }), { type: 'flatten' }, { units: 1 }], /padding 'same' needs stride 1 and an odd kernel/],
    ['padding as large as the kernel', [conv({ padding: 3 }), { type: 'flatten' }, { units: 1 }], /padding must be smaller than the kernel, got 3/],
    ['zero filters', [conv({ filters: 0 }), { type: 'flatten' }, { units: 1 }], /layer 0: filters must be >= 1, got 0/],
    ['a fractional stride', [conv({ stride: 1.5 }), { type: 'flatten' }, { units: 1 }], /layer 0: stride must be an integer, got 1.5/],
    ['an unknown layer type', [{ type: 'conv3d' }, { units: 1 }], /layer 0: type must be one of 'dense', 'conv2d'/],
    ['an unknown option', [conv({ dilation: 2 }), { type: 'flatten' }, { units: 1 }], /layer 0: unknown option 'dilation'/],
    ['the last layer not dense', [conv(), { type: 'flatten' }], /the last layer must be dense/],
    ['a stride per axis', [conv({ stride: [1, 2] }), { type: 'flatten' }, { units: 1 }], /layer 0: stride must be one number for both axes \(got \[1,2\]\)/],
  ])('%s', (_name, layers, message) => {
    expect(build(layers)).toThrow(InvalidArgumentError);
    expect(build(layers)).toThrow(message);
  });

  test('[n, n] is n for stride and padding; defaults are filled in', () => {
    const model = new Sequential({ inputShape: [1, 6, 6], loss: 'halfSquaredError',
      layers: [conv({ stride: [2, 2], padding: [1, 1] }), { type: 'maxPool2d', pool: [3, 3] }, { type: 'flatten' }, { units: 1 }] });
    expect(model.layers.slice(0, 2)).toEqual([
      { type: 'conv2d', filters: 2, kernel: [3, 3], stride: 2, padding: 1, bias: true, activation: 'linear' },
      { type: 'maxPool2d', pool: [3, 3], stride: [3, 3] },
    ]);
    expect(model.weightShapes).toEqual([{ units: 2, inputs: 9 }, { units: 1, inputs: 2 }]);
    model.dispose();
  });

  test('input shapes', () => {
    const layers = [conv(), { type: 'flatten' }, { units: 1 }];
    expect(build(layers, [1, 6])).toThrow('inputShape must be [channels, height, width]');
    expect(build(layers, [1, 0, 6])).toThrow('inputShape height must be >= 1, got 0');
    expect(build(layers, [1, 6, 6], { inputDim: 35 })).toThrow('inputDim 35 does not match inputShape [1, 6, 6] (36 values)');
    expect(() => new Sequential({ inputDim: 36, layers: layers as never, loss: 'halfSquaredError' }))
      .toThrow('conv2d needs an image input: give the model inputShape [channels, height, width]');
  });

  test('data of the wrong width is a ShapeError naming the image size', async () => {
    const model = new Sequential({ inputShape: [2, 3, 3], layers: [conv({ kernel: 2 }), { type: 'flatten' }, { units: 1 }], loss: 'halfSquaredError' });
    expect(model.inputDim).toBe(18);
    await expect(model.fit({ x: { data: new Float32Array(4 * 9), rows: 4, cols: 9 }, y: { data: new Float32Array(4), rows: 4, cols: 1 } },
      { optimizer: new KBFGS(), epochs: 1, batchSize: 2 })).rejects.toThrow('training data has 9 columns but the model takes 18 inputs');
    model.dispose();
  });

  test('each layer config becomes one native layer of the same place', () => {
    const { planLayers } = require('../lib/layers') as typeof import('../lib/layers');
    const plan = planLayers('m', 64, [1, 8, 8], [{ type: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPool2d', pool: 2 }, { type: 'conv2d', filters: 3, kernel: 2 }, { type: 'globalAvgPool2d' }, { type: 'flatten' }, { units: 4 }]);
    expect(plan.native.map((l) => l.type)).toEqual(['conv2d', 'pool2d', 'conv2d', 'globalAvgPool2d', 'flatten', 'dense']);
    expect(plan.native[1]).toEqual({ type: 'pool2d', kind: 'max', channels: 4, height: 8, width: 8, sizeH: 2, sizeW: 2, strideH: 2, strideW: 2 });
    expect(plan.native[3]).toEqual({ type: 'globalAvgPool2d', channels: 3, height: 3, width: 3 });
    expect(plan.native[4]).toEqual({ type: 'flatten', size: 3 });
    expect(plan.native[5]).toEqual({ type: 'dense', in: 3, out: 4, activation: 'linear' });
  });

  test('the native side checks the shapes itself', () => {
    const { addon } = require('../lib/binding') as typeof import('../lib/binding');
    const layer = { type: 'conv2d', out: 2, activation: 'relu', channels: 1, height: 4, width: 4, kernelH: 5, kernelW: 5, stride: 1, padding: 0, bias: true } as const;
    const conv3 = { ...layer, kernelH: 3, kernelW: 3 };
    const pool = { type: 'pool2d', kind: 'max', channels: 2, height: 2, width: 2, sizeH: 2, sizeW: 2, strideH: 2, strideW: 2 } as const;
    const dense = (inputs: number) => ({ type: 'dense', in: inputs, out: 1, activation: 'linear' }) as const;
    const flatten = (size: number) => ({ type: 'flatten', size }) as const;
    const make = (layers: unknown[]) => () => new addon.NativeModel({ layers: layers as never, loss: 'halfSquaredError', seed: 1, device: 'cpu', tf32: false });
    expect(make([layer, flatten(2), dense(2)])).toThrow('layer 0 (conv2d): the 5x5 kernel is larger than the 4x4 input');
    expect(make([conv3, { ...pool, sizeH: 3, sizeW: 3 }, flatten(2), dense(2)]))
      .toThrow('layer 1 (pool2d): the 3x3 pooling window is larger than its 2x2 input');
    expect(make([conv3, flatten(8), dense(7)])).toThrow('layer 2 takes 7 inputs but layer 1 gives 8');
    expect(make([conv3])).toThrow('the last layer must be dense');
    expect(make([conv3, flatten(8)])).toThrow('the last layer must be dense');
    expect(make([conv3, dense(8)])).toThrow('layer 1 (dense) takes a vector: flatten the image before it');
    expect(make([dense(16), { ...layer, kernelH: 1, kernelW: 1, channels: 2, height: 1, width: 1 }, flatten(2), dense(2)]))
      .toThrow('layer 1 (conv2d) takes an image: it can only follow the input, a conv2d or a pooling layer');
    expect(make([{ ...pool, channels: 1, height: 4, width: 4 }, flatten(4), dense(4)])).toThrow('layer 0 (pool2d) must come right after a conv2d layer');
    expect(make([conv3, { ...pool, kind: 'median' }, flatten(2), dense(2)])).toThrow("layer 1 (pool2d): unknown pooling 'median' (max, average)");
    expect(make([{ type: 'recurrent', in: 3, out: 2 }])).toThrow("layer 0 has an unknown type 'recurrent' (dense, conv2d, pool2d, globalAvgPool2d, flatten, embedding, layerNorm, causalSelfAttention, residualStart, residualEnd, dropout)");
    expect(make([{ in: 3, out: 2, activation: 'linear' }])).toThrow("layer 0 has an unknown type 'undefined'");
    // A well-formed stack builds: conv2d, max pooling, flatten, dense; the weights are the two trainable layers'.
    const model = make([conv3, pool, flatten(2), dense(2)])();
    expect(model.getWeights().length).toBe(2 * (9 + 1) + (2 + 1));
    model.dispose();
  });
});
