// Every reader decides from the file's size (and at most a short head) what it can refuse before it reads the
// file: a CIFAR-10 file that is not whole records, an IDX file longer or shorter than its header declares, a
// gzip stream far larger than what it declares, a MAT file too short, not MAT or longer than maxBytes, a
// checkpoint whose header runs past the end. The files are sparse, so their size costs no disk; the bytes the
// readers read are counted on the fs module itself.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { CheckpointError, CifarFormatError, IdxFormatError, MatFormatError, Sequential, readCifar10, readIdx, readMat } from '../lib';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-reader-sizes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MB = 1 << 20;

/** A file that starts with `head` and is `size` bytes long, the rest a hole. */
function sparse(name: string, head: Uint8Array, size: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, head);
  fs.truncateSync(file, size);
  return file;
}

/** Runs call; returns what it threw and how many bytes it read from files. */
function reading(call: () => unknown): { error: unknown; bytesRead: number } {
  const nodeFs = require('fs') as typeof fs;  // the module itself: the library's bindings to it are live
  const spy = jest.spyOn(nodeFs, 'readSync');
  let error: unknown;
  let bytesRead = 0;
  try {
    call();
  } catch (e) {
    error = e;
  } finally {
    bytesRead = spy.mock.results.reduce((sum, r) => sum + (r.type === 'return' ? (r.value as number) : 0), 0);
    spy.mockRestore();  // which clears the results
  }
  return { error, bytesRead };
}

const idxHeader = (dims: number[], type = 8) => {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.set([0, 0, type, dims.length]);
  dims.forEach((v, i) => h.writeUInt32BE(v, 4 + 4 * i));
  return h;
};

const matHeader = () => {
  const header = Buffer.alloc(128, ' ');
  header.write('MATLAB 5.0 MAT-file', 0, 'latin1');
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  return header;
};

describe('CIFAR-10', () => {
  test('a file that is not whole records is refused from its size, with maxBytes raised, before a byte is read', () => {
    const file = sparse('big.bin', Buffer.from([3]), 100 * MB + 1);
    const r = reading(() => readCifar10(file, { maxBytes: 2 ** 31 }));
    expect(r.error).toBeInstanceOf(CifarFormatError);
    expect((r.error as Error).message).toBe(`${file}: ${100 * MB + 1} bytes is not a whole number of 3073-byte CIFAR-10 records`);
    expect(r.bytesRead).toBe(0);
  });

  test('an empty file is refused before reading', () => {
    const file = sparse('empty.bin', new Uint8Array(0), 0);
    const r = reading(() => readCifar10(file));
    expect(r.error).toBeInstanceOf(CifarFormatError);
    expect(r.bytesRead).toBe(0);
  });
});

describe('IDX', () => {
  test('a plain file longer than its header declares: refused after the header', () => {
    const file = sparse('long-idx', idxHeader([10, 28, 28]), 100 * MB);
    const r = reading(() => readIdx(file));
    expect(r.error).toBeInstanceOf(IdxFormatError);
    expect((r.error as Error).message).toBe(`${file}: ${100 * MB - 7856} trailing bytes after the payload`);
    expect(r.bytesRead).toBeLessThanOrEqual(4096);
  });

  test('a plain file shorter than its header declares: refused after the header', () => {
    const file = sparse('short-idx', idxHeader([1000, 1000, 100]), 50 * MB);
    const r = reading(() => readIdx(file));
    expect(r.error).toBeInstanceOf(IdxFormatError);
    expect((r.error as Error).message).toBe(`${file}: truncated payload (${50 * MB - 16} bytes, dimensions 1000 x 1000 x 100 need 100000000)`);
    expect(r.bytesRead).toBeLessThanOrEqual(4096);
  });

  test('a gzip file far larger than any stream of what it declares: refused after its head', () => {
    const stream = zlib.gzipSync(Buffer.concat([idxHeader([2, 2]), Buffer.alloc(4, 1)]));
    const file = sparse('padded-idx.gz', stream, 100 * MB);
    const r = reading(() => readIdx(file));
    expect(r.error).toBeInstanceOf(IdxFormatError);
    expect((r.error as Error).message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: ${100 * MB} bytes, more than a gzip stream of the 16 bytes its header declares can be$`));
    expect(r.bytesRead).toBeLessThanOrEqual(4096);
  });

  test('well-formed files still read, plain and gzipped', () => {
    const payload = Buffer.concat([idxHeader([3, 2]), Buffer.from([1, 2, 3, 4, 5, 6])]);
    const plain = sparse('ok-idx', payload, payload.length);
    const gz = sparse('ok-idx.gz', zlib.gzipSync(payload), zlib.gzipSync(payload).length);
    for (const file of [plain, gz]) expect(Array.from(readIdx(file).bytes)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('MAT', () => {
  test('a file too short for the header is refused from its size', () => {
    const file = sparse('short.mat', Buffer.from('MATLAB'), 100);
    const r = reading(() => readMat(file));
    expect(r.error).toBeInstanceOf(MatFormatError);
    expect((r.error as Error).message).toBe(`${file}: 100 bytes is too short for a MAT v5 header`);
    expect(r.bytesRead).toBe(0);
  });

  test('a large file that is not MAT is refused after its header', () => {
    const file = sparse('not.mat', Buffer.from('NOT A MAT FILE'), 100 * MB);
    const r = reading(() => readMat(file));
    expect(r.error).toBeInstanceOf(MatFormatError);
    expect((r.error as Error).message).toBe(`${file}: not a MAT file (no 'MATLAB' header text)`);
    expect(r.bytesRead).toBeLessThanOrEqual(4096);
  });

  test('a first element that claims more bytes than the file holds is refused after its tag', () => {
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(14, 0);
    tag.writeUInt32LE(200 * MB, 4);
    const file = sparse('truncated.mat', Buffer.concat([matHeader(), tag]), 100 * MB);
    const r = reading(() => readMat(file));
    expect(r.error).toBeInstanceOf(MatFormatError);
    expect((r.error as Error).message).toBe(`${file}: element at byte 128 claims ${200 * MB} bytes, ${100 * MB - 136} remain`);
    expect(r.bytesRead).toBeLessThanOrEqual(4096);
  });

  test('a file larger than maxBytes is refused from its size', () => {
    const file = sparse('large.mat', matHeader(), 100 * MB);
    const r = reading(() => readMat(file, { maxBytes: MB }));
    expect(r.error).toBeInstanceOf(MatFormatError);
    expect((r.error as Error).message).toBe(`${file}: is ${100 * MB} bytes, more than the limit of ${MB} bytes`);
    expect(r.bytesRead).toBe(0);
  });
});

describe('checkpoints', () => {
  test('a header length past the end of the file is refused after the 8 bytes that give it', () => {
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(50 * MB));
    const file = sparse('short-header.safetensors', head, 10 * MB);
    const r = reading(() => Sequential.load(file));
    expect(r.error).toBeInstanceOf(CheckpointError);
    expect((r.error as Error).message).toBe(`${file}: header length ${50 * MB} exceeds the ${10 * MB - 8} bytes after it`);
    expect(r.bytesRead).toBe(8);
  });
});

test('the CLI reads a settings file only if it is a small regular file: a FIFO is refused at once', () => {
  const fifo = path.join(dir, 'settings-fifo');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  const big = sparse('settings-big.json', Buffer.from('{'), 2 * MB);
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli', 'main.js'), ...args],
    { encoding: 'utf8', timeout: 20_000 });
  const r = cli('bench', '--settings', fifo, '--out', path.join(dir, 'bench'), '--quiet');
  expect([r.signal, r.status]).toEqual([null, 1]);  // not killed by the timeout: no wait for a writer
  expect(r.stderr).toMatch(/cannot read settings file .*settings-fifo: is a FIFO \(named pipe\), not a regular file/);
  const r2 = cli('bench', '--settings', big, '--out', path.join(dir, 'bench'), '--quiet');
  expect(r2.stderr).toMatch(/settings-big\.json: is 2097152 bytes, more than the limit of 1048576 bytes/);
});
