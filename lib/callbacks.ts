/**
 * Training callbacks in step with training: the native thread waits at each epoch end (and, when a callback
 * has onBatchEnd, at each batch end) until every callback has returned, awaiting the promises of async ones.
 * A callback stops training by setting `model.stopTraining = true`; fit() then resolves with the history.
 * The built-ins are those Keras and TensorFlow.js users know.
 */
import { InvalidArgumentError } from './errors';
import { checkBoolean, checkChoice, checkKeys, checkNumber } from './options';
import type { Optimizer } from './optimizers';
import type { BatchLogs, EpochLogs, History, LayerWeights, Sequential } from './model';

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
