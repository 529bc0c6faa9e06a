/**
 * Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Tensors: every layer's weight and
 * bias, and unless left out the optimizer's state (Kronecker factors, H matrices, L-BFGS pairs, moments) and
 * the data order. `__metadata__` holds JSON strings: the architecture, the optimizer and its settings, the
 * training counters and the library version. Writes are atomic (lib/files.ts writeRegularFile); loading
 * validates every offset, shape and field and throws CheckpointError naming the problem. save() hands
 * writeCheckpoint plain data and load() hands restoreCheckpoint a builder, so this module needs no model class.
 */
import type { NativeTrainingState } from './binding';
import { isFloat32Array, isUint32Array } from './data';
import { DeviceError, KbfgsError, tidyUp } from './errors';
import { readRegularFile, writeRegularFile } from './files';
import { checkInputShape, planLayers, type ImageShape, type LayerConfig, type WeightShape } from './layers';
import { optimizerFromJSON, type Optimizer } from './optimizers';
import { checkNumber } from './options';
import type { LayerWeights } from './records';

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
  // TextEncoder and DataView rather than Buffer: the browser entry writes checkpoints too.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padding = (8 - ((8 + json.length) % 8)) % 8;  // align the data section to 8 bytes (spaces)
  const dataStart = 8 + json.length + padding;
  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length + padding), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart);
  let at = dataStart;
  for (const array of Object.values(tensors)) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), at);
    at += array.byteLength;
  }
  return out;
}

/** The header length a safetensors file starts with, checked against the largest header this package reads. */
function checkHeaderLength(head: Uint8Array, name: string): number {
  if (head.length < 8) throw new CheckpointError(`${name}: ${head.length} bytes is too short for a safetensors file`);
  const headerLength = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER)
    throw new CheckpointError(`${name}: header length ${headerLength} is more than the ${MAX_HEADER} bytes a checkpoint header may have`);
  return headerLength;
}

/** Parses and validates safetensors bytes; every tensor is copied into an aligned typed array. */
export function decodeSafetensors(bytes: Uint8Array, name: string): { tensors: Tensors; metadata: Record<string, string> } {
  const fail = (problem: string): never => { throw new CheckpointError(`${name}: ${problem}`); };
  const headerLength = checkHeaderLength(bytes, name);
  if (headerLength > bytes.length - 8) fail(`header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
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
function stateToTensors(state: NativeTrainingState): { tensors: Tensors; training: object } {
  const tensors: Tensors = {};
  for (const [key, value] of Object.entries(state.buffers)) tensors[`optimizer.${key}`] = value;
  tensors['sampler.order'] = state.sampler.order;
  const { buffers: _b, sampler, optimizerId: _id, ...rest } = state;
  return { tensors, training: { ...rest, sampler: { position: sampler.position, shuffle: sampler.shuffle, rng: sampler.rng } } };
}

/** The inverse of stateToTensors. */
function tensorsToState(tensors: Tensors, training: Record<string, unknown>, name: string): Omit<NativeTrainingState, 'optimizerId'> {
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

/**
 * A model's architecture as a checkpoint holds it: an image input's shape or else the input width, the layers
 * and the loss (checked when the model is built from it).
 */
export interface Architecture {
  inputDim?: number;
  inputShape?: ImageShape;
  layers: readonly LayerConfig[];
  loss: string;
}

/** What save() puts in a checkpoint: plain data, so that this module needs no model. */
export interface CheckpointContents {
  architecture: Architecture;
  /** An Autoencoder's widths and activation, without which load could not rebuild one. */
  autoencoder?: { encoder: readonly number[]; activation: string };
  weights: LayerWeights[];
  /** The optimizer's settings and the native training state; absent when left out or when there is none. */
  optimizer?: { settings: ReturnType<Optimizer['toJSON']>; state: NativeTrainingState };
}

/** A checkpoint's bytes: what writeCheckpoint writes, and what a browser saves to an ArrayBuffer or a Blob. */
export function encodeCheckpoint(contents: CheckpointContents): Uint8Array {
  const tensors: Tensors = {};
  contents.weights.forEach((w, l) => {
    tensors[`layer${l}.weight`] = w.weight;
    tensors[`layer${l}.bias`] = w.bias;
  });
  const { inputDim, inputShape, layers, loss } = contents.architecture;
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    library: `kbfgs-native ${require('../package.json').version}`,
    architecture: JSON.stringify(inputShape ? { inputShape, layers, loss } : { inputDim, layers, loss }),
  };
  if (contents.autoencoder) metadata.autoencoder = JSON.stringify(contents.autoencoder);
  if (contents.optimizer) {
    const { tensors: stateTensors, training } = stateToTensors(contents.optimizer.state);
    Object.assign(tensors, stateTensors);
    metadata.optimizer = JSON.stringify(contents.optimizer.settings);
    metadata.training = JSON.stringify(training);
  }
  return encodeSafetensors(tensors, metadata);
}

/** Writes a checkpoint atomically; a path that is not a regular file (or a link to one) is a CheckpointError. */
export function writeCheckpoint(file: string, contents: CheckpointContents): void {
  writeRegularFile(file, encodeCheckpoint(contents), (message) => new CheckpointError(message));
}

/** A checkpoint file's bytes, refused with CheckpointError when the file cannot be one. */
export function readCheckpointFile(file: string): Uint8Array {
  // The header's length is checked before the file is read, against the limit and the file's size, so a
  // forged length cannot make load read it whole.
  return readRegularFile(file, (message) => new CheckpointError(message), {
    headBytes: 8,
    inspect: (head, size) => {
      const headerLength = checkHeaderLength(head, file);
      if (headerLength > size - 8) throw new CheckpointError(`${file}: header length ${headerLength} exceeds the ${size - 8} bytes after it`);
    },
  });
}

/** What restoreCheckpoint needs of the model it builds. */
export interface RestoredModel {
  readonly weightShapes: ReadonlyArray<WeightShape>;
  setWeights(weights: LayerWeights[]): void;
  dispose(): void;
}

/** How the caller turns a checkpoint into its model: the model class decides what it builds and owns its state. */
export interface RestoreSteps<M extends RestoredModel> {
  /** The model the architecture describes, before its weights are set; may throw to refuse the architecture. */
  build(architecture: Architecture, metadata: Record<string, string>): M;
  /** Hands the saved optimizer and its training state to the model. */
  restoreOptimizer(model: M, optimizer: Optimizer, state: Omit<NativeTrainingState, 'optimizerId'>): void;
}

/**
 * Reads a checkpoint's bytes (`name` in messages) into a model: checks the format, the version, the
 * architecture and every weight before building, then sets the weights and restores the optimizer if one was
 * saved. Every problem is a CheckpointError, except a DeviceError while building (the machine's, not the
 * file's); a model built before the problem is disposed.
 */
export function restoreCheckpoint<M extends RestoredModel>(bytes: Uint8Array, name: string, steps: RestoreSteps<M>): M {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  const fail = (problem: string): never => { throw new CheckpointError(`${name}: ${problem}`); };
  if (metadata.format !== CHECKPOINT_FORMAT) fail(`not a ${CHECKPOINT_FORMAT} file`);
  if (metadata.version === '1')
    fail(`checkpoint format version 1 was written by an earlier kbfgs-native (its K-BFGS state still held A + √λI); this release reads version ${CHECKPOINT_VERSION} only`);
  if (metadata.version !== String(CHECKPOINT_VERSION)) fail(`checkpoint version ${metadata.version} is not supported (this release reads version ${CHECKPOINT_VERSION})`);
  const json = (key: string) => {
    try {
      return JSON.parse(metadata[key]);
    } catch {
      return fail(`metadata '${key}' is missing or not JSON`);
    }
  };
  const architecture = json('architecture') as Architecture;
  // Every weight must be in the file, so the file's size bounds what the model may allocate.
  if (!architecture || !Array.isArray(architecture.layers)) fail('invalid architecture (no layers)');
  let shapes: WeightShape[] = [];
  try {
    const inputShape = checkInputShape('architecture', architecture.inputShape);
    const inputDim = inputShape ? inputShape[0] * inputShape[1] * inputShape[2]
      : checkNumber('architecture', 'inputDim', architecture.inputDim, NaN, { min: 1, integer: true });
    shapes = planLayers('architecture', inputDim, inputShape, architecture.layers).weights;
  } catch (e) {
    fail(`invalid architecture (${(e as Error).message})`);
  }
  shapes.forEach(({ units, inputs }, l) => {
    const w = tensors[`layer${l}.weight`], b = tensors[`layer${l}.bias`];
    if (!isFloat32Array(w) || !isFloat32Array(b) || b.length !== units || w.length !== units * inputs)
      fail(`weights of layer ${l} are missing or do not match the architecture`);
  });
  let model: M;
  try {
    model = steps.build(architecture, metadata);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    return fail(`invalid architecture (${(e as Error).message})`);
  }
  try {
    model.setWeights(model.weightShapes.map((_, l) => {
      const weight = tensors[`layer${l}.weight`], bias = tensors[`layer${l}.bias`];
      if (!isFloat32Array(weight) || !isFloat32Array(bias)) fail(`weights of layer ${l} are missing`);
      return { weight: weight as Float32Array, bias: bias as Float32Array };
    }));
    if (metadata.optimizer !== undefined) {
      const optimizer = optimizerFromJSON(json('optimizer'));
      steps.restoreOptimizer(model, optimizer, tensorsToState(tensors, json('training'), name));
    }
  } catch (e) {
    tidyUp(() => model.dispose());
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${name}: ${(e as Error).message}`);
  }
  return model;
}
