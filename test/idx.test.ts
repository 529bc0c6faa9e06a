// The strict IDX reader on the shipped MNIST fixture and on damaged copies of it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { IdxFormatError, parseIdx, readIdx, readIdxImages } from '../lib';

const fixture = path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte');
const bytes = fs.readFileSync(fixture);

test('reads the MNIST fixture: 100 x 28 x 28 uint8, scaled to [0,1]', () => {
  const idx = readIdx(fixture);
  expect(idx.dims).toEqual([100, 28, 28]);
  expect(idx.type).toBe('uint8');
  const images = readIdxImages(fixture);
  expect(images.rows).toBe(100);
  expect(images.cols).toBe(784);
  expect(Math.max(...images.data)).toBe(1);
  expect(images.data[7 * 28 + 14]).toBeCloseTo(bytes[16 + 7 * 28 + 14] / 255, 7);
});

test('a gzipped copy reads the same', () => {
  const gz = parseIdx(zlib.gzipSync(bytes), 'gz');
  expect(Buffer.from(gz.bytes).equals(bytes.subarray(16))).toBe(true);
});

test.each([
  ['truncated payload', bytes.subarray(0, bytes.length - 1), /truncated payload/],
  ['truncated header', bytes.subarray(0, 10), /truncated header/],
  ['trailing bytes', Buffer.concat([bytes, Buffer.from([0])]), /1 trailing bytes/],
  ['wrong magic', Buffer.concat([Buffer.from([1, 0]), bytes.subarray(2)]), /bad magic/],
  ['unknown type', Buffer.concat([Buffer.from([0, 0, 0x42]), bytes.subarray(3)]), /unknown type code 0x42/],
  ['absurd dimensions', Buffer.from([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]), /declare \d+ bytes, more than the limit of 1073741824/],
  ['corrupt gzip', Buffer.from([0x1f, 0x8b, 1, 2, 3]), /corrupt gzip data/],
  ['empty', Buffer.alloc(0), /too short/],
])('%s gives an IdxFormatError naming the problem', (_name, data, message) => {
  expect(() => parseIdx(data, 'sample.idx')).toThrow(IdxFormatError);
  expect(() => parseIdx(data, 'sample.idx')).toThrow(message);
});

test('a missing file names the file', () => {
  const missing = path.join(os.tmpdir(), 'kbfgs-no-such-file.idx');
  expect(() => readIdx(missing)).toThrow(/kbfgs-no-such-file\.idx: cannot read \(ENOENT\)/);
});
