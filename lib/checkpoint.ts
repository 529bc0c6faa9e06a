/**
 * Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Tensors: every layer's weight and
 * bias, and unless left out the optimizer's state (Kronecker factors, H matrices, L-BFGS pairs, moments) and
 * the data order. `__metadata__` holds JSON strings: the architecture, the optimizer and its settings, the
 * training counters and the library version. Writes are atomic (lib/files.ts writeRegularFile); loading
 * validates every offset, shape and field and throws CheckpointError naming the problem.
 */
import type { NativeTrainingState } from './binding';
import { isFloat32Array, isUint32Array } from './data';
import { KbfgsError } from './errors';

export class CheckpointError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_CHECKPOINT');
  }
}

export const CHECKPOINT_FORMAT = 'kbfgs-native-checkpoint';
/** 2: K-BFGS's state no longer holds A + √λI (layerN.A_lm), which every step rebuilds from A. */
export const CHECKPOINT_VERSION = 2;
const MAX_HEADER = 64 * 1024 * 1024;

type DType = 'F32' | 'U32';
interface TensorEntry { dtype: DType; shape: number[]; data_offsets: [number, number] }
export type Tensors = Record<string, Float32Array | Uint32Array>;

/** Serialises tensors and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Tensors, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, array] of Object.entries(tensors)) {
    const bytes = array.byteLength;
    header[name] = { dtype: isFloat32Array(array) ? 'F32' : 'U32', shape: [array.length], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);  // align the data section to 8 bytes
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const parts: Uint8Array[] = [head, Buffer.from(json)];
  for (const array of Object.values(tensors)) parts.push(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return Buffer.concat(parts);
}

/** Parses and validates safetensors bytes; every tensor is copied into an aligned typed array. */
/** The header length a safetensors file starts with, checked against the largest header this package reads. */
export function checkHeaderLength(head: Uint8Array, name: string): number {
  if (head.length < 8) throw new CheckpointError(`${name}: ${head.length} bytes is too short for a safetensors file`);
  const headerLength = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER)
    throw new CheckpointError(`${name}: header length ${headerLength} is more than the ${MAX_HEADER} bytes a checkpoint header may have`);
  return headerLength;
}

export function decodeSafetensors(bytes: Uint8Array, name: string): { tensors: Tensors; metadata: Record<string, string> } {
  const fail = (problem: string): never => { throw new CheckpointError(`${name}: ${problem}`); };
  const headerLength = checkHeaderLength(bytes, name);
  if (headerLength > bytes.length - 8) fail(`header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'));
  } catch {
    return fail('the header is not valid JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + headerLength, dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (typeof metadata !== 'object' || Object.values(metadata).some((v) => typeof v !== 'string')) fail('__metadata__ must map names to strings');
  const entries = Object.entries(header).filter(([key]) => key !== '__metadata__') as Array<[string, TensorEntry]>;
  const ranges: Array<[number, number]> = [];
  const tensors: Tensors = {};
  for (const [key, e] of entries) {
    if (!e || (e.dtype !== 'F32' && e.dtype !== 'U32')) fail(`tensor '${key}' has an unsupported dtype`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`tensor '${key}' has an invalid shape`);
    const [begin, end] = Array.isArray(e.data_offsets) ? e.data_offsets : [NaN, NaN];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataLength)
      fail(`tensor '${key}' has byte range [${begin}, ${end}) outside the ${dataLength} data bytes`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) fail(`tensor '${key}' has ${end - begin} bytes, its shape needs ${count * 4}`);
    ranges.push([begin, end]);
    const copy = Uint8Array.from(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[key] = e.dtype === 'F32' ? new Float32Array(copy.buffer) : new Uint32Array(copy.buffer);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  for (const [begin, end] of ranges) {
    if (begin !== covered) fail(begin < covered ? 'tensors overlap' : `a gap of ${begin - covered} bytes between tensors`);
    covered = end;
  }
  if (covered !== dataLength) fail(`${dataLength - covered} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

/** Splits a native training state into tensors and a JSON-able rest. */
export function stateToTensors(state: NativeTrainingState): { tensors: Tensors; training: object } {
  const tensors: Tensors = {};
  for (const [key, value] of Object.entries(state.buffers)) tensors[`optimizer.${key}`] = value;
  tensors['sampler.order'] = state.sampler.order;
  const { buffers: _b, sampler, optimizerId: _id, ...rest } = state;
  return { tensors, training: { ...rest, sampler: { position: sampler.position, shuffle: sampler.shuffle, rng: sampler.rng } } };
}

/** The inverse of stateToTensors. */
export function tensorsToState(tensors: Tensors, training: Record<string, unknown>, name: string): Omit<NativeTrainingState, 'optimizerId'> {
  const buffers: Record<string, Float32Array> = {};
  for (const [key, value] of Object.entries(tensors)) {
    if (!key.startsWith('optimizer.')) continue;
    if (!isFloat32Array(value)) throw new CheckpointError(`${name}: tensor '${key}' must be F32`);
    buffers[key.slice('optimizer.'.length)] = value;
  }
  const order = tensors['sampler.order'];
  if (!isUint32Array(order)) throw new CheckpointError(`${name}: the data order tensor 'sampler.order' is missing`);
  const sampler = training.sampler as { position: number; shuffle: boolean; rng: string } | undefined;
  if (!sampler || typeof sampler.rng !== 'string') throw new CheckpointError(`${name}: the training metadata lacks the data-order state`);
  return { ...(training as Omit<NativeTrainingState, 'optimizerId' | 'buffers' | 'sampler'>), buffers, sampler: { ...sampler, order } };
}
