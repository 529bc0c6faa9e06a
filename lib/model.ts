/**
 * Feed-forward models. `Sequential` is a stack of layers (dense and conv2d with bias, pooling, flatten:
 * lib/layers.ts) and a loss; `Autoencoder` adds the paper's presets. Weights and optimizer state live in native memory; `dispose()` frees them.
 * What a fit records is in lib/records.ts; the checkpoint format that save and load use is in lib/checkpoint.ts.
 */
import * as os from 'os';
import { addon, type BackendName, type NativeBatchEvent, type NativeEpochEvent, type NativeModel } from './binding';
import { resolveData, checkFinite, checkMatrix, isFloat32Array, isUint8Array, pinnedForNative, type Matrix, type TrainingData } from './data';
import { DEVICES, resolveDevice, type DeviceName } from './devices';
import { distributedConfig, distributedWorld, type DistributedOptions } from './distributed';
import { AbortError, InvalidArgumentError, ShapeError, fromNative, native, tidyUp } from './errors';
import { checkBoolean, checkChoice, checkKeys, checkNumber } from './options';
import { Optimizer } from './optimizers';
import { allReportOnly, bindHooks, callHook, type BoundHook, type Callback, type HookName, type TrainingRun } from './callbacks';
import { record, type BatchLogs, type EpochLogs, type History, type LayerWeights } from './records';
import { encodeCheckpoint, readCheckpointFile, restoreCheckpoint, writeCheckpoint, type CheckpointContents } from './checkpoint';
import { tokenData, tokenIds, type TokenData, type TokenMatrix } from './tokens';
import { gptLayers, type GptOptions } from './gpt';
import { generate, type GenerateOptions, type Generated } from './generate';
import { ACTIVATIONS, checkInputShape, planLayers, type ActivationName, type ImageShape, type LayerConfig, type WeightShape } from './layers';

export { ACTIVATIONS, type ActivationName } from './layers';

/**
 * Losses per sample, summed over outputs and averaged over the batch (algorithm.md §7.1):
 * - 'sigmoidCrossEntropy': binary cross-entropy on logits (targets in [0,1]); the last layer must be linear.
 * - 'halfSquaredError': ½‖z − t‖².
 * - 'softmaxCrossEntropy': −Σ t log softmax(z); the last layer must be linear.
 */
export const LOSSES = ['sigmoidCrossEntropy', 'halfSquaredError', 'softmaxCrossEntropy'] as const;
export type LossName = (typeof LOSSES)[number];

export interface SequentialConfig {
  /** Values per sample (a vector input); or give inputShape. */
  inputDim?: number;
  /** [channels, height, width] of an image input, whose rows hold the channels one after another. */
  inputShape?: ImageShape;
  layers: LayerConfig[];
  loss: LossName;
  /** Seed of the initialisation W, b ~ U(−1/√fan_in, 1/√fan_in). Default 0. */
  seed?: number;
  /**
   * Where the weights live and training runs. Default 'cpu'. 'cuda' needs a GPU with cuBLAS and cuSOLVER
   * (see devices()) and throws DeviceError otherwise; 'auto' takes the GPU when there is one and otherwise
   * runs on the CPU, saying why in `deviceFallbackReason` and in a one-time process warning.
   */
  device?: DeviceName;
  /** On 'cuda': let cuBLAS use TF32 tensor cores for the matrix products (faster, ~1e-3 relative error). Default false. */
  tf32?: boolean;
}

/** Where Sequential.load() puts the model. */
export interface LoadOptions {
  device?: DeviceName;
  tf32?: boolean;
}

export interface FitOptions {
  optimizer: Optimizer;
  /** Default 1. */
  epochs?: number;
  /** Default min(1000, rows). The last incomplete batch of each epoch is dropped (algorithm.md §2). */
  batchSize?: number;
  /**
   * Batches per epoch, as Keras's steps_per_epoch: the epoch events, validation and epoch callbacks come every
   * stepsPerEpoch steps, while the data stream goes on across epochs (the same sampler, reshuffled whenever the
   * rows run out; algorithm.md §2.2). A positive integer. Default: ⌊rows / batchSize⌋, one pass of the data.
   */
  stepsPerEpoch?: number;
  /**
   * Seconds of this fit's training from its first step (a warm start before it and evaluation not counted,
   * callbacks' waits counted): training stops after the first step that ends past it. The epoch it cuts short
   * ends there, evaluated and reported with `partial: true`; the last epoch's logs say
   * `stoppedBy: 'timeBudget'`. In data-parallel training rank 0's clock decides. Default: no budget.
   */
  timeBudget?: number;
  /** Steps of this fit: training stops after so many, as with timeBudget (`stoppedBy: 'maxSteps'`). Default: no budget. */
  maxSteps?: number;
  /**
   * The epoch-end training loss and accuracy (logs.loss, logs.accuracy) over this many training rows, spread
   * evenly over the data, instead of over all of them: the full pass costs about a third of an epoch of steps,
   * too much where epochs are short. A positive integer. Default: all rows.
   */
  trainingLossRows?: number;
  /**
   * Batches of the warm-start pass of the methods that have one (K-BFGS and K-BFGS(L): A; KFAC: A and G; the
   * paper's RMSprop: v; algorithm.md §3.2, §5, §6), at most one pass. A positive integer. Default: one pass of
   * the data, as in the paper; where a pass takes minutes, a few dozen batches give the means as well.
   */
  warmStartBatches?: number;
  /** Reshuffle the rows each time the data runs out (the first pass is in stored order). Default true. */
  shuffle?: boolean;
  /** Seed of the data order. Default 0. */
  seed?: number;
  validationData?: TrainingData | TokenData;
  /** OpenBLAS threads (a process-wide setting). Default: the number of CPUs. */
  threads?: number;
  /**
   * When a step makes the loss, the gradient, the direction or a curvature quantity NaN or infinite:
   * 'stop' (default) rejects with NumericalError naming the step, the phase and the layer, the weights back to
   * those before that step; 'skip' puts back the weights and optimizer state from before the step, multiplies
   * the damping λ by 10 (first-order methods: halves the learning rate) and goes on, stopping with
   * NumericalError only after 5 skipped steps in a row. `diagnostics.skippedSteps` counts the skips.
   */
  onNonFinite?: 'stop' | 'skip';
  /** Aborting stops training at the next batch boundary; fit() rejects with AbortError, the model stays valid. */
  signal?: AbortSignal;
  /**
   * Called at each epoch end; training waits until it returns (or its promise settles). Set
   * `model.stopTraining = true` to end training: fit() then resolves with the history.
   */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => unknown;
  /** Called after each step, training waiting for it as for onEpochEnd; a wait per step, so only when given. */
  onBatchEnd?: (batch: number, logs: BatchLogs) => unknown;
  /** Callback objects (EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, ModelCheckpoint, your own). */
  callbacks?: Callback[];
  /**
   * Data-parallel training over MPI (launch with `mpirun -np N node train.js`): every rank runs the same fit on
   * the same data and model, takes its share of each minibatch (batchSize is the whole batch) and ends with the
   * same weights. See the README's "Distributed training". Default false.
   */
  distributed?: boolean | DistributedOptions;
}

// Fits in progress. On process exit they are cancelled, so that exit waits for one batch, not the whole run
// (the native training thread would otherwise hold the process open until it finished).
const running = new Set<NativeModel>();
process.on('exit', () => running.forEach((handle) => handle.cancel()));

const FIT_KEYS = ['optimizer', 'epochs', 'batchSize', 'stepsPerEpoch', 'timeBudget', 'maxSteps', 'trainingLossRows', 'warmStartBatches',
  'shuffle', 'seed', 'validationData', 'threads', 'onNonFinite', 'signal', 'onEpochEnd', 'onBatchEnd', 'callbacks', 'distributed'] as const;

export class Sequential {
  /** Values per sample of the input (channels x height x width for an image). */
  readonly inputDim: number;
  /** The image input's [channels, height, width], if the model takes images. */
  readonly inputShape: ImageShape | undefined;
  readonly outputDim: number;
  /**
   * Target values per sample: outputDim, or for a token model (one starting with an embedding) one next-token id
   * per position, its outputs then being sequence x vocabulary logits (docs/algorithm.md §18.1).
   */
  readonly targetDim: number;
  /** The embedding's vocabulary of a token model, else 0. */
  readonly vocabulary: number;
  /** The layers with their defaults filled in. */
  readonly layers: ReadonlyArray<LayerConfig>;
  /** Each trainable layer's weight shape, in the order of getWeights(). */
  readonly weightShapes: ReadonlyArray<WeightShape>;
  readonly loss: LossName;
  /** The backend the model runs on. */
  readonly device: BackendName;
  /** Why device 'auto' ran on the CPU, if it did. */
  readonly deviceFallbackReason: string | undefined;
  private readonly handle: NativeModel;
  private disposed = false;
  private currentOptimizer: Optimizer | undefined;
  private unfollow: (() => void) | undefined;

  constructor(config: SequentialConfig) {
    const where = 'Sequential';
    checkKeys(where, config, ['inputDim', 'inputShape', 'layers', 'loss', 'seed', 'device', 'tf32']);
    this.inputShape = checkInputShape(where, config?.inputShape);
    const pixels = this.inputShape ? this.inputShape[0] * this.inputShape[1] * this.inputShape[2] : NaN;
    this.inputDim = checkNumber(where, 'inputDim', config?.inputDim, pixels, { min: 1, integer: true });
    if (this.inputShape && this.inputDim !== pixels)
      throw new InvalidArgumentError(`${where}: inputDim ${this.inputDim} does not match inputShape [${this.inputShape.join(', ')}] (${pixels} values)`);
    const plan = planLayers(where, this.inputDim, this.inputShape, config.layers);
    this.layers = plan.layers;
    this.weightShapes = plan.weights;
    this.loss = checkChoice(where, 'loss', config.loss, 'halfSquaredError', LOSSES);
    const last = plan.native[plan.native.length - 1];  // dense (planLayers checks)
    if (this.loss !== 'halfSquaredError' && last.type === 'dense' && last.activation !== 'linear')
      throw new InvalidArgumentError(`${where}: loss '${this.loss}' takes logits, so the last layer must be 'linear'`);
    const seed = checkNumber(where, 'seed', config.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
    this.outputDim = plan.outputDim;
    this.targetDim = plan.targetDim;
    this.vocabulary = plan.vocabulary;
    if (this.vocabulary && this.loss !== 'softmaxCrossEntropy')
      throw new InvalidArgumentError(`${where}: a token model takes loss 'softmaxCrossEntropy' (one softmax per token)`);
    const nativeLayers = plan.native;
    const requested = checkChoice(where, 'device', config.device, 'cpu', DEVICES);
    const tf32 = checkBoolean(where, 'tf32', config.tf32, false);
    const { device, fallbackReason } = resolveDevice(requested);
    this.device = device;
    this.deviceFallbackReason = fallbackReason;
    this.handle = native(() => new addon.NativeModel({ layers: nativeLayers, loss: this.loss, seed, device, tf32 }));
  }

  /**
   * A GPT as a token model (lib/gpt.ts): embedding with learned positions, `blocks` pre-norm blocks, a final
   * layer norm and the logits, softmax cross-entropy per token. Trains on `datasets.text({ context })` as is.
   */
  static gpt(options: GptOptions & { device?: DeviceName; tf32?: boolean }): Sequential {
    const { context, seed, layers } = gptLayers('Sequential.gpt', options);
    return new Sequential({ inputDim: context, layers, loss: 'softmaxCrossEntropy', seed, device: options.device, tf32: options.tf32 });
  }

  /** Samples `tokens` tokens after a prompt from a token model (lib/generate.ts): `{ ids, text }`. */
  generate(prompt: string | ArrayLike<number>, options: GenerateOptions): Promise<Generated> {
    return generate(this, prompt, options);
  }

  /** Number of trainable parameters (weights and biases). */
  get paramCount(): number {
    return this.native().info().paramCount;
  }

  /** Steps this model has taken (all fits, checkpoints included). */
  get steps(): number {
    return this.native().info().steps;
  }

  /** Epochs this model has finished (all fits, checkpoints included). */
  get epochsTrained(): number {
    return this.native().info().epochs;
  }

  /**
   * Trains on the native thread, in step with the callbacks: at each epoch end (and each batch end when an
   * onBatchEnd is given) training waits until every callback has returned, awaiting async ones. Resolves with
   * the History, also when a callback set `stopTraining`. Rejects with AbortError (model valid,
   * `error.history` set) when `signal` aborts, with the error of a throwing callback, or with a typed error for
   * bad input or numerical failure.
   */
  async fit(data: TrainingData | TokenData, options: FitOptions): Promise<History> {
    const where = 'fit';
    checkKeys(where, options, FIT_KEYS);
    if (!options || !(options.optimizer instanceof Optimizer))
      throw new InvalidArgumentError(`${where}: optimizer must be an optimizer instance, e.g. new Adam()`);
    const handle = this.native();
    const { x, y } = this.resolve('training data', data);
    const val = options.validationData === undefined ? null : this.resolve('validationData', options.validationData);
    const epochs = checkNumber(where, 'epochs', options.epochs, 1, { min: 0, max: 2 ** 31 - 1, integer: true });
    const batchSize = checkNumber(where, 'batchSize', options.batchSize, Math.min(1000, x.rows), { min: 1, max: 2 ** 31 - 1, integer: true });
    if (batchSize > x.rows) throw new ShapeError(`${where}: batchSize ${batchSize} exceeds the ${x.rows} training rows`);
    // Every callback and hook is checked here, before any of them runs and before the first step.
    const hooks = bindHooks(where, options.callbacks, options);
    const { signal, optimizer } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new InvalidArgumentError(`${where}: signal must be an AbortSignal`);
    // Optional counts: 0 tells the engine "not set".
    const count = (name: 'stepsPerEpoch' | 'maxSteps' | 'trainingLossRows' | 'warmStartBatches', max: number) =>
      options[name] === undefined ? 0 : checkNumber(where, name, options[name], 0, { min: 1, max, integer: true });
    const config = {
      epochs,
      batchSize,
      stepsPerEpoch: count('stepsPerEpoch', 2 ** 31 - 1),
      timeBudget: checkNumber(where, 'timeBudget', options.timeBudget, 0, { min: 0 }),
      maxSteps: count('maxSteps', Number.MAX_SAFE_INTEGER),
      trainingLossRows: count('trainingLossRows', 2 ** 31 - 1),
      warmStartBatches: count('warmStartBatches', 2 ** 31 - 1),
      shuffle: checkBoolean(where, 'shuffle', options.shuffle, true),
      seed: checkNumber(where, 'seed', options.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
      threads: checkNumber(where, 'threads', options.threads, defaultThreads(), { min: 1, max: 1024, integer: true }),
      batchEvents: hooks.onBatchEnd.length > 0,
      awaitBatchEvents: hooks.onBatchEnd.length > 0 && !allReportOnly(hooks.onBatchEnd),
      awaitEpochEvents: hooks.onEpochEnd.length > 0,
      skipNonFinite: checkChoice(where, 'onNonFinite', options.onNonFinite, 'stop', ['stop', 'skip'] as const) === 'skip',
      ...distributedConfig(where, options.distributed, this.device),  // last: it may join the MPI world
    };

    const history: History = {
      epoch: [],
      history: { loss: [], batchLoss: [], seconds: [], lr: [], ...(val ? { valLoss: [] } : {}) },
      params: { epochs, batchSize, steps: config.stepsPerEpoch || Math.floor(x.rows / batchSize), samples: x.rows, optimizer: optimizer.toJSON() },
    };
    const aborted = () => Object.assign(new AbortError(), { history });
    if (signal?.aborted) throw aborted();
    this.stopTraining = false;
    this.follow(optimizer);
    const run: TrainingRun = { model: this, optimizer, epochs };
    for (const hook of hooks.onTrainBegin) {
      await callHook(where, hook, run);
      if (signal?.aborted) throw aborted();  // no listener yet: training has not started
    }
    if (!this.stopTraining) await this.train(handle, hooks, history, optimizer, val !== null, signal, {
      train: { x: pinnedForNative(x.data), y: y ? pinnedForNative(y.data) : null, rows: x.rows },
      validation: val ? { x: pinnedForNative(val.x.data), y: val.y ? pinnedForNative(val.y.data) : null, rows: val.x.rows } : null,
      config,
    });
    for (const hook of hooks.onTrainEnd) await callHook(where, hook, history);
    return history;
  }

  /** The native fit, in step with the epoch and batch hooks; rejects with a hook's error, AbortError or a typed error. */
  private async train(handle: NativeModel, hooks: Record<HookName, BoundHook[]>, history: History, optimizer: Optimizer,
    validation: boolean, signal: AbortSignal | undefined, job: Omit<Parameters<NativeModel['fit']>[0], 'optimizer' | 'onEvent'>): Promise<void> {
    const where = 'fit';
    // A flag, not the error itself: the error may be any value, undefined included.
    let failed = false;
    let callbackError: unknown;
    let lastStepLr: number | undefined;  // the rate of the epoch's last step, where batch callbacks may change it
    // Runs the callbacks of one event in order, awaiting each, then lets the training thread go on.
    const handleEvent = async (event: NativeEpochEvent | NativeBatchEvent) => {
      if (event.type === 'epoch') {
        optimizer.adopt(event.hyperparameters);
        const logs = this.epochLogs(event, optimizer, validation, lastStepLr ?? optimizer.lr);
        lastStepLr = undefined;
        record(history, event.epoch, logs);
        for (const hook of hooks.onEpochEnd) await callHook(where, hook, event.epoch, logs);
      } else {
        lastStepLr = optimizer.lr;
        const logs: BatchLogs = { loss: event.loss, epoch: event.epoch, batches: event.batches, step: event.step, lr: lastStepLr };
        for (const hook of hooks.onBatchEnd) await callHook(where, hook, event.batch, logs);
      }
    };
    const onEvent = (event: NativeEpochEvent | NativeBatchEvent) => {
      if (failed) return;
      const resume = () => { if (event.awaited) handle.resume(this.stopTraining); };
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        callbackError = error;
        try {
          handle.cancel();
        } catch {
          // the fit has ended already: its promise settles and fit reports callbackError
        }
      };
      // fail() never throws, so this chain cannot leave a rejection unhandled.
      handleEvent(event).then(resume).catch(fail);
    };
    const abort = () => handle.cancel();
    signal?.addEventListener('abort', abort, { once: true });
    let started = false;
    try {
      const training = native(() => handle.fit({ ...job, optimizer: optimizer.toNative(), onEvent }));
      started = true;
      running.add(handle);
      await training;
    } catch (error) {
      if (failed) throw callbackError;
      const typed = fromNative(error);
      if (typed instanceof AbortError) typed.history = history;
      throw typed;
    } finally {
      running.delete(handle);
      signal?.removeEventListener('abort', abort);
      // The skip mode may have raised λ (or halved lr) after the last epoch event, up to a failed step.
      if (started) {
        optimizer.adopt(handle.info().hyperparameters);
        history.params.optimizer = optimizer.toJSON();
      }
    }
    if (failed) throw callbackError;
  }

  /**
   * Set by a callback to end training after the current batch or epoch; fit() then resolves normally.
   * Reset at the start of every fit().
   */
  stopTraining = false;

  /** The optimizer whose state the model holds: its lr and damping changes reach the native state. */
  private follow(optimizer: Optimizer): void {
    if (this.currentOptimizer !== optimizer) {
      this.unfollow?.();
      this.unfollow = optimizer.watch((name, value) => native(() => this.handle.setHyperparameter(name, value)));
    }
    this.currentOptimizer = optimizer;
  }

  private epochLogs(event: NativeEpochEvent, optimizer: Optimizer, validation: boolean, lr: number): EpochLogs {
    const logs: EpochLogs = {
      loss: event.loss, batchLoss: event.batchLoss, seconds: event.seconds, steps: event.steps, lr,
      diagnostics: event.diagnostics,
    };
    if (event.partial) logs.partial = true;
    if (event.stoppedBy) logs.stoppedBy = event.stoppedBy;
    if (optimizer.settings.damping !== undefined) logs.damping = optimizer.settings.damping;
    if (!Number.isNaN(event.accuracy)) logs.accuracy = event.accuracy;
    if (validation) {
      logs.valLoss = event.valLoss;
      if (!Number.isNaN(event.valAccuracy)) logs.valAccuracy = event.valAccuracy;
    }
    return logs;
  }

  /**
   * Mean per-sample data loss (no regulariser) over all rows. With `{ metrics: ['accuracy'] }`, also the share
   * of rows predicted right: { loss, accuracy } (softmax cross-entropy: the argmax of the outputs against the
   * argmax of the one-hot targets; a single sigmoid output: its sign against t > 0.5).
   */
  async evaluate(data: TrainingData | TokenData): Promise<number>;
  async evaluate(data: TrainingData | TokenData, options: { metrics: Array<'accuracy'> }): Promise<{ loss: number; accuracy: number }>;
  async evaluate(data: TrainingData | TokenData, options?: { metrics?: Array<'accuracy'> }): Promise<number | { loss: number; accuracy: number }> {
    checkKeys('evaluate', options ?? {}, ['metrics']);
    const metrics = options?.metrics ?? [];
    if (!Array.isArray(metrics) || metrics.some((m) => m !== 'accuracy'))
      throw new InvalidArgumentError("evaluate: metrics must be an array of 'accuracy'");
    if (metrics.length > 0 && this.vocabulary)
      throw new InvalidArgumentError('evaluate: accuracy is not reported for a token model (one prediction per position)');
    if (metrics.length > 0 && !this.hasAccuracy())
      throw new InvalidArgumentError(`evaluate: accuracy needs softmaxCrossEntropy or a single sigmoidCrossEntropy output, not ${this.loss} with ${this.outputDim} outputs`);
    const handle = this.native();
    const { x, y } = this.resolve('evaluate data', data);
    const result = await native(() => handle.evaluate(pinnedForNative(x.data), y ? pinnedForNative(y.data) : null, x.rows))
      .catch((e) => Promise.reject(fromNative(e)));
    return metrics.length > 0 ? result : result.loss;
  }

  /** The data checked against the model's widths (and a token model's vocabulary). */
  private resolve(what: string, data: TrainingData | TokenData): { x: Matrix; y: Matrix | null } {
    const outputs = this.weightShapes[this.weightShapes.length - 1].units;
    const checked = this.vocabulary ? tokenData(what, data, this.vocabulary, outputs) : data as TrainingData;
    return resolveData(what, checked, this.inputDim, this.targetDim);
  }

  private hasAccuracy(): boolean {
    if (this.vocabulary) return false;  // one prediction per token
    return this.loss === 'softmaxCrossEntropy' || (this.loss === 'sigmoidCrossEntropy' && this.outputDim === 1);
  }

  /**
   * Outputs for each row of x, in data space: sigmoid(z) for sigmoidCrossEntropy, softmax(z) for
   * softmaxCrossEntropy, z itself for halfSquaredError. With `{ logits: true }` the raw last-layer outputs.
   */
  async predict(input: Matrix | TokenMatrix, options: { logits?: boolean } = {}): Promise<Matrix> {
    checkKeys('predict', options, ['logits']);
    const handle = this.native();
    const x = this.vocabulary ? tokenIds('predict input', input, this.vocabulary) : input as Matrix;
    checkMatrix('predict input', x);
    if (x.cols !== this.inputDim) throw new ShapeError(`predict input has ${x.cols} columns but the model takes ${this.inputDim}`);
    const logits = checkBoolean('predict', 'logits', options.logits, false);
    const data = await native(() => handle.predict(pinnedForNative(x.data), x.rows, logits)).catch((e) => Promise.reject(fromNative(e)));
    return { data, rows: x.rows, cols: this.outputDim };
  }

  /** Mean data loss of one batch and its gradient per layer, synchronously (for checks and custom loops). */
  computeGradients(data: TrainingData | TokenData): { loss: number; gradients: LayerWeights[] } {
    const handle = this.native();
    const { x, y } = this.resolve('computeGradients data', data);
    // The engine's gradient call does not check its data (fit, evaluate and predict do): NaN would pass through.
    checkFinite('inputs', x);
    if (y) checkFinite('targets', y);
    const { loss, gradient } = native(() => handle.gradients(x.data, y?.data ?? null, x.rows));
    return { loss, gradients: this.split(gradient) };
  }

  /** Copies of each layer's weight (units x inputs) and bias. */
  getWeights(): LayerWeights[] {
    return this.split(native(() => this.native().getWeights()));
  }

  /** Replaces all weights; shapes must match getWeights(). Values are copied. */
  setWeights(weights: LayerWeights[]): void {
    const handle = this.native();
    const shapes = this.weightShapes;
    if (!Array.isArray(weights) || weights.length !== shapes.length)
      throw new ShapeError(`setWeights needs ${shapes.length} layers, got ${Array.isArray(weights) ? weights.length : typeof weights}`);
    const flat = new Float32Array(native(() => handle.info()).paramCount);
    let offset = 0;
    weights.forEach((layer, l) => {
      const { units, inputs } = shapes[l];
      if (!isFloat32Array(layer?.weight) || layer.weight.length !== units * inputs)
        throw new ShapeError(`setWeights: layer ${l} weight must be a Float32Array of ${units} x ${inputs}`);
      if (!isFloat32Array(layer.bias) || layer.bias.length !== units)
        throw new ShapeError(`setWeights: layer ${l} bias must be a Float32Array of ${units}`);
      for (let i = 0; i < units; i++) {
        flat.set(layer.weight.subarray(i * inputs, (i + 1) * inputs), offset + i * (inputs + 1));
        flat[offset + i * (inputs + 1) + inputs] = layer.bias[i];
      }
      offset += units * (inputs + 1);
    });
    native(() => handle.setWeights(flat));
  }

  /** The optimizer whose state the model holds: the last one given to fit(), or the one a checkpoint restored.
   * Pass it to the next fit() to continue exactly where training stopped. */
  get optimizer(): Optimizer | undefined {
    return this.currentOptimizer;
  }

  /**
   * Saves the model to a safetensors file, atomically. Unless `optimizer: false`, the optimizer state (factors,
   * H matrices, L-BFGS memory, moments), the step counter and the data order go in too, so that
   * `Sequential.load(path)` and a fit() with `model.optimizer` continue the run bit for bit (CPU, same threads).
   * In a distributed job of more than one rank only rank 0 writes (every rank holds the same state); the others
   * return without writing. A checkpoint resumes at any number of ranks. The path must be a regular file or
   * absent; a symbolic link is written through (the link stays, the regular file it leads to is replaced).
   * A device, FIFO, socket or directory, or a link to one of them or to nothing, is refused with CheckpointError.
   */
  save(file: string, options: { optimizer?: boolean } = {}): void {
    if (typeof file !== 'string' || file === '') throw new InvalidArgumentError('save: path must be a file path');
    const withOptimizer = checkSaveOptions('save', options);
    const world = distributedWorld();
    if (world && world.size > 1 && world.rank !== 0) return;
    writeCheckpoint(file, this.checkpointContents(withOptimizer));
  }

  /** save() into memory: the checkpoint's bytes, which fromCheckpoint() reads back (a browser has no files). */
  toCheckpoint(options: { optimizer?: boolean } = {}): Uint8Array {
    return encodeCheckpoint(this.checkpointContents(checkSaveOptions('toCheckpoint', options)));
  }

  private checkpointContents(withOptimizer: boolean): CheckpointContents {
    const handle = this.native();
    const weights = this.getWeights();
    const state = withOptimizer ? native(() => handle.exportState()) : null;
    return {
      architecture: { inputDim: this.inputDim, inputShape: this.inputShape, layers: this.layers, loss: this.loss },
      autoencoder: this instanceof Autoencoder ? { encoder: this.encoder, activation: this.activation } : undefined,
      weights,
      optimizer: state && this.currentOptimizer ? { settings: this.currentOptimizer.toJSON(), state } : undefined,
    };
  }

  /**
   * Loads a checkpoint written by save(); the optimizer state, if saved, is restored (see `optimizer`).
   * Checkpoints do not record a device: pass `{ device }` to load onto another backend than the CPU.
   */
  static load(file: string, options: LoadOptions = {}): Sequential {
    checkLoadOptions(options);
    return this.fromCheckpoint(readCheckpointFile(file), file, options);  // `this`: Autoencoder.load builds an Autoencoder
  }

  /** load() on bytes already in memory; `name` appears in error messages. */
  static fromCheckpoint(bytes: Uint8Array, name = 'checkpoint', options: LoadOptions = {}): Sequential {
    if (!isUint8Array(bytes))
      throw new InvalidArgumentError(`fromCheckpoint: bytes must be a Uint8Array or Buffer, got ${bytes === null ? 'null' : typeof bytes}`);
    checkLoadOptions(options);
    return restoreCheckpoint<Sequential>(bytes, name, {
      // The constructor checks what the file's architecture holds, the loss included.
      build: (architecture, metadata) => this.fromArchitecture(architecture as SequentialConfig, metadata, options),
      restoreOptimizer: (model, optimizer, state) => {
        native(() => model.handle.importState(optimizer.toNative(), state));
        model.follow(optimizer);
      },
    });
  }

  /** The model a checkpoint describes, before its weights are set (Autoencoder builds its own class). */
  protected static fromArchitecture(architecture: SequentialConfig, _metadata: Record<string, string>, options: LoadOptions): Sequential {
    return new Sequential({ ...architecture, device: options.device, tf32: options.tf32 });
  }

  /** Frees the native weights and optimizer state. Later calls throw DisposedError. */
  dispose(): void {
    if (this.disposed) return;
    native(() => this.handle.dispose());
    this.unfollow?.();  // the optimizer may live on: its lr and damping changes no longer concern this model
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private native(): NativeModel {
    if (this.disposed) native(() => this.handle.info());  // throws the native DisposedError
    return this.handle;
  }

  /** Splits a flat parameter vector (per layer: units x (inputs+1), bias last) into layer copies. */
  private split(flat: Float32Array): LayerWeights[] {
    let offset = 0;
    return this.weightShapes.map(({ units, inputs }) => {
      const weight = new Float32Array(units * inputs);
      const bias = new Float32Array(units);
      for (let i = 0; i < units; i++) {
        const row = offset + i * (inputs + 1);
        weight.set(flat.subarray(row, row + inputs), i * inputs);
        bias[i] = flat[row + inputs];
      }
      offset += units * (inputs + 1);
      return { weight, bias };
    });
  }
}

/** save()'s and toCheckpoint()'s options; returns whether the optimizer state goes in. */
function checkSaveOptions(where: string, options: { optimizer?: boolean }): boolean {
  checkKeys(where, options, ['optimizer']);
  return checkBoolean(where, 'optimizer', options.optimizer, true);
}

function checkLoadOptions(options: LoadOptions): void {
  checkKeys('load', options, ['device', 'tf32']);
  checkChoice('load', 'device', options.device, 'cpu', DEVICES);
  checkBoolean('load', 'tf32', options.tf32, false);
}

function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export interface AutoencoderConfig {
  /** Encoder widths from the input to the code, e.g. [784, 1000, 500, 250, 30]; the decoder mirrors them. */
  encoder: number[];
  loss: LossName;
  /** Hidden activation. Default 'relu' (the paper's choice); the code and output layers are linear. */
  activation?: ActivationName;
  seed?: number;
  /** As in SequentialConfig. Default 'cpu'. */
  device?: DeviceName;
  tf32?: boolean;
}

/** Options of the Autoencoder presets. */
export type PresetOptions = Pick<AutoencoderConfig, 'seed' | 'device' | 'tf32'>;

/** A deep autoencoder: ReLU hidden layers, a linear code layer and a linear output (algorithm.md §7.1). */
export class Autoencoder extends Sequential {
  /** The encoder widths from the input to the code. */
  readonly encoder: readonly number[];
  /** The hidden activation. */
  readonly activation: ActivationName;

  constructor(config: AutoencoderConfig) {
    checkKeys('Autoencoder', config, ['encoder', 'loss', 'activation', 'seed', 'device', 'tf32']);
    const widths = config.encoder;
    if (!Array.isArray(widths) || widths.length < 2)
      throw new InvalidArgumentError('Autoencoder: encoder must list at least the input and code widths');
    const activation = checkChoice('Autoencoder', 'activation', config.activation, 'relu', ACTIVATIONS);
    const all = [...widths, ...widths.slice(0, -1).reverse()];
    const codeLayer = widths.length - 2;
    const layers = all.slice(1).map((units, i) => ({
      units,
      activation: i === codeLayer || i === all.length - 2 ? ('linear' as const) : activation,
    }));
    super({ inputDim: widths[0], layers, loss: config.loss, seed: config.seed, device: config.device, tf32: config.tf32 });
    this.encoder = Object.freeze([...widths]);
    this.activation = activation;
  }

  /** Loads a checkpoint that an Autoencoder saved (see {@link Sequential.load}). */
  static override load(file: string, options: LoadOptions = {}): Autoencoder {
    return super.load(file, options) as Autoencoder;
  }

  static override fromCheckpoint(bytes: Uint8Array, name = 'checkpoint', options: LoadOptions = {}): Autoencoder {
    return super.fromCheckpoint(bytes, name, options) as Autoencoder;
  }

  protected static override fromArchitecture(architecture: SequentialConfig, metadata: Record<string, string>, options: LoadOptions): Autoencoder {
    let saved: { encoder: number[]; activation: ActivationName };
    try {
      saved = JSON.parse(metadata.autoencoder);
    } catch {
      throw new InvalidArgumentError('not an Autoencoder checkpoint (load it with Sequential.load)');
    }
    const model = new Autoencoder({ ...saved, loss: architecture.loss, device: options.device, tf32: options.tf32 });
    // The widths must give exactly the saved layers, on a vector input of the first width.
    if (JSON.stringify(model.layers) !== JSON.stringify(architecture.layers) || architecture.inputShape !== undefined
      || architecture.inputDim !== model.inputDim) {
      tidyUp(() => model.dispose());
      throw new InvalidArgumentError('its Autoencoder widths do not match its layers');
    }
    return model;
  }

  /** MNIST: 784-1000-500-250-30-250-500-1000-784, sigmoid cross-entropy (2,837,314 parameters). */
  static mnist(options: PresetOptions = {}): Autoencoder {
    return new Autoencoder({ encoder: [784, 1000, 500, 250, 30], loss: 'sigmoidCrossEntropy', ...options });
  }

  /** FACES: 625-2000-1000-500-30-500-1000-2000-625, half squared error (7,537,655 parameters). */
  static faces(options: PresetOptions = {}): Autoencoder {
    return new Autoencoder({ encoder: [625, 2000, 1000, 500, 30], loss: 'halfSquaredError', ...options });
  }

  /** CURVES: 784-400-200-100-50-25-6-25-50-100-200-400-784, sigmoid cross-entropy (842,340 parameters). */
  static curves(options: PresetOptions = {}): Autoencoder {
    return new Autoencoder({ encoder: [784, 400, 200, 100, 50, 25, 6], loss: 'sigmoidCrossEntropy', ...options });
  }
}
