/**
 * Token data of a token model (docs/algorithm.md §18.1): x holds `sequence` ids per row (the model's inputDim)
 * and y the next-token id of each position. Ids may come as an Int32Array (as `datasets.text` gives them) or a
 * Float32Array of whole numbers; the engine reads them as Float32 (exact up to 2^24, far beyond any vocabulary).
 */
import { InvalidDataError, InvalidArgumentError } from './errors';
import { datasetArray, isFloat32Array, type LabeledData, type Matrix, type TrainingData } from './data';

/** A matrix whose values are token ids. */
export interface TokenMatrix {
  readonly data: Int32Array | Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Sequences and their next-token targets, [rows, sequence] each. */
export interface TokenData {
  readonly x: TokenMatrix;
  readonly y: TokenMatrix;
}

const isInt32Array = (v: unknown): v is Int32Array => Object.prototype.toString.call(v) === '[object Int32Array]';

/** Float32 ids, each checked to be a whole number in [0, vocabulary); InvalidDataError names the first bad one. */
export function tokenIds(what: string, m: TokenMatrix, vocabulary: number): Matrix {
  if (!m || typeof m !== 'object') throw new InvalidArgumentError(`${what} must be a matrix { data, rows, cols } of token ids`);
  if (!isInt32Array(m.data) && !isFloat32Array(m.data)) throw new InvalidArgumentError(`${what}.data must be an Int32Array or a Float32Array of token ids`);
  // Int32 ids become a Float32 array of this call's own, on a SharedArrayBuffer where there is one, so that fit reads
  // it in place rather than copying it again (README, Data lifetime)
  const data = isInt32Array(m.data) ? datasetArray(m.data.length) : m.data;
  if (data !== m.data) data.set(m.data);
  for (let i = 0; i < data.length; i++) {
    const id = data[i];
    if (!(Number.isInteger(id) && id >= 0 && id < vocabulary)) {
      const raw = isInt32Array(m.data) ? m.data[i] : id;
      throw new InvalidDataError(`${what} has token id ${raw} at row ${Math.floor(i / m.cols)}, position ${i % m.cols}: ids must be whole numbers in [0, ${vocabulary})`);
    }
  }
  return { data: data as Float32Array, rows: m.rows, cols: m.cols };
}

/** The data of a token model with its ids checked (inputs against the embedding's vocabulary, targets against the outputs'). */
export function tokenData(what: string, data: TrainingData | TokenData, vocabulary: number, classes: number): TrainingData {
  const labeled = data && typeof data === 'object' && 'x' in data;
  if (!labeled || !(data as LabeledData).y)
    throw new InvalidArgumentError(`${what} of a token model must be { x, y }: y holds the next-token id of each position`);
  const { x, y } = data as { x: TokenMatrix; y: TokenMatrix };
  return { x: tokenIds(`${what}.x`, x, vocabulary), y: tokenIds(`${what}.y`, y, classes) };
}
