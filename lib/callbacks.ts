/**
 * Training callbacks in step with training: the native thread waits at each epoch end (and, when a callback
 * has onBatchEnd, at each batch end) until every callback has returned, awaiting the promises of async ones.
 * A callback stops training by setting `model.stopTraining = true`; fit() then resolves with the history.
 * The built-ins are those Keras and TensorFlow.js users know.
 */
import { types } from 'util';
import { CallbackError, InvalidArgumentError } from './errors';
import { checkBoolean, checkChoice, checkKeys, checkNumber, closestName, describeValue } from './options';
import type { Optimizer } from './optimizers';
import type { Sequential } from './model';
import type { BatchLogs, EpochLogs, History, LayerWeights } from './records';

/** What a callback sees of the fit it belongs to. */
export interface TrainingRun {
  model: Sequential;
  optimizer: Optimizer;
  /** The `epochs` given to fit(). */
  epochs: number;
}

/** Any object with some of these methods; each may return a promise, which training awaits. */
export interface Callback {
  onTrainBegin?(run: TrainingRun): unknown;
  onEpochEnd?(epoch: number, logs: EpochLogs): unknown;
  onBatchEnd?(batch: number, logs: BatchLogs): unknown;
  onTrainEnd?(history: History): unknown;
}

/** The hooks fit calls, in the order a fit reaches them. */
export const HOOKS = ['onTrainBegin', 'onEpochEnd', 'onBatchEnd', 'onTrainEnd'] as const;
export type HookName = (typeof HOOKS)[number];

/** A hook read off a callback (or a fit option) before training, with the words that name it in messages. */
export interface BoundHook {
  /** e.g. "onEpochEnd of callbacks[0] (EarlyStopping)" or "the onEpochEnd option". */
  readonly label: string;
  readonly call: (...args: never[]) => unknown;
}

function callbackName(callback: object): string {
  const ctor = (callback as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' ? (ctor as { name?: unknown }).name : undefined;
  return typeof name === 'string' && name !== '' ? name : 'Object';
}

/** Every property name of an object and its prototypes, up to (not including) Object.prototype. */
function propertyNames(object: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = object; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const name of Object.getOwnPropertyNames(o)) names.add(name);
  return [...names];
}

/**
 * Checks the callbacks and the onEpochEnd/onBatchEnd options of a fit before anything runs, and reads each
 * hook once: a hook that is not a function, a name like a hook that fit never calls (a typo, or a Keras hook
 * such as onEpochBegin) or a callback that is not an object is an InvalidArgumentError naming the callback and
 * the hook. Hooks are bound to their callbacks, callbacks first, then the options.
 */
export function bindHooks(where: string, callbacks: unknown,
  options: { onEpochEnd?: unknown; onBatchEnd?: unknown }): Record<HookName, BoundHook[]> {
  const hooks: Record<HookName, BoundHook[]> = { onTrainBegin: [], onEpochEnd: [], onBatchEnd: [], onTrainEnd: [] };
  const list = callbacks === undefined ? [] : callbacks;
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${where}: callbacks must be an array of callback objects, got ${describeValue(list)}`);
  list.forEach((callback: unknown, i) => {
    if (callback === null || typeof callback !== 'object' || Array.isArray(callback))
      throw new InvalidArgumentError(`${where}: callbacks[${i}] must be a callback object, got ${Array.isArray(callback) ? 'an array' : typeof callback === 'function' ? 'a function' : describeValue(callback)}`);
    const name = `callbacks[${i}] (${callbackName(callback)})`;
    for (const key of propertyNames(callback)) {
      if (!/^on[A-Z]/.test(key) || (HOOKS as readonly string[]).includes(key)) continue;
      const closest = closestName(key, HOOKS, 2);  // not onEpochEnd for onEpochBegin
      throw new InvalidArgumentError(`${where}: ${name}: unknown hook '${key}' (${closest ? `did you mean '${closest}'?` : `fit calls ${HOOKS.join(', ')}`})`);
    }
    for (const hook of HOOKS) {
      let value: unknown;
      try {
        value = (callback as Record<string, unknown>)[hook];
      } catch (e) {
        throw new InvalidArgumentError(`${where}: ${name}: reading ${hook} threw ${describeValue(e)}`);
      }
      if (value === undefined) continue;
      if (typeof value !== 'function') throw new InvalidArgumentError(`${where}: ${name}: ${hook} must be a function, got ${describeValue(value)}`);
      hooks[hook].push({ label: `${hook} of ${name}`, call: value.bind(callback) });
    }
  });
  for (const hook of ['onEpochEnd', 'onBatchEnd'] as const) {
    const value = options[hook];
    if (value === undefined) continue;
    if (typeof value !== 'function') throw new InvalidArgumentError(`${where}: ${hook} must be a function, got ${describeValue(value)}`);
    hooks[hook].push({ label: `the ${hook} option`, call: value as BoundHook['call'] });
  }
  return hooks;
}

const REPORT_ONLY = Symbol.for('kbfgs-native.reportOnly');

/**
 * Marks an onBatchEnd hook that training need not wait for: it only reports (the browser's engine worker posts
 * each step to the page). Training on one thread must not wait for a hook, which could only run after it.
 */
export function reportOnly<F extends (...args: never[]) => unknown>(hook: F): F {
  return Object.assign(hook, { [REPORT_ONLY]: true });
}

/** Whether every hook of the list is reportOnly (then training does not wait after its event). */
export function allReportOnly(hooks: readonly BoundHook[]): boolean {
  return hooks.every((h) => (h.call as unknown as Record<symbol, unknown>)[REPORT_ONLY] === true);
}

/**
 * Calls a hook and awaits what it returns. An Error it throws or rejects with passes on as it is; anything
 * else (undefined, a string) becomes a CallbackError that names the hook and shows the value.
 */
export async function callHook(where: string, hook: BoundHook, ...args: unknown[]): Promise<void> {
  try {
    await (hook.call as (...a: unknown[]) => unknown)(...args);
  } catch (error) {
    if (error instanceof Error || types.isNativeError(error)) throw error;
    throw new CallbackError(`${where}: ${hook.label} failed with ${describeValue(error)}, which is not an Error`, error);
  }
}

/** A quantity of the epoch logs that callbacks can watch. */
export type Monitor = 'loss' | 'valLoss' | 'accuracy' | 'valAccuracy' | 'batchLoss';
const MONITORS = ['loss', 'valLoss', 'accuracy', 'valAccuracy', 'batchLoss'] as const;

/** Tracks the best value of a monitored quantity ('auto': accuracies go up, losses down). */
class Best {
  readonly monitor: Monitor;
  private readonly sign: number;
  value = Infinity;

  constructor(where: string, options: { monitor?: Monitor; mode?: 'auto' | 'min' | 'max' }, fallback: Monitor, private readonly minDelta = 0) {
    this.monitor = checkChoice(where, 'monitor', options.monitor, fallback, MONITORS);
    const mode = checkChoice(where, 'mode', options.mode, 'auto', ['auto', 'min', 'max'] as const);
    this.sign = mode === 'max' || (mode === 'auto' && this.monitor.endsWith('ccuracy')) ? -1 : 1;
  }

  read(logs: EpochLogs): number {
    const v = logs[this.monitor];
    if (typeof v !== 'number' || Number.isNaN(v))
      throw new InvalidArgumentError(`callback monitors '${this.monitor}', which this fit does not report${this.monitor.startsWith('val') ? ' (no validationData)' : ''}`);
    return v;
  }

  /** Whether value improves on the best by more than minDelta; if so it becomes the best. */
  improves(value: number): boolean {
    if (this.sign * value < this.value - this.minDelta) {
      this.value = this.sign * value;
      return true;
    }
    return false;
  }

  reset(): void {
    this.value = Infinity;
  }
}

export interface EarlyStoppingOptions {
  /** Default 'valLoss' (use 'loss' without validation data). */
  monitor?: Monitor;
  /** The smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement after which training stops (0: at the first). Default 0. */
  patience?: number;
  mode?: 'auto' | 'min' | 'max';
  /** At the end, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
}

/** Stops training when the monitored quantity has not improved for `patience` epochs. */
export class EarlyStopping implements Callback {
  /** The epoch after which training stopped, or -1. */
  stoppedEpoch = -1;
  private readonly best: Best;
  private readonly patience: number;
  private readonly restoreBestWeights: boolean;
  private wait = 0;
  private bestWeights: LayerWeights[] | undefined;
  private run: TrainingRun | undefined;

  constructor(options: EarlyStoppingOptions = {}) {
    const where = 'EarlyStopping';
    checkKeys(where, options, ['monitor', 'minDelta', 'patience', 'mode', 'restoreBestWeights']);
    this.best = new Best(where, options, 'valLoss', checkNumber(where, 'minDelta', options.minDelta, 0, { min: 0 }));
    this.patience = checkNumber(where, 'patience', options.patience, 0, { min: 0, integer: true });
    this.restoreBestWeights = checkBoolean(where, 'restoreBestWeights', options.restoreBestWeights, false);
  }

  onTrainBegin(run: TrainingRun): void {
    this.run = run;
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.bestWeights = undefined;
    this.best.reset();
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    if (this.best.improves(this.best.read(logs))) {
      this.wait = 0;
      if (this.restoreBestWeights) this.bestWeights = this.run!.model.getWeights();
    } else if (++this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      this.run!.model.stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.bestWeights) this.run!.model.setWeights(this.bestWeights);
  }
}

export interface ReduceLROnPlateauOptions {
  /** Default 'valLoss'. */
  monitor?: Monitor;
  /** The learning rate is multiplied by this. Default 0.1. */
  factor?: number;
  /** Epochs without improvement after which the rate is reduced. Default 10. */
  patience?: number;
  /** Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** The learning rate never goes below this. Default 0. */
  minLr?: number;
  mode?: 'auto' | 'min' | 'max';
}

/** Multiplies the learning rate by `factor` when the monitored quantity stops improving. */
export class ReduceLROnPlateau implements Callback {
  private readonly best: Best;
  private readonly factor: number;
  private readonly patience: number;
  private readonly cooldown: number;
  private readonly minLr: number;
  private wait = 0;
  private cooling = 0;
  private run: TrainingRun | undefined;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    const where = 'ReduceLROnPlateau';
    checkKeys(where, options, ['monitor', 'factor', 'patience', 'minDelta', 'cooldown', 'minLr', 'mode']);
    this.best = new Best(where, options, 'valLoss', checkNumber(where, 'minDelta', options.minDelta, 1e-4, { min: 0 }));
    this.factor = checkNumber(where, 'factor', options.factor, 0.1, { above: 0, below: 1 });
    this.patience = checkNumber(where, 'patience', options.patience, 10, { min: 0, integer: true });
    this.cooldown = checkNumber(where, 'cooldown', options.cooldown, 0, { min: 0, integer: true });
    this.minLr = checkNumber(where, 'minLr', options.minLr, 0, { min: 0 });
  }

  onTrainBegin(run: TrainingRun): void {
    this.run = run;
    this.wait = this.cooling = 0;
    this.best.reset();
  }

  onEpochEnd(_epoch: number, logs: EpochLogs): void {
    if (this.cooling > 0) this.cooling--;
    if (this.best.improves(this.best.read(logs))) {
      this.wait = 0;
    } else if (this.cooling === 0 && ++this.wait >= this.patience) {
      const optimizer = this.run!.optimizer;
      const lr = Math.max(this.minLr, optimizer.lr * this.factor);
      if (lr > 0 && lr < optimizer.lr) optimizer.lr = lr;
      this.cooling = this.cooldown;
      this.wait = 0;
    }
  }
}

/**
 * Sets the learning rate from a schedule: `(epoch, lr) => newLr` before each epoch (epoch 0 included), or
 * with `{ every: 'step' }`, `(step, lr) => newLr` before each step (step counts the steps of this model).
 */
export class LearningRateScheduler implements Callback {
  private readonly every: 'epoch' | 'step';
  private run: TrainingRun | undefined;
  private steps = 0;

  constructor(private readonly schedule: (index: number, lr: number) => number, options: { every?: 'epoch' | 'step' } = {}) {
    if (typeof schedule !== 'function') throw new InvalidArgumentError('LearningRateScheduler: schedule must be a function (index, lr) => lr');
    checkKeys('LearningRateScheduler', options, ['every']);
    this.every = checkChoice('LearningRateScheduler', 'every', options.every, 'epoch', ['epoch', 'step'] as const);
  }

  onTrainBegin(run: TrainingRun): void {
    this.run = run;
    this.steps = run.model.steps;
    this.apply(this.every === 'epoch' ? run.model.epochsTrained : this.steps);
  }

  onEpochEnd(epoch: number): void {
    if (this.every === 'epoch') this.apply(epoch + 1);
  }

  // Present only for per-step schedules, so that an epoch schedule does not make training wait per batch.
  get onBatchEnd(): ((batch: number, logs: BatchLogs) => void) | undefined {
    return this.every === 'step' ? (_batch, logs) => this.apply(logs.step) : undefined;
  }

  private apply(index: number): void {
    const optimizer = this.run!.optimizer;
    const lr = this.schedule(index, optimizer.lr);
    if (lr !== optimizer.lr) optimizer.lr = lr;
  }
}

export interface ModelCheckpointOptions {
  /** Save every this many epochs. Default 1. */
  every?: number;
  /** Save only when the monitored quantity improves. Default false. */
  saveBestOnly?: boolean;
  /** Default 'valLoss'. */
  monitor?: Monitor;
  mode?: 'auto' | 'min' | 'max';
  /** Include the optimizer state (for an exact resume). Default true. */
  optimizer?: boolean;
}

/** Saves the model (atomically, with `save`) during training; `{epoch}` in the path becomes the epoch number. */
export class ModelCheckpoint implements Callback {
  private readonly every: number;
  private readonly saveBestOnly: boolean;
  private readonly withOptimizer: boolean;
  private readonly best: Best;
  private run: TrainingRun | undefined;

  constructor(private readonly path: string, options: ModelCheckpointOptions = {}) {
    const where = 'ModelCheckpoint';
    if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`${where}: path must be a file path`);
    checkKeys(where, options, ['every', 'saveBestOnly', 'monitor', 'mode', 'optimizer']);
    this.every = checkNumber(where, 'every', options.every, 1, { min: 1, integer: true });
    this.saveBestOnly = checkBoolean(where, 'saveBestOnly', options.saveBestOnly, false);
    this.withOptimizer = checkBoolean(where, 'optimizer', options.optimizer, true);
    this.best = new Best(where, options, 'valLoss');
  }

  onTrainBegin(run: TrainingRun): void {
    this.run = run;
    this.best.reset();
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    if (this.saveBestOnly ? !this.best.improves(this.best.read(logs)) : (epoch + 1) % this.every !== 0) return;
    this.run!.model.save(this.path.replace(/\{epoch\}/g, String(epoch)), { optimizer: this.withOptimizer });
  }
}
