// Checkpoints: safetensors round trips for every optimizer, a resume that reproduces the uninterrupted run
// bit for bit, and damaged or mismatched files rejected with CheckpointError.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Adam, AdamW, Autoencoder, CheckpointError, KBFGS, KBFGSL, KFAC, RMSprop, SGD, SOAP, Sequential, Shampoo, WarmupCosine, readIdxImages,
  type Optimizer,
} from '../lib';
import { decodeSafetensors, encodeSafetensors } from '../lib/checkpoint';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-ckpt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const small = () => new Autoencoder({ encoder: [784, 32, 8], loss: 'sigmoidCrossEntropy', seed: 4 });
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const fit = (model: Sequential, optimizer: Optimizer, epochs: number) =>
  model.fit(images, { optimizer, epochs, batchSize: 20, seed: 3, threads: 1 });

const optimizers: Array<[string, () => Optimizer]> = [
  ['sgd', () => new SGD({ lr: 0.05, protocol: 'paper' })],
  ['adam', () => new Adam({ lr: 1e-3, beta2: 0.99 })],
  ['rmsprop', () => new RMSprop({ lr: 1e-3, protocol: 'paper' })],
  ['kbfgs', () => new KBFGS({ lr: 0.05, damping: 0.3 })],
  ['kbfgs-l', () => new KBFGSL({ lr: 0.03, damping: 0.3, memory: 6 })],  // 20 steps: pairs are dropped
  ['kfac', () => new KFAC({ lr: 0.3, damping: 3, inverseEvery: 3, seed: 7 })],
  // factor updates at steps 0, 3, 6, 9, 12: the resume (step 10) lands between two
  ['kfac, curvatureEvery 3', () => new KFAC({ lr: 0.3, damping: 3, inverseEvery: 4, curvatureEvery: 3, seed: 7 })],
  // the resumed run re-inverts at step 12 with π from the restored factors
  ['kfac, trace damping split', () => new KFAC({ lr: 0.3, damping: 0.3, inverseEvery: 4, seed: 7, dampingSplit: 'trace' })],
  // The step rules (algorithm.md §15): the resume lands in the middle of the schedule's decay.
  ['adamw, clipped, warm-up and cosine', () => new AdamW({ lr: 3e-3, weightDecay: 0.05, clipNorm: 0.5, schedule: new WarmupCosine({ warmupSteps: 4, totalSteps: 16, minFactor: 0.1 }) })],
  ['kbfgs, clipped, warm-up and cosine', () => new KBFGS({ lr: 0.05, damping: 0.3, clipNorm: 0.5, schedule: new WarmupCosine({ warmupSteps: 4, totalSteps: 16 }) })],
  // refreshes at steps 3, 7, 11, ...: the resumed run (from step 10) first uses the restored roots and bases;
  // the 785- and 784-wide sides are left unpreconditioned
  ['shampoo', () => new Shampoo({ lr: 1e-3, precondEvery: 4, startPreconditioningStep: 3, maxPrecondDim: 64 })],
  ['soap', () => new SOAP({ lr: 1e-3, precondEvery: 4, startPreconditioningStep: 3, maxPrecondDim: 64 })],
];

test.each(optimizers)('%s: a resumed run reproduces the uninterrupted one bit for bit', async (kind, make) => {
  const whole = small();
  const full = await fit(whole, make(), 4);

  const first = small();
  await fit(first, make(), 2);
  const file = path.join(dir, `${kind}.safetensors`);
  first.save(file);
  first.dispose();
  const resumed = Sequential.load(file);
  expect(resumed.optimizer!.toJSON()).toEqual(make().toJSON());
  const rest = await fit(resumed, resumed.optimizer!, 2);

  expect(rest.history.loss).toEqual(full.history.loss.slice(2));
  expect(rest.history.loss[1]).toBeLessThan(full.history.loss[0]);
  const a = whole.getWeights(), b = resumed.getWeights();
  a.forEach((w, l) => {
    expect(bits(b[l].weight).equals(bits(w.weight))).toBe(true);
    expect(bits(b[l].bias).equals(bits(w.bias))).toBe(true);
  });
  whole.dispose();
  resumed.dispose();
});

// A convolutional network (the images as [1, 28, 28]): its architecture, weights and optimizer state round trip.
const cnn = () => new Sequential({
  inputShape: [1, 28, 28], loss: 'sigmoidCrossEntropy', seed: 4,
  layers: [{ type: 'conv2d', filters: 4, kernel: 5, stride: 2, activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
    { type: 'conv2d', filters: 3, kernel: 3, padding: 'same', bias: false, activation: 'tanh' }, { type: 'globalAvgPool2d' },
    { units: 784 }],
});
test.each(optimizers.filter(([kind]) => ['adam', 'kbfgs', 'kbfgs-l', 'kfac', 'shampoo', 'soap'].includes(kind)))(
  '%s on a convolutional network: a resumed run reproduces the uninterrupted one bit for bit', async (kind, make) => {
    const whole = cnn();
    const full = await fit(whole, make(), 4);
    const first = cnn();
    await fit(first, make(), 2);
    const file = path.join(dir, `cnn-${kind}.safetensors`);
    first.save(file);
    first.dispose();
    const resumed = Sequential.load(file);
    expect(resumed.inputShape).toEqual([1, 28, 28]);
    expect(resumed.layers).toEqual(whole.layers);
    const rest = await fit(resumed, resumed.optimizer!, 2);
    expect(rest.history.loss).toEqual(full.history.loss.slice(2));
    const a = whole.getWeights(), b = resumed.getWeights();
    a.forEach((w, l) => {
      expect(bits(b[l].weight).equals(bits(w.weight))).toBe(true);
      expect(bits(b[l].bias).equals(bits(w.bias))).toBe(true);
    });
    expect(b[1].bias.every((v) => v === 0)).toBe(true);  // the conv2d without bias keeps b = 0
    whole.dispose();
    resumed.dispose();
  });

test('weights only, no temporary files left, the file is valid safetensors', async () => {
  const model = small();
  await fit(model, new Adam(), 1);
  const file = path.join(dir, 'weights.safetensors');
  model.save(file, { optimizer: false });
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  const loaded = Sequential.load(file);
  expect(loaded.optimizer).toBeUndefined();
  expect((await loaded.predict(images)).data).toEqual((await model.predict(images)).data);
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  expect(Object.keys(tensors).sort()).toEqual(['layer0.bias', 'layer0.weight', 'layer1.bias', 'layer1.weight', 'layer2.bias', 'layer2.weight', 'layer3.bias', 'layer3.weight']);
  expect(JSON.parse(metadata.architecture).layers).toHaveLength(4);
  expect(metadata.library).toMatch(/^kbfgs-native \d/);
  model.dispose();
  loaded.dispose();
});

test('toCheckpoint gives the bytes save writes, and fromCheckpoint continues the run from them', async () => {
  const model = small();
  const optimizer = new KBFGS({ lr: 0.05, damping: 0.3 });
  await fit(model, optimizer, 1);
  const file = path.join(dir, 'in-memory.safetensors');
  model.save(file);
  const bytes = model.toCheckpoint();
  expect(Buffer.from(bytes).equals(fs.readFileSync(file))).toBe(true);  // 7.8 MB: not an element-wise toEqual
  expect(model.toCheckpoint({ optimizer: false }).length).toBeLessThan(bytes.length);
  expect(() => model.toCheckpoint({ optimiser: true } as never)).toThrow(/toCheckpoint: unknown option 'optimiser'/);
  const restored = Sequential.fromCheckpoint(bytes, 'in memory');
  const [a, b] = [await fit(model, optimizer, 1), await fit(restored, restored.optimizer!, 1)];
  expect(b.history.loss).toEqual(a.history.loss);
  model.dispose();
  restored.dispose();
});

describe('damaged or mismatched checkpoints', () => {
  let good: Buffer;
  beforeAll(async () => {
    const model = small();
    await fit(model, new KBFGS({ lr: 0.05 }), 1);
    const file = path.join(dir, 'good.safetensors');
    model.save(file);
    model.dispose();
    good = fs.readFileSync(file);
  });
  const load = (bytes: Uint8Array) => {
    const file = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(file, bytes);
    return () => Sequential.load(file);
  };
  const rewrite = (edit: (tensors: ReturnType<typeof decodeSafetensors>['tensors'], metadata: Record<string, string>) => void) => {
    const { tensors, metadata } = decodeSafetensors(good, 'good');
    edit(tensors, metadata);
    return encodeSafetensors(tensors, metadata);
  };

  test.each([
    ['truncated', () => good.subarray(0, good.length - 5), /trailing|outside|exceeds/],
    ['too short', () => good.subarray(0, 4), /too short/],
    ['absurd header length', () => Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), good.subarray(8)]), /header length/],
    ['header not JSON', () => { const b = Buffer.from(good); b[9] = 0x7b; b[10] = 0x7b; return b; }, /not valid JSON/],
    ['trailing bytes', () => Buffer.concat([good, Buffer.alloc(4)]), /trailing bytes/],
  ])('%s', (_name, make, message) => {
    expect(load(make())).toThrow(CheckpointError);
    expect(load(make())).toThrow(message);
  });

  test('wrong format, missing weights, mismatched optimizer tensors, a broken data order', () => {
    expect(load(rewrite((_t, m) => { m.format = 'other'; }))).toThrow(/not a kbfgs-native-checkpoint file/);
    expect(load(rewrite((_t, m) => { m.version = '99'; }))).toThrow(/version 99 is not supported \(this release reads version 2\)/);
    expect(load(rewrite((_t, m) => { m.version = '1'; }))).toThrow(/format version 1 was written by an earlier kbfgs-native/);
    expect(load(rewrite((t) => { delete t['layer1.weight']; }))).toThrow(/weights of layer 1 are missing/);
    expect(load(rewrite((t) => { t['optimizer.layer0.H_a'] = new Float32Array(3); }))).toThrow(/'layer0.H_a' has 3 values/);
    expect(load(rewrite((t) => { delete t['optimizer.momentum']; }))).toThrow(/optimizer tensors|lacks optimizer tensor/);
    expect(load(rewrite((t) => { (t['sampler.order'] as Uint32Array)[0] = (t['sampler.order'] as Uint32Array)[1]; }))).toThrow(/not a permutation/);
    expect(load(rewrite((_t, m) => { m.optimizer = JSON.stringify({ kind: 'lbfgs', settings: {} }); }))).toThrow(/unknown optimizer kind/);
    expect(load(rewrite((_t, m) => { m.architecture = '{"inputDim": 784, "layers": [], "loss": "x"}'; }))).toThrow(/invalid architecture/);
    expect(() => Sequential.load(path.join(dir, 'missing.safetensors'))).toThrow(/cannot read \(ENOENT\)/);
  });
});

describe('Autoencoder.load', () => {
  test('an autoencoder\'s checkpoint loads as an Autoencoder with its widths, activation, weights and optimizer', async () => {
    const model = new Autoencoder({ encoder: [784, 32, 8], loss: 'sigmoidCrossEntropy', activation: 'tanh', seed: 4 });
    await fit(model, new Adam(), 1);
    const file = path.join(dir, 'autoencoder.safetensors');
    model.save(file);
    for (const loaded of [Autoencoder.load(file), Autoencoder.fromCheckpoint(fs.readFileSync(file), file)]) {
      expect(loaded).toBeInstanceOf(Autoencoder);
      expect([loaded.encoder, loaded.activation]).toEqual([[784, 32, 8], 'tanh']);
      expect(loaded.getWeights()).toEqual(model.getWeights());
      expect(loaded.optimizer!.toJSON()).toEqual(model.optimizer!.toJSON());
      loaded.dispose();
    }
    model.dispose();
  });

  test.each([
    ['a convolutional network', cnn],
    ['a dense Sequential', () => new Sequential({ inputDim: 784, layers: [{ units: 32, activation: 'relu' }, { units: 784 }], loss: 'sigmoidCrossEntropy' })],
  ])('%s\'s checkpoint is refused with CheckpointError', (kind, make) => {
    const model = make();
    const file = path.join(dir, `not-autoencoder-${kind.length}.safetensors`);
    model.save(file);
    model.dispose();
    expect(() => Autoencoder.load(file)).toThrow(CheckpointError);
    expect(() => Autoencoder.load(file)).toThrow(/not an Autoencoder checkpoint \(load it with Sequential\.load\)/);
  });

  test('autoencoder widths that do not match the saved input width are refused', () => {
    const model = small();
    const file = path.join(dir, 'autoencoder-input.safetensors');
    model.save(file, { optimizer: false });
    model.dispose();
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
    const architecture = JSON.parse(metadata.architecture);
    // The same layers on a 100-wide input: a valid Sequential, but not the saved [784, 32, 8] autoencoder.
    const forged = encodeSafetensors({ ...tensors, 'layer0.weight': new Float32Array(32 * 100) },
      { ...metadata, architecture: JSON.stringify({ ...architecture, inputDim: 100 }) });
    fs.writeFileSync(file, forged);
    const plain = Sequential.load(file);
    expect(plain.inputDim).toBe(100);
    plain.dispose();
    expect(() => Autoencoder.load(file)).toThrow(CheckpointError);
    expect(() => Autoencoder.load(file)).toThrow(/its Autoencoder widths do not match its layers/);
  });
});
