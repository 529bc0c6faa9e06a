/**
 * Learning-rate schedules every optimizer takes as its `schedule` option: the step's learning rate is the
 * optimizer's `lr` times the schedule's factor of the step number (algorithm.md §15.3). The engine applies it
 * at every step, so it costs no callback, holds on every rank of a data-parallel fit, and a checkpoint resumes
 * it exactly (the step count is part of the training state, the schedule part of the optimizer's settings).
 */
import { InvalidArgumentError } from './errors';
import { checkKeys, checkNumber, describeValue } from './options';

export interface WarmupCosineOptions {
  /** Steps of the linear warm-up: step k < warmupSteps takes (k + 1)/warmupSteps of lr. Default 0. */
  warmupSteps?: number;
  /**
   * The steps the whole schedule spans, warm-up included (> warmupSteps): the cosine decay runs over steps
   * warmupSteps to totalSteps − 1 and reaches minFactor at the last; later steps stay at minFactor.
   */
  totalSteps: number;
  /** The factor the decay ends at, from 0 to 1. Default 0. */
  minFactor?: number;
}

/** The JSON form of a schedule (optimizer JSON and checkpoints). */
export interface ScheduleJSON {
  kind: 'warmupCosine';
  warmupSteps: number;
  totalSteps: number;
  minFactor: number;
}

/**
 * Linear warm-up then cosine decay. Factor at 0-based step k, with W = warmupSteps, T = totalSteps and
 * m = minFactor: (k + 1)/W for k < W; m + (1 − m)·(1 + cos(π·(k − W + 1)/(T − W)))/2 for W ≤ k < T; m after.
 */
export class WarmupCosine {
  readonly kind = 'warmupCosine';
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minFactor: number;

  constructor(options: WarmupCosineOptions) {
    const where = 'WarmupCosine';
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError(`${where}: options { totalSteps } are required, got ${describeValue(options)}`);
    checkKeys(where, options, ['warmupSteps', 'totalSteps', 'minFactor']);
    this.warmupSteps = checkNumber(where, 'warmupSteps', options.warmupSteps, 0, { min: 0, max: 2 ** 53, integer: true });
    if (options.totalSteps === undefined) throw new InvalidArgumentError(`${where}: totalSteps is required`);
    this.totalSteps = checkNumber(where, 'totalSteps', options.totalSteps, NaN, { min: 1, max: 2 ** 53, integer: true });
    if (this.totalSteps <= this.warmupSteps)
      throw new InvalidArgumentError(`${where}: totalSteps (${this.totalSteps}) must be larger than warmupSteps (${this.warmupSteps})`);
    this.minFactor = checkNumber(where, 'minFactor', options.minFactor, 0, { min: 0, max: 1 });
    Object.freeze(this);
  }

  /** The factor of lr at 0-based step k (the engine computes the same in double precision). */
  factor(step: number): number {
    const { warmupSteps: W, totalSteps: T, minFactor: m } = this;
    if (step < W) return (step + 1) / W;
    if (step >= T - 1) return m;
    return m + (1 - m) * 0.5 * (1 + Math.cos(Math.PI * (step - W + 1) / (T - W)));
  }

  toJSON(): ScheduleJSON {
    return { kind: this.kind, warmupSteps: this.warmupSteps, totalSteps: this.totalSteps, minFactor: this.minFactor };
  }
}

export type LrSchedule = WarmupCosine;

/** A schedule from a schedule object or its JSON form; InvalidArgumentError for anything else. */
export function scheduleOf(where: string, value: unknown): LrSchedule {
  if (value instanceof WarmupCosine) return value;
  const json = value as Partial<ScheduleJSON> | null;
  if (json === null || typeof json !== 'object' || json.kind !== 'warmupCosine')
    throw new InvalidArgumentError(`${where}: schedule must be a WarmupCosine (or its JSON form with kind 'warmupCosine'), got ${describeValue(value)}`);
  const { kind: _kind, ...options } = json;
  return new WarmupCosine(options as WarmupCosineOptions);
}
