// Fuzzing the IDX reader, the MAT reader and the checkpoint loader (dense, convolutional and token models): every
// malformed input gives the reader's typed error (or parses), none crashes the process, hangs, or makes the reader
// allocate beyond the file. Layer stacks (images and tokens) and token data are fuzzed the same way.
// Short in CI (FUZZ_ITERATIONS, default 1500 per reader); `FUZZ_ITERATIONS=100000 npx jest test/fuzz` runs long.
// Inputs that once failed live in test/fuzz/regressions/<reader>/ and are replayed every time.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  Adam, Autoencoder, CheckpointError, IdxFormatError, InvalidArgumentError, InvalidDataError, KBFGS, MatFormatError, Sequential, ShapeError,
  parseIdx, parseMat, readIdxImages,
} from '../lib';
import { mutations } from './fuzz/harness';

const iterations = Number(process.env.FUZZ_ITERATIONS ?? 1500);
const data = path.join(__dirname, '..', 'data');
const regressions = (reader: string) => {
  const dir = path.join(__dirname, 'fuzz', 'regressions', reader);
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))) : [];
};

function fuzz(reader: string, valid: Uint8Array, parse: (b: Uint8Array) => unknown, expected: new (...a: never[]) => Error) {
  let rejected = 0, parsed = 0;
  const inputs = [...regressions(reader), ...mutations(valid, iterations, reader.length * 7919)];
  for (const input of inputs) {
    const before = process.memoryUsage().arrayBuffers;
    try {
      parse(input);
      parsed++;
    } catch (error) {
      if (!(error instanceof expected)) {
        const file = path.join(__dirname, 'fuzz', 'regressions', reader, `case-${Date.now()}.bin`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, input);
        throw new Error(`${reader}: ${String(error)} (input kept as ${path.basename(file)})`);
      }
      rejected++;
    }
    // nothing the reader keeps may exceed what the input could justify (gzip: at most ~1032:1)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1100 * input.length + 64 * 1024 * 1024);
  }
  console.log(`${reader}: ${inputs.length} inputs tried, ${rejected} rejected with ${expected.name}, ${parsed} parsed`);
  expect(rejected).toBeGreaterThan(inputs.length / 2);
}

test('IDX reader (plain and gzipped)', () => {
  const small = fs.readFileSync(path.join(data, 'mnist-t10k-first100-images-idx3-ubyte')).subarray(0, 16 + 5 * 784);
  small.writeUInt32BE(5, 4);
  fuzz('idx', small, (b) => parseIdx(b, 'fuzz.idx'), IdxFormatError);
  fuzz('idx-gz', zlib.gzipSync(small), (b) => parseIdx(b, 'fuzz.idx.gz'), IdxFormatError);
});

test('MAT v5 reader', () => {
  const mat = fs.readFileSync(path.join(__dirname, 'fixtures', 'olivettifaces.mat'));
  // a small valid file: header + one compressed 4 x 3 double matrix, written like the datasets test does
  const matrix = (() => {
    const el = (type: number, payload: Buffer) => {
      const tag = Buffer.alloc(8); tag.writeUInt32LE(type, 0); tag.writeUInt32LE(payload.length, 4);
      return Buffer.concat([tag, payload, Buffer.alloc((8 - (payload.length % 8)) % 8)]);
    };
    const flags = Buffer.alloc(8); flags.writeUInt32LE(6, 0);
    const dims = Buffer.alloc(8); dims.writeInt32LE(4, 0); dims.writeInt32LE(3, 4);
    const values = Buffer.alloc(96); for (let i = 0; i < 12; i++) values.writeDoubleLE(i, 8 * i);
    return el(14, Buffer.concat([el(6, flags), el(5, dims), el(1, Buffer.from('x')), el(9, values)]));
  })();
  const compressed = zlib.deflateSync(matrix);
  const tag = Buffer.alloc(8); tag.writeUInt32LE(15, 0); tag.writeUInt32LE(compressed.length, 4);
  const valid = Buffer.concat([mat.subarray(0, 128), tag, compressed]);
  fuzz('mat', valid, (b) => parseMat(b, 'fuzz.mat'), MatFormatError);
  fuzz('mat-plain', Buffer.concat([mat.subarray(0, 128), matrix]), (b) => parseMat(b, 'fuzz.mat'), MatFormatError);
});

test('layer stacks: every configuration builds a model that predicts, or throws InvalidArgumentError', async () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const small = () => pick([1, 1, 2, 2, 3, 3, 5, 0, 7, -1, 1.5, NaN, 40]);
  const layer = () => pick([
    () => ({ type: 'conv2d', filters: pick([1, 2, 3, 0]), kernel: pick([small(), [small(), small()]]), stride: pick([undefined, small()]),
      padding: pick([undefined, small(), 'same', 'valid', 'full']), bias: pick([undefined, true, false, 1]), activation: pick(['relu', 'tanh', 'gelu']) }),
    () => ({ type: pick(['maxPool2d', 'avgPool2d']), pool: pick([small(), [small(), small()]]), stride: pick([undefined, small()]) }),
    () => ({ type: pick(['flatten', 'globalAvgPool2d', 'reshape']) }),
    () => ({ units: pick([1, 3, 0, -2, 2.5]), activation: pick(['linear', 'relu']) }),
  ])();
  let built = 0, rejected = 0;
  for (let i = 0; i < Math.min(iterations, 1500); i++) {
    const inputShape = pick([[1, 6, 6], [2, 5, 7], [1, 9, 9], [3, 1, 4], [1, 0, 3], [2, 3]]) as [number, number, number];
    const layers: unknown[] = Array.from({ length: 1 + Math.floor(rnd() * 4) }, layer);
    if (rnd() < 0.7) layers.push({ type: 'flatten' }, { units: 2 });  // most stacks end as models must
    let model: Sequential | undefined;
    try {
      model = new Sequential({ inputShape, layers: layers as never, loss: 'halfSquaredError', seed: 1 });
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw new Error(`${JSON.stringify({ inputShape, layers })}: ${String(error)}`);
      rejected++;
      continue;
    }
    const x = new Float32Array(2 * model.inputDim).fill(0.5);
    expect((await model.predict({ data: x, rows: 2, cols: model.inputDim })).data.every(Number.isFinite)).toBe(true);
    model.dispose();
    built++;
  }
  console.log(`layer stacks: ${built} built and predicted, ${rejected} rejected with InvalidArgumentError`);
  expect(built).toBeGreaterThan(10);
  expect(rejected).toBeGreaterThan(built);
});

test('token layer stacks: every configuration builds a model that predicts and computes gradients, or throws InvalidArgumentError', async () => {
  let seed = 777;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const layer = (depth: number): unknown => pick([
    () => ({ type: 'attention', heads: pick([1, 2, 3, 4, 0, 1.5]) }),
    () => ({ type: 'layerNorm' }),
    () => ({ units: pick([4, 8, 3, 0]), activation: pick(['gelu', 'relu', 'linear', 'softmax']) }),
    () => ({ type: 'dropout', rate: pick([0, 0.1, 0.5, 1, -0.2]) }),
    () => ({ type: 'residual', layers: depth > 1 ? [] : Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => layer(depth + 1)) }),
    () => ({ type: pick(['flatten', 'embedding', 'maxPool2d']), vocabulary: 5, width: 4 }),
  ])();
  let built = 0, rejected = 0;
  for (let i = 0; i < Math.min(iterations, 400); i++) {
    const context = pick([1, 3, 4, 0, -1]), vocabulary = pick([5, 2, 1, 0]);
    const layers: unknown[] = [{ type: 'embedding', vocabulary, width: pick([4, 8, 0]) },
      ...Array.from({ length: Math.floor(rnd() * 4) }, () => layer(0)), { units: pick([vocabulary, 3]) }];
    let model: Sequential | undefined;
    try {
      model = new Sequential({ inputDim: context, layers: layers as never, loss: pick(['softmaxCrossEntropy', 'softmaxCrossEntropy', 'halfSquaredError']), seed: 1 });
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw new Error(`${JSON.stringify({ context, layers })}: ${String(error)}`);
      rejected++;
      continue;
    }
    const ids = () => ({ data: Int32Array.from({ length: 2 * context }, (_, k) => k % vocabulary), rows: 2, cols: context });
    expect((await model.predict(ids(), { logits: true })).data.every(Number.isFinite)).toBe(true);
    const classes = model.weightShapes[model.weightShapes.length - 1].units;
    const y = { data: Int32Array.from({ length: 2 * context }, (_, k) => k % classes), rows: 2, cols: context };
    expect(Number.isFinite(model.computeGradients({ x: ids(), y }).loss)).toBe(true);
    model.dispose();
    built++;
  }
  console.log(`token layer stacks: ${built} built, predicted and differentiated, ${rejected} rejected with InvalidArgumentError`);
  expect(built).toBeGreaterThan(10);
  expect(rejected).toBeGreaterThan(10);
});

test('token data: every malformed batch of ids or shape gives InvalidDataError, InvalidArgumentError or ShapeError, or runs', async () => {
  const context = 4, vocabulary = 6;
  const model = new Sequential({
    inputDim: context, loss: 'softmaxCrossEntropy', seed: 1,
    layers: [{ type: 'embedding', vocabulary, width: 4 }, { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }] }, { units: vocabulary }],
  });
  let seed = 4242;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  // one defect at most per matrix, in about half of them: a bad id, another array type, a wrong shape, no matrix
  const ids = (rows: number, cols: number): unknown => {
    const values: number[] = Array.from({ length: rows * cols }, () => Math.floor(rnd() * vocabulary));
    const defect = Math.floor(rnd() * 8);
    if (defect === 0) values[Math.floor(rnd() * values.length)] = pick([-1, vocabulary, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 24 + 1, 1e30]);
    const data = defect === 1 ? pick<() => unknown>([() => values, () => Float64Array.from(values), () => Uint8Array.from(values), () => null])()
      : rnd() < 0.5 ? Int32Array.from(values) : Float32Array.from(values);
    if (defect === 2) return { data, rows: pick([rows + 1, 0, -1, 1.5, NaN]), cols };
    if (defect === 3) return { data, rows, cols: pick([cols - 1, cols + 1]) };
    if (defect === 4) return pick([data, { data, rows }]);
    return { data, rows, cols };
  };
  let ran = 0, rejected = 0;
  for (let i = 0; i < Math.min(iterations, 300); i++) {
    const rows = pick([1, 2, 3]);
    const data = pick([() => ({ x: ids(rows, context), y: ids(rows, context) }), () => ({ x: ids(rows, context), y: ids(rows, context) }),
      () => ({ x: ids(rows, context), y: ids(rows + 1, context) }), () => ({ x: ids(rows, context) }), () => ids(rows, context)])();
    const [name, op] = pick<[string, () => Promise<unknown>]>([
      ['fit', () => model.fit(data as never, { optimizer: new Adam(), epochs: 1, batchSize: rows })],
      ['computeGradients', async () => model.computeGradients(data as never)],
      ['evaluate', () => model.evaluate(data as never)],
      ['predict', () => model.predict((data && typeof data === 'object' && 'x' in data ? data.x : data) as never)],
    ]);
    try {
      await op();
      ran++;
    } catch (error) {
      if (!(error instanceof InvalidDataError || error instanceof InvalidArgumentError || error instanceof ShapeError))
        throw new Error(`${name}: ${String(error)} from ${JSON.stringify(data)}`);
      rejected++;
    }
  }
  // the model still works after every rejected call
  const valid = { data: Int32Array.from({ length: 2 * context }, (_, k) => k % vocabulary), rows: 2, cols: context };
  expect(Number.isFinite(model.computeGradients({ x: valid, y: valid }).loss)).toBe(true);
  model.dispose();
  console.log(`token data: ${ran} calls ran, ${rejected} rejected with a typed error`);
  expect(ran).toBeGreaterThan(10);
  expect(rejected).toBeGreaterThan(ran);
});

test('checkpoint loader', async () => {
  const images = readIdxImages(path.join(data, 'mnist-t10k-first100-images-idx3-ubyte'));
  const model = new Autoencoder({ encoder: [784, 8, 4], loss: 'sigmoidCrossEntropy', seed: 1 });
  await model.fit(images, { optimizer: new Adam(), epochs: 1, batchSize: 50 });
  const file = path.join(require('os').tmpdir(), `kbfgs-fuzz-${process.pid}.safetensors`);
  model.save(file);
  model.dispose();
  const valid = fs.readFileSync(file);
  fs.unlinkSync(file);
  fuzz('checkpoint', valid, (b) => Sequential.fromCheckpoint(b, 'fuzz.safetensors').dispose(), CheckpointError);
  const cnn = new Sequential({
    inputShape: [1, 8, 8], loss: 'halfSquaredError', seed: 1,
    layers: [{ type: 'conv2d', filters: 2, kernel: 3, activation: 'relu' }, { type: 'maxPool2d', pool: 2 }, { type: 'flatten' }, { units: 3 }],
  });
  cnn.save(file);
  cnn.dispose();
  const validCnn = fs.readFileSync(file);
  fs.unlinkSync(file);
  fuzz('checkpoint-cnn', validCnn, (b) => Sequential.fromCheckpoint(b, 'fuzz.safetensors').dispose(), CheckpointError);
  // a token model with its optimizer's state (its layer configs, the vocabulary, K-BFGS's blocks)
  const gpt = new Sequential({
    inputDim: 3, loss: 'softmaxCrossEntropy', seed: 1,
    layers: [{ type: 'embedding', vocabulary: 5, width: 4 }, { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }, { type: 'dropout', rate: 0.1 }] }, { units: 5 }],
  });
  const sequence = { data: Int32Array.from([0, 1, 2, 3, 4, 0]), rows: 2, cols: 3 };
  await gpt.fit({ x: sequence, y: sequence }, { optimizer: new KBFGS(), epochs: 1, batchSize: 2 });
  gpt.save(file);
  gpt.dispose();
  const validGpt = fs.readFileSync(file);
  fs.unlinkSync(file);
  fuzz('checkpoint-gpt', validGpt, (b) => Sequential.fromCheckpoint(b, 'fuzz.safetensors').dispose(), CheckpointError);
});
