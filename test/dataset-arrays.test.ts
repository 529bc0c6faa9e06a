// The arrays the readers and dataset loaders return: on a SharedArrayBuffer where the platform has one (Node
// does), so that fit, evaluate and predict read them in place instead of copying them (lib/data.ts
// pinnedForNative), with the values they had on an ordinary ArrayBuffer; training on them is training on a
// copy; they are shared with, not transferred to, another thread. The synthetic sets' values are pinned by the
// golden hashes of test/datasets.test.ts.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MessageChannel } from 'worker_threads';
import { Autoencoder, KBFGS, datasets, oneHot, parseCifar10, parseIdx, readIdxImages } from '../lib';
import { datasetArray, pinnedForNative } from '../lib/data';
import { idxImages } from '../lib/datasets/idx';
import { tokenIds } from '../lib/tokens';

const dataDir = path.join(__dirname, '..', 'data');
const fixtures = path.join(__dirname, 'fixtures');
const mnistFixture = path.join(dataDir, 'mnist-t10k-first100-images-idx3-ubyte');
const bufferKind = (a: Float32Array) => Object.prototype.toString.call(a.buffer);
const SHARED = '[object SharedArrayBuffer]';

/** x/255 of each byte on an ordinary array: what the IDX and CIFAR-10 readers returned before. */
const scaled = (bytes: Uint8Array) => Float32Array.from(bytes, (b) => b / 255);
/** The same float32 values, bit for bit (toEqual walks large arrays slowly). */
const sameValues = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// Larger sets are made in a plain node process on the built package: jest's module sandbox makes the
// generators' and the MAT reader's loops tens of times slower than they are for users.
function inBuiltPackage(body: string) {
  const script = `const lib = require('./dist'); const kind = (a) => Object.prototype.toString.call(a.buffer); let out; ${body}; process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' }));
}

describe('the readers and loaders return their values on a SharedArrayBuffer, unchanged', () => {
  test('readIdxImages and idxImages: x/255 of the file\'s pixels, read by fit without a copy', () => {
    const images = readIdxImages(mnistFixture);
    expect(bufferKind(images.data)).toBe(SHARED);
    expect(sameValues(images.data, scaled(fs.readFileSync(mnistFixture).subarray(16)))).toBe(true);
    expect(pinnedForNative(images.data)).toBe(images.data);  // the array itself, not a copy
    const parsed = idxImages(parseIdx(fs.readFileSync(mnistFixture)), 'fixture');
    expect(bufferKind(parsed.data)).toBe(SHARED);
    expect(sameValues(parsed.data, images.data)).toBe(true);
  });

  test('oneHot', () => {
    const y = oneHot([2, 0, 1], 3);
    expect(bufferKind(y.data)).toBe(SHARED);
    expect(Array.from(y.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
  });

  test('datasets.mnist with labels: images and one-hot targets of both splits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-arrays-mnist-'));
    try {
      const images = fs.readFileSync(mnistFixture);
      const labels = Uint8Array.from({ length: 100 }, (_, i) => (3 * i) % 10);
      const labelFile = Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 100]), labels]);
      for (const prefix of ['train', 't10k']) {
        fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), images);
        fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), labelFile);
      }
      const d = await datasets.mnist({ dir, labels: true });
      for (const split of [d.train, d.test]) {
        expect([bufferKind(split.x.data), bufferKind(split.y.data)]).toEqual([SHARED, SHARED]);
        expect(sameValues(split.x.data, scaled(images.subarray(16)))).toBe(true);
        expect(sameValues(split.y.data, Float32Array.from({ length: 1000 }, (_, i) => (i % 10 === labels[Math.floor(i / 10)] ? 1 : 0)))).toBe(true);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('parseCifar10 and datasets.cifar10', () => {
    const record = (label: number, shift: number) => Uint8Array.from({ length: 3073 }, (_, j) => (j === 0 ? label : (j * 7 + shift) % 256));
    const file = (n: number, first: number) => Buffer.concat(Array.from({ length: n }, (_, r) => record((first + r) % 10, first + r)));
    const one = parseCifar10(file(2, 4));
    expect(bufferKind(one.images.data)).toBe(SHARED);
    expect(sameValues(one.images.data, scaled(Uint8Array.from([...record(4, 4).subarray(1), ...record(5, 5).subarray(1)])))).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-arrays-cifar-'));
    try {
      for (let f = 1; f <= 5; f++) fs.writeFileSync(path.join(dir, `data_batch_${f}.bin`), file(2, 2 * f));
      fs.writeFileSync(path.join(dir, 'test_batch.bin'), file(1, 0));
      const d = datasets.cifar10({ dir, labels: true });
      for (const m of [d.train.x, d.train.y, d.test.x, d.test.y]) expect(bufferKind(m.data)).toBe(SHARED);
      const rows = Array.from({ length: 10 }, (_, r) => record((2 + r) % 10, 2 + r).subarray(1));
      expect(sameValues(d.train.x.data, scaled(Uint8Array.from(rows.flatMap((r) => [...r]))))).toBe(true);
      expect(Array.from(d.test.y.data)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('curvesSynth and facesSynth: every split a view of one shared buffer', () => {
    const out = inBuiltPackage(`
      const faces = lib.datasets.facesSynth({ file: ${JSON.stringify(path.join(fixtures, 'olivetti-first20-images-idx3-ubyte'))} });
      out = [lib.datasets.curvesSynth({ trainSize: 20, testSize: 10 }), faces].map((d) => {
        const splits = [d.train, d.validation, d.test].filter((s) => s !== undefined);
        return { kinds: splits.map((s) => kind(s.data)), buffers: new Set(splits.map((s) => s.data.buffer)).size };
      });`);
    expect(out).toEqual([{ kinds: [SHARED, SHARED], buffers: 1 }, { kinds: [SHARED, SHARED], buffers: 1 }]);
  });

  test('readMat and matVariableRows, samples along either axis', () => {
    const out = inBuiltPackage(`
      const { matVariableRows } = require('./dist/datasets/mat');
      const faces = lib.readMat(${JSON.stringify(path.join(fixtures, 'olivettifaces.mat'))}).get('faces');  // 4096 x 400, column-major
      const images = matVariableRows(faces, 'columns');  // one image per MATLAB column: the variable's own array
      const pixels = matVariableRows(faces, 'rows');  // one pixel per row: transposed into a new array
      let transposed = true;
      for (let j = 0; j < 400; j++) for (let i = 0; i < 4096; i++) transposed &&= pixels.data[i * 400 + j] === faces.data[j * 4096 + i];
      // The values: MAT column i is image i in column-major order, IDX pixel (r, c) = faces[64c + r, i].
      const idx = lib.readIdx(${JSON.stringify(path.join(dataDir, 'olivetti-images-idx3-ubyte'))});
      let matchesIdx = true;
      for (let i = 0; i < 400; i++) for (let r = 0; r < 64; r++) for (let c = 0; c < 64; c++)
        matchesIdx &&= faces.data[i * 4096 + 64 * c + r] === idx.bytes[i * 4096 + 64 * r + c];
      out = { faces: kind(faces.data), columnsIsTheVariable: images.data === faces.data, pixels: [kind(pixels.data), pixels.rows, pixels.cols], transposed, matchesIdx };`);
    expect(out).toEqual({ faces: SHARED, columnsIsTheVariable: true, pixels: [SHARED, 4096, 400], transposed: true, matchesIdx: true });
  });

  test('without a SharedArrayBuffer (a page that is not cross-origin isolated) the arrays are ordinary', () => {
    const global = globalThis as { SharedArrayBuffer?: SharedArrayBufferConstructor };
    const saved = global.SharedArrayBuffer;
    delete global.SharedArrayBuffer;
    try {
      expect(bufferKind(datasetArray(3))).toBe('[object ArrayBuffer]');
      const images = readIdxImages(mnistFixture);
      expect(bufferKind(images.data)).toBe('[object ArrayBuffer]');
      expect(sameValues(images.data, scaled(fs.readFileSync(mnistFixture).subarray(16)))).toBe(true);
    } finally {
      global.SharedArrayBuffer = saved;
    }
    expect(bufferKind(datasetArray(3))).toBe(SHARED);
  });
});

test('fit, evaluate and predict on reader data in place give what they give on an ordinary copy', async () => {
  const images = readIdxImages(mnistFixture);
  const train = { data: images.data.subarray(0, 80 * 784), rows: 80, cols: 784 };
  const test = { data: images.data.subarray(80 * 784), rows: 20, cols: 784 };
  const copy = (m: typeof train) => ({ ...m, data: m.data.slice() });
  expect(bufferKind(copy(train).data)).toBe('[object ArrayBuffer]');
  const run = async (t: typeof train, v: typeof test) => {
    const model = new Autoencoder({ encoder: [784, 32, 8], loss: 'sigmoidCrossEntropy', seed: 5 });
    try {
      const h = await model.fit(t, { optimizer: new KBFGS(), epochs: 3, batchSize: 20, threads: 1, validationData: v });
      return { loss: h.history.loss, valLoss: h.history.valLoss, evaluated: await model.evaluate(v), predicted: (await model.predict(v)).data };
    } finally {
      model.dispose();
    }
  };
  const inPlace = await run(train, test);
  const onCopy = await run(copy(train), copy(test));
  expect(inPlace.loss[2]).toBeLessThan(inPlace.loss[0]);
  expect(inPlace).toEqual(onCopy);
});

test('shared with another thread by postMessage without a transfer list, refused in one; .slice() is a private copy', async () => {
  const x = readIdxImages(mnistFixture).data;
  const { port1, port2 } = new MessageChannel();
  try {
    expect(() => port1.postMessage(x, [x.buffer as unknown as ArrayBuffer])).toThrow();
    const received = new Promise<Float32Array>((resolve) => port2.once('message', resolve));
    port1.postMessage(x);
    const there = await received;
    there[0] = 42;  // the same memory, not a clone
    expect(x[0]).toBe(42);
  } finally {
    port1.close();
  }
  const copy = x.slice();
  const moved = structuredClone(copy, { transfer: [copy.buffer] });
  expect([copy.length, moved.length, moved[0], bufferKind(moved)]).toEqual([0, x.length, 42, '[object ArrayBuffer]']);
});

test('Int32 token ids become one shared Float32 array that fit reads in place, with the same ids', () => {
  const ids = Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 13);
  const m = tokenIds('x', { data: ids, rows: 8, cols: 8 }, 13);
  expect(bufferKind(m.data)).toBe(SHARED);
  expect(Array.from(m.data)).toEqual(Array.from(ids));
  expect(pinnedForNative(m.data)).toBe(m.data);
  const floats = Float32Array.from(ids);  // Float32 ids are the caller's own array: used as given
  expect(tokenIds('x', { data: floats, rows: 8, cols: 8 }, 13).data).toBe(floats);
});
