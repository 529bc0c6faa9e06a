/**
 * kbfgs-native in a browser: the ES-module entry (package.json `exports`, condition `browser`; built by
 * scripts/build-browser.js into dist/browser/index.js). Each model lives in its own Web Worker
 * (dist/browser/worker.js) that runs the WebAssembly engine, so fit() never blocks the page; the methods that
 * reach the engine return promises. Optimizers, data helpers, the readers on bytes and the errors are the same
 * code as in Node. See docs/wasm.md, "In a browser".
 */
import type { AutoencoderConfig, SequentialConfig } from '../model';
import type { EpochLogs, BatchLogs, History, LayerWeights } from '../records';
import type { Matrix, TrainingData } from '../data';
import { AbortError, InvalidArgumentError, KbfgsError, NoFileSystemError, fromNative } from '../errors';
import { optimizerFromJSON, type Optimizer } from '../optimizers';
import { bytesOf, type Bytes } from './readers';
import { CheckpointError } from '../checkpoint';
import { IdxFormatError } from '../datasets/idx';
import { MatFormatError } from '../datasets/mat';
import { CifarFormatError } from '../datasets/cifar10';
import {
  SINGLE_THREAD_NOTICE, type CheckpointSource, type EngineInfo, type FromWorker, type ModelInfo, type SerializedError,
  type SharedFitOptions, type ToWorker, type WorkerFitOptions,
} from './protocol';

export { SGD, Adam, AdamW, RMSprop, KBFGS, KBFGSL, KFAC, Shampoo, SOAP, Optimizer, optimizerFromJSON } from '../optimizers';
export { WarmupCosine } from '../schedules';
export { argmax, matrix, oneHot } from '../data';
export type { Matrix, LabeledData, TrainingData } from '../data';
export type { EpochLogs, BatchLogs, History, LayerWeights } from '../records';
export type { AutoencoderConfig, SequentialConfig } from '../model';
export type { EngineInfo, ModelInfo } from './protocol';
export { IdxFormatError } from '../datasets/idx';
export type { IdxArray } from '../datasets/idx';
export { MatFormatError } from '../datasets/mat';
export type { MatVariable } from '../datasets/mat';
export { CifarFormatError, CIFAR10_CLASSES } from '../datasets/cifar10';
export type { CifarBatch } from '../datasets/cifar10';
export { CheckpointError } from '../checkpoint';
export {
  parseIdx, parseIdxImages, parseCifar10, parseMat, gunzip, readIdx, readIdxImages, readMat, readCifar10, datasets,
} from './readers';
export {
  KbfgsError, AbortError, BusyError, DisposedError, InvalidArgumentError, InvalidDataError, NotPositiveDefiniteError,
  NumericalError, OutOfMemoryError, ShapeError, DeviceError, DistributedError, InternalError, CallbackError,
  NoFileSystemError,
} from '../errors';

/** Where the engine's files are: the package's wasm/ folder next to dist/, unless setEngineLocation() says. */
let wasmBase = new URL('../../wasm/', import.meta.url).href;
let workerUrl = new URL('./worker.js', import.meta.url).href;

/** Serves the engine (kbfgs_native.js, .wasm, .worker.js) and the worker bundle from other URLs. */
export function setEngineLocation(options: { wasm?: string | URL; worker?: string | URL }): void {
  if (options.wasm !== undefined) wasmBase = new URL(String(options.wasm), location.href).href.replace(/\/?$/, '/');
  if (options.worker !== undefined) workerUrl = new URL(String(options.worker), location.href).href;
}

export { SINGLE_THREAD_NOTICE };
let noticeShown = false;

// The page's optimizer instances by number: the worker keeps each one's state (lib/browser/worker.ts).
const optimizerIds = new WeakMap<Optimizer, number>();
let lastOptimizerId = 0;
function optimizerId(optimizer: Optimizer): number {
  let id = optimizerIds.get(optimizer);
  if (id === undefined) optimizerIds.set(optimizer, id = ++lastOptimizerId);
  return id;
}

// What load() hands the constructor it calls: the checkpoint to build the model from instead of a configuration.
let restoring: CheckpointSource | undefined;

/** A checkpoint as save() gives it: a Blob, or an ArrayBuffer or typed array of its bytes. */
export type CheckpointBytes = Bytes | Blob;

// The typed errors that only the TypeScript layer raises (the engine's come back through fromNative).
const BY_CODE: Record<string, new (message: string) => KbfgsError> = {
  KBFGS_CHECKPOINT: CheckpointError, KBFGS_NO_FILE_SYSTEM: NoFileSystemError, KBFGS_IDX_FORMAT: IdxFormatError,
  KBFGS_MAT_FORMAT: MatFormatError, KBFGS_CIFAR_FORMAT: CifarFormatError,
};

function rebuild(error: SerializedError): Error {
  const Type = error.code === undefined ? undefined : BY_CODE[error.code];
  const typed = Type ? new Type(error.message) : fromNative({ code: error.code, message: error.message });
  const result = typed instanceof Error ? typed : new KbfgsError(error.message);
  if (!(typed instanceof Error)) result.name = error.name;
  if (error.history !== undefined) (result as { history?: unknown }).history = error.history;
  return result;
}

export interface BrowserFitOptions extends SharedFitOptions {
  optimizer: Optimizer;
  /** Engine threads; default: the page's cores (at most 16), 1 without cross-origin isolation. */
  threads?: number;
  /** Aborting stops training at the next batch; fit() rejects with AbortError. */
  signal?: AbortSignal;
  /** Called on the page after each epoch; training does not wait for it. */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  /** Called on the page after each step; training does not wait for it. */
  onBatchEnd?: (batch: number, logs: BatchLogs) => void;
}

const FIT_KEYS = ['optimizer', 'epochs', 'batchSize', 'stepsPerEpoch', 'timeBudget', 'maxSteps', 'trainingLossRows',
  'warmStartBatches', 'shuffle', 'seed', 'validationData', 'threads', 'onNonFinite', 'signal', 'onEpochEnd', 'onBatchEnd'];

/**
 * A network in its own Web Worker. The constructor returns at once; `ready` resolves when the engine has
 * loaded and the model is built (and rejects with the constructor's error, which every later call repeats).
 */
export class Sequential {
  readonly ready: Promise<ModelInfo>;
  /** The engine's threads and why there is only one, once `ready` has resolved. */
  engine: EngineInfo | undefined;
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void;
    onEpochEnd?: BrowserFitOptions['onEpochEnd']; onBatchEnd?: BrowserFitOptions['onBatchEnd'] }>();
  private disposed = false;
  private info: ModelInfo | undefined;
  private currentOptimizer: Optimizer | undefined;

  constructor(config: SequentialConfig) {
    const checkpoint = restoring;
    restoring = undefined;
    this.worker = new Worker(workerUrl, { name: 'kbfgs-native engine' });
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      this.worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === 'ready') {
          this.engine = m.engine;
          this.info = m.model;
          if (m.optimizer && checkpoint) {
            this.currentOptimizer = optimizerFromJSON(m.optimizer as Parameters<typeof optimizerFromJSON>[0]);
            optimizerIds.set(this.currentOptimizer, checkpoint.optimizerId);
          }
          if (m.engine.notice && !noticeShown) { noticeShown = true; console.info(m.engine.notice); }
          resolve(m.model);
        } else if (m.type === 'failed') reject(rebuild(m.error));
        else this.receive(m);
      };
      this.worker.onerror = (event) => {
        const error = new KbfgsError(`kbfgs-native: the engine worker failed: ${event.message}`);
        reject(error);
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
      };
    });
    this.ready.catch(() => undefined);  // reported by the calls that need the model
    if (checkpoint) this.worker.postMessage({ type: 'init', wasmBase, kind: this.kind(), checkpoint } satisfies ToWorker, [checkpoint.bytes]);
    else this.send({ type: 'init', wasmBase, kind: this.kind(), config: JSON.parse(JSON.stringify(config)) });
  }

  /**
   * A model from a checkpoint (what save() or toCheckpoint() gave, here or in Node: the format is the same):
   * resolves once the engine has loaded it. Its `optimizer`, passed to fit(), continues the saved run. A path
   * is refused with NoFileSystemError: fetch the file and pass its bytes or Blob.
   */
  static async load(source: CheckpointBytes, options: { name?: string } = {}): Promise<Sequential> {
    if (typeof source === 'string')
      throw new NoFileSystemError(`load('${source}'): a browser has no files to read; fetch the checkpoint (or take it from an <input type="file">) and pass its Blob or ArrayBuffer`);
    const bytes = await bytesOf('load', source);
    // The worker takes the bytes over (transferred), so they are copied out of the caller's buffer first.
    restoring = { bytes: bytes.slice().buffer, name: options.name ?? 'checkpoint', optimizerId: ++lastOptimizerId };
    const model = new this(undefined as unknown as SequentialConfig);
    try {
      await model.ready;
    } catch (error) {
      model.dispose();  // a checkpoint refused (CheckpointError): its worker is not left running
      throw error;
    }
    return model;
  }

  /**
   * The optimizer whose state the model holds, as in Node: the last one given to fit(), or the one a checkpoint
   * restored (load). Passed to fit(), it continues the run.
   */
  get optimizer(): Optimizer | undefined {
    return this.currentOptimizer;
  }

  /** The model as a checkpoint (safetensors bytes; Node's Sequential.load and fromCheckpoint read them too). */
  async toCheckpoint(options: { optimizer?: boolean } = {}): Promise<ArrayBuffer> {
    return this.call('toCheckpoint', [options]) as Promise<ArrayBuffer>;
  }

  /**
   * Saves the model, by default with the optimizer's state, as a Blob (to download, or to store in IndexedDB).
   * A path is refused with NoFileSystemError: a browser has no files to write.
   */
  async save(options: { optimizer?: boolean } = {}): Promise<Blob> {
    if (typeof options === 'string')
      throw new NoFileSystemError(`save('${options}'): a browser has no files to write; save() gives a Blob (toCheckpoint() an ArrayBuffer) to download or store`);
    return new Blob([await this.toCheckpoint(options)], { type: 'application/octet-stream' });
  }

  protected kind(): 'Sequential' | 'Autoencoder' {
    return 'Sequential';
  }

  get inputDim(): number | undefined { return this.info?.inputDim; }
  get outputDim(): number | undefined { return this.info?.outputDim; }
  get paramCount(): number | undefined { return this.info?.paramCount; }

  /** Ends the running fit at the next step, which then resolves with the history so far. */
  set stopTraining(value: boolean) {
    if (value) this.send({ type: 'stop' });
  }

  get stopTraining(): boolean {
    return false;
  }

  async fit(data: TrainingData, options: BrowserFitOptions): Promise<History> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('fit: options must be an object with an optimizer');
    for (const key of Object.keys(options))
      if (!FIT_KEYS.includes(key)) throw new InvalidArgumentError(`fit: unknown option '${key}' (${FIT_KEYS.join(', ')})`);
    const { optimizer, signal, onEpochEnd, onBatchEnd, ...rest } = options;
    if (!optimizer || typeof optimizer.toJSON !== 'function') throw new InvalidArgumentError('fit: optimizer must be an Optimizer');
    await this.ready;
    if (signal?.aborted) throw new AbortError('fit: aborted before it started');
    const forWorker: WorkerFitOptions = { ...rest, optimizer: optimizer.toJSON() };
    this.currentOptimizer = optimizer;
    const id = this.nextId++;
    const abort = () => this.send({ type: 'abort', id });
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await new Promise<History>((resolve, reject) => {
        this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEpochEnd, onBatchEnd });
        this.send({ type: 'fit', id, data, options: forWorker, optimizerId: optimizerId(optimizer), batchEvents: onBatchEnd !== undefined });
      });
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  async evaluate(data: TrainingData, options?: { metrics?: Array<'accuracy'> }): Promise<number | { loss: number; accuracy: number }> {
    return this.call('evaluate', options === undefined ? [data] : [data, options]) as Promise<number | { loss: number; accuracy: number }>;
  }

  async predict(x: Matrix, options: { logits?: boolean } = {}): Promise<Matrix> {
    return this.call('predict', [x, options]) as Promise<Matrix>;
  }

  async getWeights(): Promise<LayerWeights[]> {
    return this.call('getWeights', []) as Promise<LayerWeights[]>;
  }

  async setWeights(weights: LayerWeights[]): Promise<void> {
    await this.call('setWeights', [weights]);
  }

  /** Steps, epochs, parameter count and layers as the engine holds them now. */
  async summary(): Promise<ModelInfo & { steps: number; epochsTrained: number }> {
    return this.call('info', []) as Promise<ModelInfo & { steps: number; epochsTrained: number }>;
  }

  /** Ends the worker and frees the engine's memory; a fit in progress rejects. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.send({ type: 'dispose' }, true);
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new KbfgsError('the model was disposed', 'KBFGS_DISPOSED'));
    this.pending.clear();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private async call(method: 'evaluate' | 'predict' | 'getWeights' | 'setWeights' | 'info' | 'toCheckpoint', args: unknown[]): Promise<unknown> {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'call', id, method, args });
    });
  }

  private send(message: ToWorker, evenIfDisposed = false): void {
    if (this.disposed && !evenIfDisposed) throw new KbfgsError('the model was disposed', 'KBFGS_DISPOSED');
    this.worker.postMessage(message);
  }

  private receive(m: FromWorker): void {
    if (m.type === 'notice') { console.info(m.text); return; }
    if (!('id' in m)) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'epoch') p.onEpochEnd?.(m.epoch, m.logs as unknown as EpochLogs);
    else if (m.type === 'batch') p.onBatchEnd?.(m.batch, m.logs as unknown as BatchLogs);
    else if (m.type === 'result') { this.pending.delete(m.id); p.resolve(m.value); }
    else if (m.type === 'error') { this.pending.delete(m.id); p.reject(rebuild(m.error)); }
  }
}

/** An autoencoder (the same configuration as in Node) in its own Web Worker. */
export class Autoencoder extends Sequential {
  constructor(config: AutoencoderConfig) {
    super(config as unknown as SequentialConfig);
  }

  /** Loads an Autoencoder's checkpoint (see Sequential.load); any other is refused with CheckpointError. */
  static override async load(source: CheckpointBytes, options: { name?: string } = {}): Promise<Autoencoder> {
    return super.load(source, options) as Promise<Autoencoder>;
  }

  protected override kind(): 'Sequential' | 'Autoencoder' {
    return 'Autoencoder';
  }
}

/** What this page offers the engine: threads where it is cross-origin isolated, one thread elsewhere. */
export function browserSupport(): { crossOriginIsolated: boolean; threads: boolean; notice: string } {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { crossOriginIsolated: isolated, threads: isolated, notice: isolated ? '' : SINGLE_THREAD_NOTICE };
}
