/**
 * IDX reader (the MNIST file format): big-endian header, magic 0x0000TTNN with type code TT and NN dimensions,
 * then the payload in row-major order. Gzipped files are recognised by their magic bytes. Every check failure
 * is an IdxFormatError that names the file and the problem; nothing is allocated beyond what the file holds.
 */
import * as zlib from 'zlib';
import { KbfgsError, readFileOr } from '../errors';

export class IdxFormatError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_IDX_FORMAT');
  }
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

export interface IdxArray {
  dims: number[];
  type: string;
  /** The payload as big-endian bytes (uint8 data needs no conversion). */
  bytes: Uint8Array;
}

const MAX_ELEMENTS = 2 ** 31;  // any real IDX file is far below this

/** Parses an IDX buffer (optionally gzipped). `name` appears in error messages. */
export function parseIdx(buffer: Uint8Array, name = 'IDX data'): IdxArray {
  let raw = buffer;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      // deflate expands at most about 1032:1, so a larger output is a forged stream: cap what it may allocate
      raw = zlib.gunzipSync(raw, { maxOutputLength: Math.min(MAX_ELEMENTS, 1100 * raw.length + 1024) });
    } catch (e) {
      throw new IdxFormatError(`${name}: gzip data is corrupt (${(e as Error).message})`);
    }
  }
  if (raw.length < 4) throw new IdxFormatError(`${name}: ${raw.length} bytes is too short for an IDX header`);
  if (raw[0] !== 0 || raw[1] !== 0) throw new IdxFormatError(`${name}: bad magic (first two bytes must be 0)`);
  const type = TYPES[raw[2]];
  if (!type) throw new IdxFormatError(`${name}: unknown type code 0x${raw[2].toString(16)}`);
  const rank = raw[3];
  if (rank === 0) throw new IdxFormatError(`${name}: zero dimensions`);
  const header = 4 + 4 * rank;
  if (raw.length < header) throw new IdxFormatError(`${name}: truncated header (${rank} dimensions need ${header} bytes)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
    if (count > MAX_ELEMENTS) throw new IdxFormatError(`${name}: dimensions ${dims.join(' x ')}... are absurdly large`);
  }
  const expected = header + count * type.bytes;
  if (raw.length < expected)
    throw new IdxFormatError(`${name}: truncated payload (${raw.length - header} bytes, dimensions ${dims.join(' x ')} need ${count * type.bytes})`);
  if (raw.length > expected)
    throw new IdxFormatError(`${name}: ${raw.length - expected} trailing bytes after the payload`);
  return { dims, type: type.name, bytes: raw.subarray(header) };
}

export function readIdx(file: string): IdxArray {
  return parseIdx(readFileOr(file, (message) => new IdxFormatError(message)), file);
}

/** Reads a uint8 image file (N x rows x cols) as an N x (rows*cols) matrix of x/255. */
export function readIdxImages(file: string): { data: Float32Array; rows: number; cols: number } {
  const idx = readIdx(file);
  if (idx.type !== 'uint8' || idx.dims.length < 2)
    throw new IdxFormatError(`${file}: expected uint8 images with at least 2 dimensions, got ${idx.type} ${idx.dims.join(' x ')}`);
  const rows = idx.dims[0];
  const cols = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = idx.bytes[i] / 255;
  return { data, rows, cols };
}
