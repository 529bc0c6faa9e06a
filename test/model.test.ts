// The TypeScript model API: fit/evaluate/predict/weights, progress, abort, concurrency, disposal, bad input.
import * as path from 'path';
import {
  AbortError, Adam, Autoencoder, BusyError, DisposedError, InvalidArgumentError, InvalidDataError, RMSprop, SGD,
  Sequential, ShapeError, readIdxImages, type Matrix, type Optimizer,
} from '../lib';
import { randomArray, seeded } from './helpers';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const small = () => new Autoencoder({ encoder: [784, 64, 16], loss: 'sigmoidCrossEntropy', seed: 1 });

describe('presets', () => {
  test.each([
    ['mnist', Autoencoder.mnist, 2_837_314, 784],
    ['faces', Autoencoder.faces, 7_537_655, 625],
    ['curves', Autoencoder.curves, 842_340, 784],
  ])('%s has the paper\'s parameter count', (_name, make, params, width) => {
    const model = make({ seed: 9999 });
    expect(model.paramCount).toBe(params);
    expect(model.inputDim).toBe(width);
    expect(model.outputDim).toBe(width);
    expect(model.layers.filter((l) => 'activation' in l && l.activation === 'linear').length).toBe(2);  // code and output layers
    model.dispose();
  });

  test('initialisation is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and depends only on the seed', () => {
    const a = Autoencoder.mnist({ seed: 5 }).getWeights();
    const b = Autoencoder.mnist({ seed: 5 }).getWeights();
    const c = Autoencoder.mnist({ seed: 6 }).getWeights();
    const same = (p: Float32Array, q: Float32Array) => Buffer.from(p.buffer).equals(Buffer.from(q.buffer));
    expect(same(a[0].weight, b[0].weight)).toBe(true);
    expect(same(a[0].weight, c[0].weight)).toBe(false);
    const bound = 1 / Math.sqrt(784);
    const w = a[0].weight;
    let max = 0, sum = 0;
    for (const v of w) { max = Math.max(max, Math.abs(v)); sum += v; }
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(sum / w.length)).toBeLessThan(0.01 * bound);
  });
});

describe('fit', () => {
  const optimizers: Array<[string, () => Optimizer]> = [
    ['SGD pytorch', () => new SGD({ lr: 0.005, momentum: 0.9 })],
    ['SGD paper', () => new SGD({ lr: 0.05, protocol: 'paper' })],
    ['Adam pytorch', () => new Adam({ lr: 1e-3 })],
    ['Adam paper', () => new Adam({ lr: 1e-3, protocol: 'paper' })],
    ['RMSprop pytorch', () => new RMSprop({ lr: 1e-3 })],
    ['RMSprop paper', () => new RMSprop({ lr: 1e-3, protocol: 'paper' })],
  ];
  test.each(optimizers)('%s lowers the loss of a small autoencoder', async (_name, make) => {
    const model = small();
    const before = await model.evaluate(images);
    const history = await model.fit(images, { optimizer: make(), epochs: 15, batchSize: 25 });
    const loss = history.history.loss;
    expect(loss).toHaveLength(15);
    expect(loss[14]).toBeLessThan(0.6 * before);
    expect(loss[14]).toBeLessThan(loss[0]);
    model.dispose();
  });

  test('paper SGD with lr a is PyTorch SGD with lr a/10 and momentum 0.9 (algorithm.md §6)', async () => {
    const losses = async (optimizer: Optimizer) => {
      const model = small();
      const history = await model.fit(images, { optimizer, epochs: 4, batchSize: 25 });
      model.dispose();
      return history.history.loss;
    };
    const paper = await losses(new SGD({ lr: 0.05, protocol: 'paper', weightDecay: 0 }));
    const torch = await losses(new SGD({ lr: 0.005, momentum: 0.9 }));
    paper.forEach((l, i) => expect(Math.abs(l - torch[i])).toBeLessThan(1e-3 * l));
    const other = await losses(new SGD({ lr: 0.005, momentum: 0.5 }));
    expect(Math.abs(other[3] - torch[3])).toBeGreaterThan(1e-2 * torch[3]);
  });

  test('History is shaped like TensorFlow.js and its loss is the regularised full-data loss', async () => {
    const model = small();
    const optimizer = new Adam({ lr: 1e-3, weightDecay: 1e-3 });
    const epochs: number[] = [];
    const batches: number[] = [];
    const history = await model.fit(images, {
      optimizer, epochs: 3, batchSize: 30, validationData: images,
      onEpochEnd: (e, logs) => { epochs.push(e); expect(logs.steps).toBe((e + 1) * 3); },
      onBatchEnd: (b) => batches.push(b),
    });
    expect(history.epoch).toEqual([0, 1, 2]);
    expect(epochs).toEqual([0, 1, 2]);
    expect(batches).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);  // 100 rows / 30 = 3 batches, the rest dropped
    expect(history.params).toMatchObject({ epochs: 3, batchSize: 30, samples: 100, optimizer: { kind: 'adam' } });
    const h = history.history;
    expect(h.seconds[2]).toBeGreaterThanOrEqual(h.seconds[0]);
    // loss = data loss + (tau/2)|theta|^2, valLoss = data loss on the same rows
    let norm = 0;
    for (const w of model.getWeights()) { for (const v of w.weight) norm += v * v; for (const v of w.bias) norm += v * v; }
    expect(h.loss[2]).toBeCloseTo(h.valLoss![2] + 0.5 * 1e-3 * norm, 3);
    expect(await model.evaluate(images)).toBeCloseTo(h.valLoss![2], 3);
    model.dispose();
  });

  test('the same seeds give bit-identical runs; the same optimizer instance continues its state', async () => {
    const run = async () => {
      const model = small();
      const optimizer = new RMSprop({ lr: 1e-3, protocol: 'paper' });
      const first = await model.fit(images, { optimizer, epochs: 2, batchSize: 20, seed: 4 });
      const second = await model.fit(images, { optimizer, epochs: 2, batchSize: 20, seed: 4 });
      const w = model.getWeights()[0].weight;
      model.dispose();
      return { losses: [...first.history.loss, ...second.history.loss], w };
    };
    const a = await run();
    const b = await run();
    expect(a.losses).toEqual(b.losses);
    expect(a.w).toEqual(b.w);
    expect(a.losses[3]).toBeLessThan(a.losses[0]);
  });

  test('labeled data: a classifier with softmax cross-entropy learns', async () => {
    const rnd = seeded(11);
    const rows = 200, dim = 4;
    const x = randomArray(rows * dim, rnd);
    const y = new Float32Array(rows * 2);
    for (let i = 0; i < rows; i++) y[i * 2 + (x[i * dim] + x[i * dim + 1] > 0 ? 1 : 0)] = 1;
    const model = new Sequential({ inputDim: dim, layers: [{ units: 16, activation: 'tanh' }, { units: 2 }], loss: 'softmaxCrossEntropy' });
    const data = { x: { data: x, rows, cols: dim }, y: { data: y, rows, cols: 2 } };
    await model.fit(data, { optimizer: new Adam({ lr: 0.01 }), epochs: 60, batchSize: 50 });
    const p = await model.predict(data.x);
    let correct = 0;
    for (let i = 0; i < rows; i++) if ((p.data[i * 2 + 1] > p.data[i * 2]) === (y[i * 2 + 1] === 1)) correct++;
    expect(correct / rows).toBeGreaterThan(0.9);
    expect(p.data[0] + p.data[1]).toBeCloseTo(1, 5);  // softmax applied
    model.dispose();
  });
});

describe('control', () => {
  const big = () => new Autoencoder({ encoder: [784, 512, 256, 32], loss: 'sigmoidCrossEntropy', seed: 2 });
  const many: Matrix = { data: new Float32Array(2000 * 784).map((_, i) => images.data[i % images.data.length]), rows: 2000, cols: 784 };

  test('an AbortSignal stops at a batch boundary, rejects with AbortError and leaves the model usable', async () => {
    const model = big();
    const controller = new AbortController();
    let batches = 0;
    const fit = model.fit(many, {
      optimizer: new Adam(), epochs: 50, batchSize: 100, signal: controller.signal,
      onBatchEnd: () => { if (++batches === 3) controller.abort(); },
    });
    const error = await fit.catch((e) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(error.code).toBe('KBFGS_ABORTED');
    expect(batches).toBeLessThan(20 * 50);
    const loss = await model.evaluate(images);
    expect(Number.isFinite(loss)).toBe(true);
    await model.fit(images, { optimizer: new Adam(), epochs: 1, batchSize: 50 });  // still trainable
    const already = new AbortController();
    already.abort();
    await expect(model.fit(images, { optimizer: new Adam(), signal: already.signal })).rejects.toBeInstanceOf(AbortError);
    model.dispose();
  });

  test('a second concurrent fit rejects with BusyError; dispose during fit is refused', async () => {
    const model = big();
    const first = model.fit(many, { optimizer: new Adam(), epochs: 2, batchSize: 100 });
    await expect(model.fit(many, { optimizer: new Adam() })).rejects.toBeInstanceOf(BusyError);
    await expect(model.evaluate(images)).rejects.toBeInstanceOf(BusyError);
    expect(() => model.dispose()).toThrow(BusyError);
    const history = await first;
    expect(history.epoch).toEqual([0, 1]);
    model.dispose();
  });

  test('the event loop keeps running while training', async () => {
    const model = big();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const history = await model.fit(many, { optimizer: new Adam(), epochs: 3, batchSize: 100 });
    clearInterval(timer);
    const seconds = history.history.seconds[2];
    expect(seconds).toBeGreaterThan(0.05);
    // A blocked loop would tick at most once; a free one ticks many times during the run.
    expect(ticks).toBeGreaterThan(5);
    model.dispose();
  });

  test('a throwing callback stops training and its error reaches the caller', async () => {
    const model = small();
    await expect(model.fit(images, {
      optimizer: new Adam(), epochs: 5, batchSize: 10,
      onBatchEnd: (b) => { if (b === 2) throw new Error('boom from callback'); },
    })).rejects.toThrow('boom from callback');
    await model.fit(images, { optimizer: new Adam(), epochs: 1, batchSize: 10 });
    model.dispose();
  });

  test('a disposed model throws DisposedError everywhere', async () => {
    const model = small();
    model.dispose();
    model.dispose();  // idempotent
    expect(model.isDisposed).toBe(true);
    expect(() => model.getWeights()).toThrow(DisposedError);
    expect(() => model.paramCount).toThrow(DisposedError);
    await expect(model.fit(images, { optimizer: new Adam() })).rejects.toBeInstanceOf(DisposedError);
    await expect(model.predict(images)).rejects.toBeInstanceOf(DisposedError);
  });
});

describe('weights and prediction', () => {
  test('getWeights/setWeights round trip and predict uses them', async () => {
    const a = small();
    const b = small();
    await a.fit(images, { optimizer: new Adam(), epochs: 2, batchSize: 50 });
    b.setWeights(a.getWeights());
    expect((await b.predict(images)).data).toEqual((await a.predict(images)).data);
    const p = await a.predict(images);
    expect(p.rows).toBe(100);
    expect(p.cols).toBe(784);
    expect(Math.min(...p.data.subarray(0, 784))).toBeGreaterThanOrEqual(0);  // sigmoid of logits
    const logits = await a.predict(images, { logits: true });
    expect(logits.data[0]).toBeCloseTo(Math.log(p.data[0] / (1 - p.data[0])), 3);
    a.dispose();
    b.dispose();
  });
});

describe('bad input gives typed errors', () => {
  test('shapes', async () => {
    const model = small();
    await expect(model.fit({ data: new Float32Array(10), rows: 2, cols: 784 }, { optimizer: new Adam() })).rejects.toBeInstanceOf(ShapeError);
    await expect(model.fit({ data: new Float32Array(300), rows: 1, cols: 300 }, { optimizer: new Adam() })).rejects.toThrow(/784 inputs/);
    await expect(model.fit(images, { optimizer: new Adam(), batchSize: 101 })).rejects.toBeInstanceOf(ShapeError);
    await expect(model.fit({ x: images, y: { data: new Float32Array(5 * 784), rows: 5, cols: 784 } }, { optimizer: new Adam() }))
      .rejects.toThrow(/rows/);
    expect(() => model.setWeights([])).toThrow(ShapeError);
    await expect(model.fit({ data: [1, 2] as unknown as Float32Array, rows: 1, cols: 2 }, { optimizer: new Adam() }))
      .rejects.toBeInstanceOf(InvalidArgumentError);
    model.dispose();
  });

  test('NaN or Infinity in data names the row and column, and the weights are untouched', async () => {
    const model = small();
    const before = model.getWeights()[0].weight;
    const bad = Float32Array.from(images.data);
    bad[5 * 784 + 7] = NaN;
    const error = await model.fit({ data: bad, rows: 100, cols: 784 }, { optimizer: new Adam() }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidDataError);
    expect(error.message).toMatch(/row 5, column 7/);
    bad[5 * 784 + 7] = Infinity;
    await expect(model.evaluate({ data: bad, rows: 100, cols: 784 })).rejects.toBeInstanceOf(InvalidDataError);
    expect(model.getWeights()[0].weight).toEqual(before);
    await model.fit(images, { optimizer: new Adam(), epochs: 1 });  // the model is still usable
    model.dispose();
  });

  test('hyperparameters and options', async () => {
    expect(() => new Adam({ lr: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Adam({ lr: NaN })).toThrow(/finite/);
    expect(() => new Adam({ beta2: 1 })).toThrow(/< 1/);
    expect(() => new SGD({ momentum: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new SGD({ nesterov: true })).toThrow(/nesterov/);
    expect(() => new RMSprop({ protocol: 'tf' as never })).toThrow(/protocol/);
    expect(() => new Adam({ learningRate: 0.1 } as never)).toThrow(/unknown option 'learningRate'/);
    expect(() => new Adam({ beta_1: 0.1 } as never)).toThrow(/did you mean 'beta1'/);
    expect(() => new Sequential({ inputDim: 3, layers: [{ units: 2, activation: 'swish' as never }], loss: 'halfSquaredError' }))
      .toThrow(/activation/);
    expect(() => new Sequential({ inputDim: 3, layers: [{ units: 2, activation: 'relu' }], loss: 'sigmoidCrossEntropy' }))
      .toThrow(/must be 'linear'/);
    expect(() => new Sequential({ inputDim: 0, layers: [{ units: 2 }], loss: 'halfSquaredError' })).toThrow(InvalidArgumentError);
    const model = small();
    await expect(model.fit(images, { optimizer: new Adam(), epochz: 3 } as never)).rejects.toThrow(/did you mean 'epochs'/);
    await expect(model.fit(images, { optimizer: {} as never })).rejects.toThrow(/optimizer/);
    await expect(model.fit(images, { optimizer: new Adam(), epochs: 1.5 })).rejects.toThrow(/integer/);
    await expect(model.fit(images, { optimizer: new Adam(), threads: 0 })).rejects.toThrow(/threads/);
    model.dispose();
  });

  test('a learning rate that blows up ends with a NumericalError naming the step', async () => {
    const model = small();
    const error = await model.fit(images, { optimizer: new SGD({ lr: 1e6 }), epochs: 5, batchSize: 10 }).catch((e) => e);
    expect(error.code).toBe('KBFGS_NUMERICAL');
    expect(error.message).toMatch(/step \d+ .*first in the (pre-activations of layer \d|loss)/);
    // the weights are back to those before the failing step: finite, and the model still evaluates
    for (const w of model.getWeights()) expect(w.weight.every(Number.isFinite) && w.bias.every(Number.isFinite)).toBe(true);
    expect(Number.isFinite(await model.evaluate(images))).toBe(true);
    model.dispose();
  });
});
