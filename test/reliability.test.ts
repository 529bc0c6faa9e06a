// Reliability: nothing a caller, a file or a worker does crashes, hangs or balloons the process. Each crash
// scenario runs in a child process on the built package, which must exit cleanly with a finished fit or a
// typed error; reader bombs are measured by the child's peak RSS.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  Adam, BusyError, CheckpointError, IdxFormatError, InvalidArgumentError, KBFGS, KBFGSL, KFAC, KbfgsError,
  MatFormatError, NumericalError, OutOfMemoryError, SGD, Sequential, datasets, parseIdx, parseMat, readIdx, readMat,
} from '../lib';
import { encodeSafetensors, decodeSafetensors } from '../lib/checkpoint';

const root = path.join(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-reliability-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a script against the built package in a fresh node; a hang fails through the timeout. */
function child(script: string, env: NodeJS.ProcessEnv = process.env, timeout = 60_000) {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', `const lib = require('./dist');\n${script}`],
    { cwd: root, encoding: 'utf8', timeout, env });
  return { status: r.status, signal: r.signal, out: r.stdout.trim(), err: r.stderr };
}

// A fit long enough that an uncancelled native thread would outlive any timeout here.
const LONG_FIT = `
const rows = 4000, d = 40;
function data(buffer) { const x = new Float32Array(buffer); for (let i = 0; i < x.length; i++) x[i] = Math.sin(i); return x; }
const model = new lib.Sequential({ inputDim: d, layers: [{ units: 64, activation: 'tanh' }, { units: d }], loss: 'halfSquaredError' });
`;

describe('data that JavaScript pulls away during a call', () => {
  test.each([
    ['transferred by structuredClone', 'structuredClone(x, { transfer: [buffer] });'],
    ['shrunk by resize(0)', 'buffer.resize(0);'],
  ])('an ArrayBuffer %s during fit: the fit finishes on its own copy', (_, pullAway) => {
    const r = child(`${LONG_FIT}
const buffer = new ArrayBuffer(rows * d * 4, { maxByteLength: rows * d * 4 });
const x = data(buffer);
const fit = model.fit({ data: x, rows, cols: d }, { optimizer: new lib.Adam(), epochs: 6, batchSize: 50, threads: 1 });
setTimeout(() => { ${pullAway} global.gc(); global.gc(); }, 20);
fit.then((h) => console.log('finished', x.length, h.history.loss.every(Number.isFinite)), (e) => console.log('error', e.name, e.message));`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.out).toBe('finished 0 true');  // the caller's array is gone, the training data was not
  });

  test('evaluate and predict read a private copy too', () => {
    const r = child(`${LONG_FIT}
const buffer = new ArrayBuffer(rows * d * 4);
const x = data(buffer);
const loss = model.evaluate({ data: x, rows, cols: d });
structuredClone(x, { transfer: [buffer] }); global.gc();
loss.then(async (l) => {
  const y = data(new ArrayBuffer(rows * d * 4));
  const out = model.predict({ data: y, rows, cols: d });
  structuredClone(y, { transfer: [y.buffer] }); global.gc();
  console.log(Number.isFinite(l), (await out).data.length);
}).catch((e) => console.log('error', e.message));`);
    expect([r.signal, r.status, r.out]).toEqual([null, 0, 'true 160000']);
  });

  test('data on a SharedArrayBuffer is read in place and trains like a copy', async () => {
    const rows = 64, d = 6;
    const shared = new Float32Array(new SharedArrayBuffer(rows * d * 4));
    for (let i = 0; i < shared.length; i++) shared[i] = Math.cos(i);
    const make = () => new Sequential({ inputDim: d, layers: [{ units: 5, activation: 'tanh' }, { units: d }], loss: 'halfSquaredError', seed: 2 });
    const a = make(), b = make();
    const ha = await a.fit({ data: shared, rows, cols: d }, { optimizer: new Adam(), epochs: 3, batchSize: 16, threads: 1 });
    const hb = await b.fit({ data: Float32Array.from(shared), rows, cols: d }, { optimizer: new Adam(), epochs: 3, batchSize: 16, threads: 1 });
    expect(ha.history.loss).toEqual(hb.history.loss);
    a.dispose();
    b.dispose();
  });
});

// Epochs of seconds: the worker must not wait for an epoch's end (the first event JS would otherwise get).
test.each([
  ['with a batch callback', `onBatchEnd: (b) => { if (b === 3) parentPort.postMessage('training'); }`],
  ['with only an epoch callback', ''],
])('a worker terminated while a fit runs in it, %s: the fit is cancelled, the worker exits, the process lives on', (_, callback) => {
  const r = child(`
const { Worker } = require('worker_threads');
const worker = new Worker(\`
  const lib = require('./dist');
  const { parentPort } = require('worker_threads');
  const rows = 60000, d = 100;
  const x = new Float32Array(rows * d).map((_, i) => Math.sin(i));
  const model = new lib.Sequential({ inputDim: d, layers: [{ units: 512, activation: 'tanh' }, { units: d }], loss: 'halfSquaredError' });
  model.fit({ data: x, rows, cols: d }, { optimizer: new lib.KBFGS(), epochs: 100000, batchSize: 50, threads: 1,
    onEpochEnd: () => {}, ${callback} });
  setTimeout(() => parentPort.postMessage('training'), 300);
\`, { eval: true });
let stopAt = 0;
worker.on('message', (m) => { if (m === 'training') { stopAt = Date.now(); worker.terminate(); } });
worker.on('exit', (code) => { console.log('worker exited', code, Date.now() - stopAt); setTimeout(() => console.log('process alive'), 50); });`);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  const [, code, waited] = /^worker exited (\d+) (\d+)\nprocess alive$/.exec(r.out) ?? [];
  expect(code).toBe('1');
  // A liveness bound, not a speed target: the exit waits for one batch; waiting for the epoch's end (what
  // happened before training watched for the teardown) takes over 15 s here and far more under the sanitizers.
  expect(Number(waited)).toBeLessThan(5000);
});

describe('memory checked before it is touched', () => {
  test.each([
    ['K-BFGS', () => new KBFGS()],
    ['K-BFGS(L)', () => new KBFGSL()],
    ['KFAC', () => new KFAC()],
  ])('%s on a 2^20-wide layer fails at once with OutOfMemoryError naming the layer and the bytes', async (name, make) => {
    const width = 1 << 20, rows = 4;
    const model = new Sequential({ inputDim: width, layers: [{ units: 3 }], loss: 'halfSquaredError' });
    const data = { x: { data: new Float32Array(rows * width), rows, cols: width }, y: { data: new Float32Array(rows * 3), rows, cols: 3 } };
    const error = await model.fit(data, { optimizer: make(), batchSize: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect(error.message).toMatch(new RegExp(`^${name.replace(/[()]/g, '\\$&')}'s state needs [\\d.]+ TB \\(\\d+ bytes\\).*layer 0 .*1048577 x 1048577.*available$`));
    await expect(model.evaluate(data)).resolves.toBeGreaterThanOrEqual(0);  // still usable
    model.dispose();
  });

  test('computeGradients whose workspace cannot exist: OutOfMemoryError, not an abort', () => {
    const r = child(`
const model = new lib.Sequential({ inputDim: 1, layers: [{ units: 30000, activation: 'relu' }, { units: 1 }], loss: 'halfSquaredError' });
const rows = 1000000;
try { model.computeGradients({ x: { data: new Float32Array(rows), rows, cols: 1 }, y: { data: new Float32Array(rows), rows, cols: 1 } }); console.log('no error'); }
catch (e) { console.log(e.name, /workspace for batches of 1000000 rows needs/.test(e.message)); }`);
    expect([r.signal, r.status, r.out]).toEqual([null, 0, 'OutOfMemoryError true']);
  });

  test('under an address-space limit the allocation failure is a typed error too', () => {
    // The plain build (the sanitizers reserve terabytes of address space and cannot run under a limit).
    const env = { ...process.env, LD_PRELOAD: '', KBFGS_ADDON: '' };
    const script = `const lib = require('./dist');
const model = new lib.Sequential({ inputDim: 1, layers: [{ units: 30000, activation: 'relu' }, { units: 1 }], loss: 'halfSquaredError' });
const rows = 100000;
try { model.computeGradients({ x: { data: new Float32Array(rows), rows, cols: 1 }, y: { data: new Float32Array(rows), rows, cols: 1 } }); console.log('no error'); }
catch (e) { console.log(e.name); }`;
    const r = spawnSync('bash', ['-c', `ulimit -v 6000000; exec "${process.execPath}" -e "$SCRIPT"`],
      { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...env, SCRIPT: script } });
    expect([r.signal, r.status, r.stdout.trim()]).toEqual([null, 0, 'OutOfMemoryError']);
  });
});

describe('readers stay within what the format declares', () => {
  const idxHeader = (dims: number[]) => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h.set([0, 0, 8, dims.length]);
    dims.forEach((v, i) => h.writeUInt32BE(v, 4 + 4 * i));
    return h;
  };
  // The child's own peak (VmHWM starts afresh at exec; getrusage's maxRSS would carry this process's peak over).
  const peakRss = (script: string) => {
    const r = child(`${script}\nconsole.log(/VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);`,
      { ...process.env, LD_PRELOAD: '', KBFGS_ADDON: '' });
    expect([r.signal, r.status]).toEqual([null, 0]);
    const lines = r.out.split('\n');
    return { message: lines[0], peakMB: Number(lines[1]) / 1024 };
  };
  let baselineMB = 0;
  beforeAll(() => {
    baselineMB = peakRss('console.log("baseline");').peakMB;
  });

  test('a gzipped IDX that inflates past its header: a typed error within the declared size', () => {
    const file = path.join(dir, 'bomb-idx.gz');
    fs.writeFileSync(file, zlib.gzipSync(Buffer.concat([idxHeader([10, 28, 28]), Buffer.alloc(300 << 20)])));
    expect(fs.statSync(file).size).toBeLessThan(1 << 20);
    const r = peakRss(`try { lib.readIdx(${JSON.stringify(file)}); } catch (e) { console.log(e.name + ': ' + e.message); }`);
    expect(r.message).toMatch(/^IdxFormatError: .*bomb-idx\.gz: inflates to more than the 7856 bytes its header declares$/);
    expect(r.peakMB - baselineMB).toBeLessThan(32);  // 300 MB would have been inflated before
  });

  test('a gzipped IDX whose header declares more than maxBytes is refused before inflating; maxBytes raises the cap', () => {
    const gz = zlib.gzipSync(Buffer.concat([idxHeader([2000, 1000, 1000]), Buffer.alloc(1 << 20)]));
    expect(() => parseIdx(gz, 'huge.gz')).toThrow(/huge\.gz: dimensions 2000 x 1000 x 1000 of uint8 declare 2000000016 bytes, more than the limit of 1073741824 \(raise it with the maxBytes option\)/);
    const small = zlib.gzipSync(Buffer.concat([idxHeader([4, 4]), Buffer.alloc(16, 7)]));
    expect(() => parseIdx(small, 's', { maxBytes: 27 })).toThrow(/declare 28 bytes, more than the limit of 27/);
    expect(parseIdx(small, 's', { maxBytes: 28 }).dims).toEqual([4, 4]);
  });

  test('a MAT compressed element that inflates past its tag: a typed error within the declared size', () => {
    const inner = Buffer.alloc(8 + (300 << 20));
    inner.writeUInt32LE(14, 0);
    inner.writeUInt32LE(64, 4);  // declares a 64-byte matrix, then keeps going
    const compressed = zlib.deflateSync(inner);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(compressed.length, 4);
    const header = Buffer.alloc(128, ' ');
    header.write('MATLAB 5.0 MAT-file', 0, 'latin1');
    header.writeUInt16LE(0x0100, 124);
    header.write('IM', 126, 'latin1');
    const file = path.join(dir, 'bomb.mat');
    fs.writeFileSync(file, Buffer.concat([header, tag, compressed]));
    const r = peakRss(`try { lib.readMat(${JSON.stringify(file)}); } catch (e) { console.log(e.name + ': ' + e.message); }`);
    expect(r.message).toMatch(/^MatFormatError: .*bomb\.mat: compressed element before byte \d+: inflates to more than the 72 bytes its header declares$/);
    expect(r.peakMB - baselineMB).toBeLessThan(32);
  });

  test('devices, FIFOs and directories are refused at once, without blocking the event loop', () => {
    const link = path.join(dir, 'zero-link');
    fs.symlinkSync('/dev/zero', link);
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => readIdx('/dev/zero')).toThrow(/\/dev\/zero: is a character device, not a regular file/);
    expect(() => readIdx(link)).toThrow(/zero-link: is a character device, not a regular file/);
    expect(() => readMat(fifo)).toThrow(/fifo: is a FIFO \(named pipe\), not a regular file/);  // no writer: would block
    expect(() => readIdx(dir)).toThrow(/is a directory, not a regular file/);
    expect(() => Sequential.load(fifo)).toThrow(CheckpointError);
  });

  test('a checkpoint header length is checked before the file is read', () => {
    const file = path.join(dir, 'huge-header.safetensors');
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(1e9));
    fs.writeFileSync(file, head);
    fs.truncateSync(file, 1e9 + 8);  // sparse: a real 1 GB header, never read
    const r = peakRss(`try { lib.Sequential.load(${JSON.stringify(file)}); } catch (e) { console.log(e.name + ': ' + e.message); }`);
    expect(r.message).toMatch(/^CheckpointError: .*huge-header\.safetensors: header length 1000000000 is more than the 67108864 bytes a checkpoint header may have$/);
    expect(r.peakMB - baselineMB).toBeLessThan(32);
  });
});

describe('validation and error types', () => {
  const tiny = () => new Sequential({ inputDim: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 3 }], loss: 'halfSquaredError', seed: 1 });
  const x = { data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)), rows: 20, cols: 3 };

  test.each([
    [-1], [1.5], [1e300],
  ])('a checkpoint whose step counter is %p is refused', async (step) => {
    const model = tiny();
    await model.fit(x, { optimizer: new Adam(), epochs: 1, batchSize: 5 });
    const file = path.join(dir, `step.safetensors`);
    model.save(file);
    model.dispose();
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
    const training = JSON.parse(metadata.training);
    const bytes = encodeSafetensors(tensors, { ...metadata, training: JSON.stringify({ ...training, step }) });
    expect(() => Sequential.fromCheckpoint(bytes, 'tampered')).toThrow(/tampered: checkpoint step is (-1|1\.5|1e\+300), expected a whole number from 0 to 9\.0072e\+15/);
  });

  test('epochs of 2^31 or more is an epochs error, in the API and the CLI', async () => {
    const model = tiny();
    await expect(model.fit(x, { optimizer: new Adam(), epochs: 2 ** 31 })).rejects.toThrow(/epochs must be .*2147483647/);
    model.dispose();
    const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'train', '--epochs', String(2 ** 31)], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--epochs must be at most 2147483647/);
  });

  test.each([
    ['parseIdx(null)', () => parseIdx(null as never), IdxFormatError],
    ['parseMat(undefined)', () => parseMat(undefined as never), MatFormatError],
    ['fromCheckpoint(null)', () => Sequential.fromCheckpoint(null as never), InvalidArgumentError],
    ['datasets.curves()', () => datasets.curves(undefined as never), InvalidArgumentError],
  ])('%s is a typed error', (_, call, type) => {
    expect(call).toThrow(type);
  });

  test('setWeights during a fit is a BusyError', async () => {
    const model = tiny();
    const fit = model.fit(x, { optimizer: new Adam(), epochs: 50, batchSize: 1 });
    expect(() => model.setWeights(model.weightShapes.map((l) => ({ weight: new Float32Array(l.units * l.inputs), bias: new Float32Array(l.units) }))))
      .toThrow(BusyError);
    await fit;
    model.dispose();
  });

  test('evaluate on inputs that overflow is a NumericalError naming the rows and the layer, like fit', async () => {
    const model = new Sequential({ inputDim: 3, layers: [{ units: 4, activation: 'relu' }, { units: 3 }], loss: 'halfSquaredError' });
    model.setWeights(model.weightShapes.map((l) => ({ weight: new Float32Array(l.units * l.inputs).fill(1), bias: new Float32Array(l.units) })));
    const big = { data: Float32Array.from(x.data, (v, i) => (i >= 30 && i < 33 ? 3e38 : v)), rows: 20, cols: 3 };  // row 10 overflows
    const error = await model.evaluate(big).catch((e) => e);
    expect(error).toBeInstanceOf(NumericalError);
    expect(error.message).toMatch(/^the loss over the inputs is Infinity: rows 0 to 19 make it non-finite, first in the pre-activations of layer 0$/);
    model.dispose();
  });

  test("SGD's NaN found at the epoch end names the step and the layer", async () => {
    const model = tiny();
    const error = await model.fit(x, { optimizer: new SGD({ lr: 1e18 }), epochs: 3, batchSize: 20 }).catch((e) => e);
    expect(error).toBeInstanceOf(NumericalError);
    expect(error.message).toMatch(/^step \d+ \(epoch \d+, batch 0\), the last of epoch \d+: the training loss over the training set became (NaN|Infinity)(, first in the weights of layer \d| \(the weights are finite)/);
    expect(error.message).not.toMatch(/-?nan\b/);
    model.dispose();
  });

  test('a MAT v7.3 (HDF5) file is named as such', () => {
    const file = Buffer.alloc(1024, 0);
    file.write('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Nov 30 2026 HDF5 schema 1.00 .', 0, 'latin1');
    file.writeUInt16LE(0x0200, 124);
    file.write('IM', 126, 'latin1');
    file.write('\x89HDF\r\n\x1a\n', 512, 'latin1');
    expect(() => parseMat(file, 'v73.mat')).toThrow(/v73\.mat: a MAT v7\.3 file \(HDF5\), which this reader does not support/);
  });

  // MAT v5 files written here, in either byte order, with complex variables on request.
  function matFile(bigEndian: boolean, variables: Array<{ name: string; rows: number; cols: number; real: number[]; imag?: number[] }>) {
    const u32 = (v: number) => { const b = Buffer.alloc(4); bigEndian ? b.writeUInt32BE(v) : b.writeUInt32LE(v); return b; };
    const element = (type: number, payload: Buffer) =>
      Buffer.concat([u32(type), u32(payload.length), payload, Buffer.alloc((8 - (payload.length % 8)) % 8)]);
    const doubles = (values: number[]) => Buffer.concat(values.map((v) => { const b = Buffer.alloc(8); bigEndian ? b.writeDoubleBE(v) : b.writeDoubleLE(v); return b; }));
    const header = Buffer.alloc(128, ' ');
    header.write('MATLAB 5.0 MAT-file', 0, 'latin1');
    header.fill(0, 116, 124);
    if (bigEndian) header.writeUInt16BE(0x0100, 124); else header.writeUInt16LE(0x0100, 124);
    header.write(bigEndian ? 'MI' : 'IM', 126, 'latin1');
    return Buffer.concat([header, ...variables.map((v) => element(14, Buffer.concat([
      element(6, Buffer.concat([u32(6 | (v.imag ? 0x800 : 0)), u32(0)])),
      element(5, Buffer.concat([u32(v.rows), u32(v.cols)])),
      element(1, Buffer.from(v.name, 'latin1')),
      element(9, doubles(v.real)),
      ...(v.imag ? [element(9, doubles(v.imag))] : []),
    ])))]);
  }

  test('MAT files of either byte order read alike; a complex variable gives its real part and does not stop the others', () => {
    for (const bigEndian of [false, true]) {
      const vars = parseMat(matFile(bigEndian, [
        { name: 'z', rows: 1, cols: 2, real: [1, 2], imag: [3, 4] },
        { name: 'a', rows: 2, cols: 1, real: [5, 6] },
      ]), 'm.mat');
      expect(Array.from(vars.get('z')!.data)).toEqual([1, 2]);
      expect(vars.get('z')!.complex).toBe(true);
      expect([Array.from(vars.get('a')!.data), vars.get('a')!.complex]).toEqual([[5, 6], false]);
    }
  });

  test('datasets.curves checks that its train and test images have the same width', () => {
    const file = path.join(dir, 'curves.mat');
    fs.writeFileSync(file, matFile(false, [
      { name: 'bdata', rows: 2, cols: 3, real: [0, 0, 0, 0, 0, 0] },
      { name: 'bdatatest', rows: 1, cols: 2, real: [0, 0] },
    ]));
    expect(() => datasets.curves({ file })).toThrow(/curves\.mat: 'bdata' has 3 columns but 'bdatatest' has 2/);
    expect(() => datasets.curves({ file: path.join(dir, 'missing.mat') })).toThrow(MatFormatError);
  });

  test('every typed error is a KbfgsError', () => {
    for (const call of [() => parseIdx(null as never), () => datasets.curves({} as never)])
      expect(call).toThrow(KbfgsError);
  });
});
