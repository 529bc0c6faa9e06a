/**
 * IDX reader (the MNIST file format): big-endian header, magic 0x0000TTNN with type code TT and NN dimensions,
 * then the payload in row-major order. Gzipped files are recognised by their magic bytes. Every check failure
 * is an IdxFormatError that names the file and the problem; nothing is allocated beyond what the header declares.
 */
import { KbfgsError } from '../errors';
import { datasetArray, isUint8Array } from '../data';
import { readRegularFile } from '../files';
import { HEAD_INPUT_BYTES, InflateFailure, inflateBounded, inflateHead, largestGzip } from './inflate';

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

/** The most bytes a file may decode to unless the caller raises it (MNIST's largest file is 47 MB). */
export const DEFAULT_MAX_BYTES = 2 ** 30;

export interface IdxReadOptions {
  /** Refuse data that decodes (header and payload) to more than this many bytes. Default 2^30 (1 GiB). */
  maxBytes?: number;
}

interface IdxHeader { type: { name: string; bytes: number }; dims: number[]; headerBytes: number; totalBytes: number }

function readHeader(raw: Uint8Array, name: string, maxBytes: number): IdxHeader {
  if (raw.length < 4) throw new IdxFormatError(`${name}: ${raw.length} bytes is too short for an IDX header`);
  if (raw[0] !== 0 || raw[1] !== 0) throw new IdxFormatError(`${name}: bad magic (first two bytes must be 0)`);
  const type = TYPES[raw[2]];
  if (!type) throw new IdxFormatError(`${name}: unknown type code 0x${raw[2].toString(16)}`);
  const rank = raw[3];
  if (rank === 0) throw new IdxFormatError(`${name}: zero dimensions`);
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes) throw new IdxFormatError(`${name}: truncated header (${rank} dimensions need ${headerBytes} bytes)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const totalBytes = headerBytes + dims.reduce((a, b) => a * b, 1) * type.bytes;  // exact below 2^53
  if (totalBytes > maxBytes)
    throw new IdxFormatError(`${name}: dimensions ${dims.join(' x ')} of ${type.name} declare ${totalBytes} bytes, more than the limit of ${maxBytes} (raise it with the maxBytes option)`);
  return { type, dims, headerBytes, totalBytes };
}

/** Data of this header must be exactly as long as it declares. */
function checkLength(length: number, header: IdxHeader, name: string): void {
  const { dims, headerBytes, totalBytes } = header;
  if (length < totalBytes)
    throw new IdxFormatError(`${name}: truncated payload (${length - headerBytes} bytes, dimensions ${dims.join(' x ')} need ${totalBytes - headerBytes})`);
  if (length > totalBytes)
    throw new IdxFormatError(`${name}: ${length - totalBytes} trailing bytes after the payload`);
}

const isGzip = (raw: Uint8Array) => raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;

/**
 * Parses an IDX buffer (optionally gzipped). `name` appears in error messages. A gzipped file may inflate to
 * no more than its header declares, and no file may declare more than `maxBytes`.
 */
export function parseIdx(buffer: Uint8Array, name = 'IDX data', options: IdxReadOptions = {}): IdxArray {
  if (!isUint8Array(buffer)) throw new IdxFormatError(`${name}: IDX data must be a Uint8Array or Buffer, got ${buffer === null ? 'null' : typeof buffer}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let raw = buffer;
  if (isGzip(raw)) {
    const head = inflateHead('gzip', raw);
    if (head instanceof InflateFailure) throw new IdxFormatError(`${name}: ${head.reason}`);
    const { totalBytes } = readHeader(head, name, maxBytes);
    const inflated = inflateBounded('gzip', raw, totalBytes);
    if (inflated instanceof InflateFailure) throw new IdxFormatError(`${name}: ${inflated.reason}`);
    raw = inflated;
  }
  const header = readHeader(raw, name, maxBytes);
  checkLength(raw.length, header, name);
  return { dims: header.dims, type: header.type.name, bytes: raw.subarray(header.headerBytes) };
}

/**
 * Reads an IDX file (optionally gzipped); only regular files are read (see lib/files.ts). The header, read
 * first (inflated from the head of a gzip file), decides from the file's size whether to read the rest: a
 * plain file must be exactly as long as it declares, a gzip file no longer than any stream of it can be.
 */
export function readIdx(file: string, options: IdxReadOptions = {}): IdxArray {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const inspect = (head: Uint8Array, size: number) => {
    if (!isGzip(head)) return checkLength(size, readHeader(head, file, maxBytes), file);
    const inflated = inflateHead('gzip', head);
    if (inflated instanceof InflateFailure) throw new IdxFormatError(`${file}: ${inflated.reason}`);
    const { totalBytes } = readHeader(inflated, file, maxBytes);
    if (size > largestGzip(totalBytes))
      throw new IdxFormatError(`${file}: ${size} bytes, more than a gzip stream of the ${totalBytes} bytes its header declares can be`);
  };
  const bytes = readRegularFile(file, (message) => new IdxFormatError(message),
    { maxBytes: largestGzip(maxBytes), headBytes: HEAD_INPUT_BYTES, inspect });
  return parseIdx(bytes, file, options);
}

/** Reads a uint8 image file (N x rows x cols) as an N x (rows*cols) matrix of x/255. */
export function readIdxImages(file: string, options: IdxReadOptions = {}): { data: Float32Array; rows: number; cols: number } {
  return idxImages(readIdx(file, options), file);
}

/** Parsed uint8 images (N x rows x cols) as an N x (rows*cols) matrix of x/255; `name` appears in errors. */
export function idxImages(idx: IdxArray, name: string): { data: Float32Array; rows: number; cols: number } {
  if (idx.type !== 'uint8' || idx.dims.length < 2)
    throw new IdxFormatError(`${name}: expected uint8 images with at least 2 dimensions, got ${idx.type} ${idx.dims.join(' x ')}`);
  const rows = idx.dims[0];
  const cols = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = datasetArray(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = idx.bytes[i] / 255;
  return { data, rows, cols };
}
