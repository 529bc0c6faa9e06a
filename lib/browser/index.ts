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
import { AbortError, InvalidArgumentError, KbfgsError, fromNative } from '../errors';
import type { Optimizer } from '../optimizers';
import { idxImages, parseIdx as parseIdxBytes, type IdxArray, type IdxReadOptions } from '../datasets/idx';
import { SINGLE_THREAD_NOTICE, type EngineInfo, type FromWorker, type ModelInfo, type SerializedError, type SharedFitOptions, type ToWorker, type WorkerFitOptions } from './protocol';

export { SGD, Adam, AdamW, RMSprop, KBFGS, KBFGSL, KFAC, Shampoo, SOAP, Optimizer, optimizerFromJSON } from '../optimizers';
export { WarmupCosine } from '../schedules';
export { argmax, matrix, oneHot } from '../data';
export type { Matrix, LabeledData, TrainingData } from '../data';
export type { EpochLogs, BatchLogs, History, LayerWeights } from '../records';
export type { AutoencoderConfig, SequentialConfig } from '../model';
export type { EngineInfo, ModelInfo } from './protocol';
export { IdxFormatError } from '../datasets/idx';
export type { IdxArray } from '../datasets/idx';
export {
  KbfgsError, AbortError, BusyError, DisposedError, InvalidArgumentError, InvalidDataError, NotPositiveDefiniteError,
  NumericalError, OutOfMemoryError, ShapeError, DeviceError, DistributedError, InternalError, CallbackError,
} from '../errors';

type Bytes = ArrayBuffer | ArrayBufferView;

function toUint8(what: string, bytes: Bytes): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new InvalidArgumentError(`${what}: expected an ArrayBuffer or a typed array, got ${bytes === null ? 'null' : typeof bytes}`);
}

/** An IDX file's contents (ArrayBuffer or typed array; gunzip() a .gz file first). */
export function parseIdx(bytes: Bytes, name = 'IDX data', options: IdxReadOptions = {}): IdxArray {
  return parseIdxBytes(toUint8('parseIdx', bytes), name, options);
}

/** IDX uint8 images as rows of pixels scaled to [0, 1] (readIdxImages on bytes). */
export function parseIdxImages(bytes: Bytes, name = 'IDX images'): { data: Float32Array; rows: number; cols: number } {
  return idxImages(parseIdx(bytes, name), name);
}

/** Decompresses gzip bytes (a .gz dataset file) with the browser's DecompressionStream. */
export async function gunzip(bytes: Bytes | Blob): Promise<ArrayBuffer> {
  const blob = bytes instanceof Blob ? bytes : new Blob([toUint8('gunzip', bytes) as Uint8Array<ArrayBuffer>]);
  return new Response(blob.stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
}

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

function rebuild(error: SerializedError): Error {
  const typed = fromNative({ code: error.code, message: error.message });
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

const FIT_KEYS = ['optimizer', 'epochs', 'batchSize', 'timeBudget', 'shuffle', 'seed', 'validationData', 'threads',
  'onNonFinite', 'signal', 'onEpochEnd', 'onBatchEnd'];

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

  constructor(config: SequentialConfig) {
    this.worker = new Worker(workerUrl, { name: 'kbfgs-native engine' });
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      this.worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === 'ready') {
          this.engine = m.engine;
          this.info = m.model;
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
    this.send({ type: 'init', wasmBase, kind: this.kind(), config: JSON.parse(JSON.stringify(config)) });
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
    const id = this.nextId++;
    const abort = () => this.send({ type: 'abort', id });
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await new Promise<History>((resolve, reject) => {
        this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEpochEnd, onBatchEnd });
        this.send({ type: 'fit', id, data, options: forWorker, batchEvents: onBatchEnd !== undefined });
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

  private async call(method: 'evaluate' | 'predict' | 'getWeights' | 'setWeights' | 'info', args: unknown[]): Promise<unknown> {
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

  protected override kind(): 'Sequential' | 'Autoencoder' {
    return 'Autoencoder';
  }
}

/** What this page offers the engine: threads where it is cross-origin isolated, one thread elsewhere. */
export function browserSupport(): { crossOriginIsolated: boolean; threads: boolean; notice: string } {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { crossOriginIsolated: isolated, threads: isolated, notice: isolated ? '' : SINGLE_THREAD_NOTICE };
}
