/**
 * A MATLAB MAT v5 reader for numeric matrices: miMATRIX elements, plain or inside miCOMPRESSED (zlib),
 * of class double, single or any integer class, stored in any numeric data type, column-major. Enough to
 * read the original digs3pts_1.mat (CURVES) and newfaces_rot_single.mat (FACES). Every length is checked
 * against the bytes present; problems are MatFormatErrors naming the file.
 */
import { KbfgsError } from '../errors';
import { datasetArray, isUint8Array } from '../data';
import { readRegularFile } from '../files';
import { InflateFailure, inflateBounded, inflateHead } from './inflate';

export class MatFormatError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_MAT_FORMAT');
  }
}

export interface MatVariable {
  name: string;
  /** MATLAB class: 'double', 'single', 'uint8', ... */
  className: string;
  /** MATLAB dimensions, e.g. [rows, cols]. */
  dims: number[];
  /** The real part in column-major order, converted to float32. */
  data: Float32Array;
  /** Whether the variable also has an imaginary part (not read). */
  complex: boolean;
}

export interface MatReadOptions {
  /** Refuse a file (readMat), or a compressed variable, of more than this many bytes. Default 2^30 (1 GiB). */
  maxBytes?: number;
}

/** The most bytes one variable may inflate to unless the caller raises it. */
export const DEFAULT_MAX_BYTES = 2 ** 30;

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15 };
const ELEMENT_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };
const CLASSES: Record<number, string> = {
  6: 'double', 7: 'single', 8: 'int8', 9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64',
};
const MAX_ELEMENTS = 2 ** 31;

interface Element { type: number; data: DataView; next: number }

class Reader {
  constructor(private readonly name: string, private readonly little: boolean) {}

  fail(message: string): never {
    throw new MatFormatError(`${this.name}: ${message}`);
  }

  /** Reads the data element at offset in view (8-byte tag or 4-byte small-element tag). */
  element(view: DataView, offset: number, padded: boolean): Element {
    if (offset + 8 > view.byteLength) this.fail(`truncated element tag at byte ${offset}`);
    const first = view.getUint32(offset, this.little);
    if (first >>> 16 !== 0) {  // small data element: 2-byte size, 2-byte type, up to 4 bytes of data
      const bytes = first >>> 16;
      if (bytes > 4) this.fail(`small element of ${bytes} bytes at byte ${offset}`);
      return { type: first & 0xffff, data: new DataView(view.buffer, view.byteOffset + offset + 4, bytes), next: offset + 8 };
    }
    const bytes = view.getUint32(offset + 4, this.little);
    const start = offset + 8;
    if (start + bytes > view.byteLength) this.fail(`element at byte ${offset} claims ${bytes} bytes, ${view.byteLength - start} remain`);
    const next = padded ? start + Math.ceil(bytes / 8) * 8 : start + bytes;
    return { type: first, data: new DataView(view.buffer, view.byteOffset + start, bytes), next: Math.min(next, view.byteLength) };
  }

  /**
   * A miCOMPRESSED element's contents: one element whose tag declares its size, so inflation may produce that
   * many bytes (plus the 8-byte tag) and no more.
   */
  inflate(compressed: Uint8Array, at: number, maxBytes: number): Buffer {
    const head = inflateHead('zlib', compressed);
    if (head instanceof InflateFailure) this.fail(`compressed element before byte ${at}: ${head.reason}`);
    if (head.length < 8) this.fail(`compressed element before byte ${at} holds no element tag`);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const declared = (view.getUint32(0, this.little) >>> 16 !== 0 ? 0 : view.getUint32(4, this.little)) + 8;
    if (declared > maxBytes)
      this.fail(`compressed element before byte ${at} declares ${declared} bytes, more than the limit of ${maxBytes} (raise it with the maxBytes option)`);
    const inflated = inflateBounded('zlib', compressed, declared);
    if (inflated instanceof InflateFailure) this.fail(`compressed element before byte ${at}: ${inflated.reason}`);
    return inflated;
  }

  /** Numeric data element → float32 values. */
  numbers(el: Element, what: string): Float32Array {
    const size = ELEMENT_BYTES[el.type];
    if (!size) this.fail(`${what} has non-numeric data type ${el.type}`);
    if (el.data.byteLength % size !== 0) this.fail(`${what}: ${el.data.byteLength} bytes is not a whole number of elements`);
    const n = el.data.byteLength / size, d = el.data, le = this.little;
    const out = datasetArray(n);
    const get: (i: number) => number = {
      [MI.INT8]: (i: number) => d.getInt8(i), [MI.UINT8]: (i: number) => d.getUint8(i),
      [MI.INT16]: (i: number) => d.getInt16(2 * i, le), [MI.UINT16]: (i: number) => d.getUint16(2 * i, le),
      [MI.INT32]: (i: number) => d.getInt32(4 * i, le), [MI.UINT32]: (i: number) => d.getUint32(4 * i, le),
      [MI.SINGLE]: (i: number) => d.getFloat32(4 * i, le), [MI.DOUBLE]: (i: number) => d.getFloat64(8 * i, le),
      [MI.INT64]: (i: number) => Number(d.getBigInt64(8 * i, le)), [MI.UINT64]: (i: number) => Number(d.getBigUint64(8 * i, le)),
    }[el.type]!;
    for (let i = 0; i < n; i++) out[i] = get(i);
    return out;
  }

  matrix(view: DataView): MatVariable | null {
    const flags = this.element(view, 0, true);
    if (flags.type !== MI.UINT32 || flags.data.byteLength < 8) this.fail('array flags missing');
    const classId = flags.data.getUint32(0, this.little) & 0xff;
    const complex = (flags.data.getUint32(0, this.little) & 0x800) !== 0;
    const dimsEl = this.element(view, flags.next, true);
    if (dimsEl.type !== MI.INT32 || dimsEl.data.byteLength < 8) this.fail('dimensions missing');
    const dims = Array.from({ length: dimsEl.data.byteLength / 4 }, (_, i) => dimsEl.data.getInt32(4 * i, this.little));
    if (dims.some((v) => v < 0)) this.fail(`negative dimension in ${dims.join(' x ')}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count > MAX_ELEMENTS) this.fail(`dimensions ${dims.join(' x ')} are absurdly large`);
    const nameEl = this.element(view, dimsEl.next, true);
    const name = latin1(new Uint8Array(nameEl.data.buffer, nameEl.data.byteOffset, nameEl.data.byteLength));
    const className = CLASSES[classId];
    if (!className) return null;  // cells, structs, chars, sparse: not numeric matrices, skipped
    const real = this.element(view, nameEl.next, true);  // a complex variable's imaginary part follows: unread
    const data = this.numbers(real, `variable '${name}'`);
    if (data.length !== count) this.fail(`variable '${name}' has ${data.length} values, dimensions ${dims.join(' x ')} need ${count}`);
    return { name, className, dims, data, complex };
  }
}

const HDF5_SIGNATURE = '\x89HDF\r\n\x1a\n';

/** Bytes as Latin-1 text (not Buffer: the browser entry parses MAT data too). */
function latin1(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** The bytes checkHead looks at: the 128-byte header, the first element's tag and HDF5's signature at 512. */
const HEAD_BYTES = 520;

/** The header of MAT data of `length` bytes whose first bytes are `head`; returns whether it is little-endian. */
function checkHead(head: Uint8Array, length: number, name: string): boolean {
  if (length < 128) throw new MatFormatError(`${name}: ${length} bytes is too short for a MAT v5 header`);
  const header = latin1(head.subarray(0, 128));
  if (header.slice(0, 6) !== 'MATLAB') throw new MatFormatError(`${name}: not a MAT file (no 'MATLAB' header text)`);
  const hdf5 = head.length >= 520 && latin1(head.subarray(512, 520)) === HDF5_SIGNATURE;
  if (hdf5 || /MATLAB 7\.3/.test(header.slice(0, 116)))
    throw new MatFormatError(`${name}: a MAT v7.3 file (HDF5), which this reader does not support; save it in MATLAB with '-v7' or '-v6'`);
  const endian = header.slice(126, 128);
  if (endian !== 'IM' && endian !== 'MI') throw new MatFormatError(`${name}: bad endian indicator '${endian}' (not a MAT v5 file)`);
  const little = endian === 'IM';
  // The first element must fit in the data (the others are checked as they are reached).
  if (head.length >= 136) {
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const first = view.getUint32(128, little), bytes = view.getUint32(132, little);
    if (first >>> 16 === 0 && 136 + bytes > length)
      throw new MatFormatError(`${name}: element at byte 128 claims ${bytes} bytes, ${length - 136} remain`);
  }
  return little;
}

/** Parses a MAT v5 buffer; returns its numeric variables by name. */
export function parseMat(buffer: Uint8Array, name = 'MAT data', options: MatReadOptions = {}): Map<string, MatVariable> {
  if (!isUint8Array(buffer)) throw new MatFormatError(`${name}: MAT data must be a Uint8Array or Buffer, got ${buffer === null ? 'null' : typeof buffer}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const reader = new Reader(name, checkHead(buffer, buffer.length, name));
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const variables = new Map<string, MatVariable>();
  let offset = 128;
  while (offset + 8 <= view.byteLength) {
    const el = reader.element(view, offset, false);
    offset = el.next;
    let matrix: DataView;
    if (el.type === MI.COMPRESSED) {
      const inflated = reader.inflate(new Uint8Array(el.data.buffer, el.data.byteOffset, el.data.byteLength), offset, maxBytes);
      const inner = reader.element(new DataView(inflated.buffer, inflated.byteOffset, inflated.byteLength), 0, false);
      if (inner.type !== MI.MATRIX) continue;
      matrix = inner.data;
    } else if (el.type === MI.MATRIX) {
      matrix = el.data;
      offset = 8 * Math.ceil(offset / 8);
    } else {
      offset = 8 * Math.ceil(offset / 8);
      continue;
    }
    if (matrix.byteLength === 0) continue;
    const variable = reader.matrix(matrix);
    if (variable) variables.set(variable.name, variable);
  }
  return variables;
}

/**
 * Reads a MAT v5 file; only regular files of at most `maxBytes` are read (see lib/files.ts), and its header and
 * first element tag are checked against the file's size before the rest is read.
 */
export function readMat(file: string, options: MatReadOptions = {}): Map<string, MatVariable> {
  const bytes = readRegularFile(file, (message) => new MatFormatError(message), {
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    checkSize: (size) => { if (size < 128) throw new MatFormatError(`${file}: ${size} bytes is too short for a MAT v5 header`); },
    headBytes: HEAD_BYTES,
    inspect: (head, size) => checkHead(head, size, file),
  });
  return parseMat(bytes, file, options);
}

/** A 2-D variable as a row-major matrix of `rowsAre` (MATLAB rows or columns as samples). */
export function matVariableRows(variable: MatVariable, samplesAlong: 'rows' | 'columns'): { data: Float32Array; rows: number; cols: number } {
  if (variable.dims.length !== 2) throw new MatFormatError(`variable '${variable.name}' is not 2-D (${variable.dims.join(' x ')})`);
  const [r, c] = variable.dims, src = variable.data;
  if (samplesAlong === 'columns') return { data: src, rows: c, cols: r };  // column-major r x c = row-major c x r
  const out = datasetArray(r * c);  // transpose column-major r x c into row-major r x c
  for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) out[i * c + j] = src[j * r + i];
  return { data: out, rows: r, cols: c };
}
