/** The messages between the page (lib/browser/index.ts) and the engine worker (lib/browser/worker.ts). */
import type { FitOptions, SequentialConfig, AutoencoderConfig } from '../model';
import type { Matrix, TrainingData } from '../data';

/** Why a page without cross-origin isolation trains on one thread (the console says it once). */
export const SINGLE_THREAD_NOTICE = 'kbfgs-native: this page is not cross-origin isolated, so training runs on one ' +
  'thread (the engine\'s threads share memory between workers, which needs the page to be served with ' +
  'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';

export interface EngineInfo {
  /** Engine threads available to fit (1 where the page is not cross-origin isolated). */
  threads: number;
  crossOriginIsolated: boolean;
  /** Why training runs on one thread, or ''. */
  notice: string;
}

export interface ModelInfo {
  inputDim: number;
  outputDim: number;
  paramCount: number;
  layers: unknown[];
  weightShapes: unknown[];
  loss: string;
}

/** The options of fit() the page and the worker share, documented on the Node API's FitOptions. */
export type SharedFitOptions = Pick<FitOptions, 'epochs' | 'batchSize' | 'stepsPerEpoch' | 'timeBudget' | 'maxSteps' |
  'trainingLossRows' | 'warmStartBatches' | 'shuffle' | 'seed' | 'validationData' | 'onNonFinite'>;

/** fit()'s options that cross to the worker: the optimizer as its toJSON() form, no functions, no signal. */
export interface WorkerFitOptions extends SharedFitOptions {
  optimizer: { kind: string; protocol: string; settings: Record<string, number> };
  threads?: number;
}

/** A checkpoint the worker builds its model from (load on the page), and the page's id of its optimizer. */
export interface CheckpointSource { bytes: ArrayBuffer; name: string; optimizerId: number }

export type OptimizerJSON = WorkerFitOptions['optimizer'];

export type ToWorker =
  | { type: 'init'; wasmBase: string; kind: 'Sequential' | 'Autoencoder'; config?: SequentialConfig | AutoencoderConfig; checkpoint?: CheckpointSource }
  // optimizerId: the page's optimizer instance, so that the same instance continues its state in the worker
  | { type: 'fit'; id: number; data: TrainingData; options: WorkerFitOptions; optimizerId: number; batchEvents: boolean }
  | { type: 'stop' }
  | { type: 'abort'; id: number }
  | { type: 'call'; id: number; method: 'evaluate' | 'predict' | 'getWeights' | 'setWeights' | 'info' | 'toCheckpoint'; args: unknown[] }
  | { type: 'dispose' };

export interface SerializedError { name: string; code?: string; message: string; history?: unknown }

export type FromWorker =
  // optimizer: the one a checkpoint restored
  | { type: 'ready'; engine: EngineInfo; model: ModelInfo; optimizer?: OptimizerJSON }
  | { type: 'failed'; error: SerializedError }
  | { type: 'epoch'; id: number; epoch: number; logs: Record<string, unknown> }
  | { type: 'batch'; id: number; batch: number; logs: Record<string, unknown> }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'notice'; text: string };

export type { Matrix };
