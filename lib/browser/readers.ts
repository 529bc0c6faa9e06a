/**
 * The dataset readers of the browser entry: the Node readers' parsers on bytes (an ArrayBuffer, a typed array,
 * or for the asynchronous ones a Blob), since a page has no file system. What would read files (readIdx,
 * datasets.mnist(), ...) throws NoFileSystemError saying which bytes to pass instead. Synthetic data that needs
 * no file (datasets.curvesSynth) is here as in Node.
 */
import { InvalidArgumentError, NoFileSystemError } from '../errors';
import { idxImages, parseIdx as parseIdxBytes, type IdxArray, type IdxReadOptions } from '../datasets/idx';
import { parseCifar10 as parseCifarBytes, type CifarBatch } from '../datasets/cifar10';
import { DEFAULT_MAX_BYTES, MatFormatError, parseMat as parseMatBytes, type MatReadOptions, type MatVariable } from '../datasets/mat';
import { curvesSynth } from '../datasets/curves-synth';

export type Bytes = ArrayBuffer | ArrayBufferView;

/** The bytes of an ArrayBuffer or of a typed array's view, without a copy. */
export function toUint8(what: string, bytes: Bytes): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new InvalidArgumentError(`${what}: expected an ArrayBuffer or a typed array, got ${bytes === null ? 'null' : typeof bytes}`);
}

/** The bytes of a Blob (a File from an <input type="file">, a fetch's blob()) or of an ArrayBuffer or typed array. */
export async function bytesOf(what: string, source: Bytes | Blob): Promise<Uint8Array> {
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  return toUint8(what, source as Bytes);
}

/** An IDX file's contents (ArrayBuffer or typed array; gunzip() a .gz file first). */
export function parseIdx(bytes: Bytes, name = 'IDX data', options: IdxReadOptions = {}): IdxArray {
  return parseIdxBytes(toUint8('parseIdx', bytes), name, options);
}

/** IDX uint8 images as rows of pixels scaled to [0, 1] (readIdxImages on bytes). */
export function parseIdxImages(bytes: Bytes, name = 'IDX images'): { data: Float32Array; rows: number; cols: number } {
  return idxImages(parseIdx(bytes, name), name);
}

/** One CIFAR-10 binary file's records (data_batch_1.bin, ..., test_batch.bin) as images and labels. */
export function parseCifar10(bytes: Bytes, name = 'CIFAR-10 data'): CifarBatch {
  return parseCifarBytes(toUint8('parseCifar10', bytes), name);
}

/** Decompresses gzip bytes (a .gz dataset file) with the browser's DecompressionStream. */
export async function gunzip(bytes: Bytes | Blob): Promise<ArrayBuffer> {
  const blob = bytes instanceof Blob ? bytes : new Blob([toUint8('gunzip', bytes) as Uint8Array<ArrayBuffer>]);
  return new Response(blob.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
}

/** zlib bytes inflated by the browser, refused once they pass `limit` bytes (the MAT element's bound). */
async function inflateAtMost(compressed: Uint8Array, limit: number, name: string, at: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    const reader = new Blob([compressed as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > limit) {
        await reader.cancel();
        throw new MatFormatError(`${name}: compressed element before byte ${at} inflates to more than the limit of ${limit} bytes (raise it with the maxBytes option)`);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof MatFormatError) throw e;
    throw new MatFormatError(`${name}: compressed element before byte ${at}: corrupt zlib data (${(e as Error).message})`);
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) { out.set(part, offset); offset += part.length; }
  return out;
}

const MI_COMPRESSED = 15;

/**
 * A MAT v5 file's numeric variables (parseMat of the Node API). Asynchronous because MATLAB compresses each
 * variable (miCOMPRESSED, zlib) and a browser inflates only through DecompressionStream: each compressed element
 * is inflated first (at most `maxBytes`, default 2^30), then the file, now uncompressed, is parsed as in Node.
 */
export async function parseMat(bytes: Bytes | Blob, name = 'MAT data', options: MatReadOptions = {}): Promise<Map<string, MatVariable>> {
  const data = await bytesOf('parseMat', bytes);
  if (data.length < 136) return parseMatBytes(data, name, options);  // too short: the Node parser says why
  const little = data[126] === 0x49 && data[127] === 0x4d;  // 'IM'
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const parts: Uint8Array[] = [data.subarray(0, 128)];
  let offset = 128, inflatedAny = false;
  while (offset + 8 <= data.length) {
    const type = view.getUint32(offset, little), size = view.getUint32(offset + 4, little);
    const end = type >>> 16 !== 0 ? offset + 8 : offset + 8 + size;
    if (type !== MI_COMPRESSED || end > data.length) {
      // Left as it is: the Node parser reads it, or names what is wrong with it.
      parts.push(data.subarray(offset));
      break;
    }
    const inner = await inflateAtMost(data.subarray(offset + 8, end), maxBytes, name, end);
    parts.push(inner, new Uint8Array((8 - (inner.length % 8)) % 8));
    inflatedAny = true;
    offset = end;
  }
  if (!inflatedAny) return parseMatBytes(data, name, options);
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { whole.set(part, at); at += part.length; }
  return parseMatBytes(whole, name, options);
}

function needsFiles(call: string, instead: string): never {
  throw new NoFileSystemError(`${call} reads files, which a browser does not have: ${instead}`);
}

export const readIdx = (): never => needsFiles('readIdx()', 'fetch the file (or take it from an <input type="file">) and pass its bytes to parseIdx()');
export const readIdxImages = (): never => needsFiles('readIdxImages()', 'pass the file\'s bytes to parseIdxImages()');
export const readMat = (): never => needsFiles('readMat()', 'pass the file\'s bytes (or Blob) to parseMat()');
export const readCifar10 = (): never => needsFiles('readCifar10()', 'pass each file\'s bytes to parseCifar10()');

const IDX_INSTEAD = 'fetch its IDX files (or take them from an <input type="file">), gunzip() the .gz ones and parse them with parseIdxImages() and parseIdx()';

/** The datasets of the Node API: synthetic CURVES as there, the file-backed ones saying what to do instead. */
export const datasets = {
  curvesSynth,
  mnist: (): never => needsFiles('datasets.mnist()', IDX_INSTEAD),
  fashionMnist: (): never => needsFiles('datasets.fashionMnist()', IDX_INSTEAD),
  cifar10: (): never => needsFiles('datasets.cifar10()', 'fetch its binary files and parse each with parseCifar10()'),
  curves: (): never => needsFiles('datasets.curves()', 'fetch digs3pts_1.mat and parse it with parseMat()'),
  faces: (): never => needsFiles('datasets.faces()', 'fetch newfaces_rot_single.mat and parse it with parseMat()'),
  facesSynth: (): never => needsFiles('datasets.facesSynth()', 'it is built from the Olivetti images the package ships in data/; use it in Node'),
  text: (): never => needsFiles('datasets.text()', 'it reads UTF-8 text files (by default the system\'s fortune files); use it in Node'),
};
