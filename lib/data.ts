/** The one data shape the package passes around: a row-major Float32Array, one sample per row. */
import { InvalidArgumentError, InvalidDataError, ShapeError } from './errors';

export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Inputs with optional targets; without `y` the targets are the inputs (autoencoders). */
export interface LabeledData {
  readonly x: Matrix;
  readonly y?: Matrix;
}

export type TrainingData = Matrix | LabeledData;

/** Typed-array checks that also hold for arrays made in another realm (vm contexts, the addon). */
export const isFloat32Array = (v: unknown): v is Float32Array => Object.prototype.toString.call(v) === '[object Float32Array]';
export const isUint8Array = (v: unknown): v is Uint8Array => Object.prototype.toString.call(v) === '[object Uint8Array]';
export const isUint32Array = (v: unknown): v is Uint32Array => Object.prototype.toString.call(v) === '[object Uint32Array]';

/** Wraps a Float32Array as a rows x cols matrix (no copy); checks the length. */
export function matrix(data: Float32Array, rows: number, cols: number): Matrix {
  const m = { data, rows, cols };
  checkMatrix('matrix', m);
  return m;
}

export function checkMatrix(what: string, m: unknown): asserts m is Matrix {
  const candidate = m as Partial<Matrix> | null;
  if (!candidate || typeof candidate !== 'object') throw new InvalidArgumentError(`${what} must be a matrix { data, rows, cols }`);
  if (!isFloat32Array(candidate.data))
    throw new InvalidArgumentError(`${what}.data must be a Float32Array`);
  const { rows, cols } = candidate;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || (rows as number) <= 0 || (cols as number) <= 0)
    throw new ShapeError(`${what} must have positive integer rows and cols, got ${rows} x ${cols}`);
  if (candidate.data.length !== (rows as number) * (cols as number))
    throw new ShapeError(`${what} has ${candidate.data.length} values, but ${rows} x ${cols} = ${(rows as number) * (cols as number)}`);
}

/** Splits TrainingData into inputs and (optional) separate targets, checking both against the model's widths. */
export function resolveData(what: string, data: TrainingData, inputDim: number, outputDim: number): { x: Matrix; y: Matrix | null } {
  const labeled = data && typeof data === 'object' && 'x' in data;
  const x = labeled ? (data as LabeledData).x : (data as Matrix);
  const y = labeled ? (data as LabeledData).y ?? null : null;
  checkMatrix(`${what}${labeled ? '.x' : ''}`, x);
  if (x.cols !== inputDim) throw new ShapeError(`${what} has ${x.cols} columns but the model takes ${inputDim} inputs`);
  if (y) {
    checkMatrix(`${what}.y`, y);
    if (y.cols !== outputDim) throw new ShapeError(`${what}.y has ${y.cols} columns but the model gives ${outputDim} outputs`);
    if (y.rows !== x.rows) throw new ShapeError(`${what}.y has ${y.rows} rows but ${what}.x has ${x.rows}`);
  } else if (inputDim !== outputDim) {
    throw new ShapeError(`${what} needs targets y: the model maps ${inputDim} inputs to ${outputDim} outputs`);
  }
  return { x, y };
}

/** Throws InvalidDataError at the first NaN or infinite value, naming its row and column (as the engine does). */
export function checkFinite(what: string, m: Matrix): void {
  const { data, cols } = m;
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i])) throw new InvalidDataError(`${what} contain NaN or Infinity at row ${Math.floor(i / cols)}, column ${i % cols}`);
}

const isSharedBuffer = (b: ArrayBufferLike): boolean => Object.prototype.toString.call(b) === '[object SharedArrayBuffer]';

/**
 * The array the native side reads while JavaScript goes on running (fit, evaluate, predict). An ArrayBuffer can
 * be transferred away (postMessage, structuredClone) or shrunk (resizable buffers) at any moment, so its
 * values are copied into a buffer only this call holds; a SharedArrayBuffer can neither be detached nor
 * shrunk, so arrays on one are read in place (and writes to them during the call are seen).
 */
export function pinnedForNative(data: Float32Array): Float32Array {
  return isSharedBuffer(data.buffer) ? data : data.slice();
}

/**
 * A zeroed Float32Array for the values a reader or dataset loader returns: on a SharedArrayBuffer where the
 * platform has one (Node always, a browser page only when cross-origin isolated), so that fit, evaluate and
 * predict read it in place instead of copying it (pinnedForNative), else on an ordinary ArrayBuffer.
 */
export function datasetArray(length: number): Float32Array {
  return typeof SharedArrayBuffer === 'function' ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
}

/** One-hot targets: row i has a 1 in column labels[i] (for softmaxCrossEntropy). */
export function oneHot(labels: ArrayLike<number>, classes: number): Matrix {
  if (!Number.isInteger(classes) || classes < 1) throw new InvalidArgumentError(`oneHot: classes must be a positive integer, got ${classes}`);
  const data = datasetArray(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new InvalidArgumentError(`oneHot: label ${c} at row ${i} is not a class 0 to ${classes - 1}`);
    data[i * classes + c] = 1;
  }
  return { data, rows: labels.length, cols: classes };
}

/** The column of the largest value in each row (the predicted class of a row of outputs or one-hot targets). */
export function argmax(m: Matrix): Uint32Array {
  checkMatrix('argmax', m);
  const out = new Uint32Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let best = 0;
    for (let j = 1; j < m.cols; j++) if (m.data[i * m.cols + j] > m.data[i * m.cols + best]) best = j;
    out[i] = best;
  }
  return out;
}
