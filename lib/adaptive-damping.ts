/**
 * Adaptive damping for K-BFGS, K-BFGS(L) and KFAC (`damping: 'adaptive'`, algorithm.md §19): the
 * Levenberg-Marquardt rule of Martens & Grosse (2015). Every `every` steps the loss of the next minibatch
 * after the step is compared with the decrease the method's quadratic model predicted; λ shrinks by
 * ω = (19/20)^every when the ratio ρ is above 3/4 and grows by 1/ω when it is below 1/4. KFAC's λ starts, without
 * a given `start`, at α‖ĝ₀‖/‖θ₀‖ from the first minibatch's gradient (§19.7).
 */
import { InvalidArgumentError } from './errors';
import { checkBoolean, checkKeys, checkNumber, describeValue } from './options';

export interface AdaptiveDampingOptions {
  /**
   * λ at the first step, exactly (unless `scaledStart` is set too). Default: the method's fixed default (K-BFGS
   * 0.3, KFAC 3), which KFAC scales (below) and falls back on where weights or gradient are all zero.
   */
  start?: number;
  /**
   * λ at the first step from the scale of that step (algorithm.md §19.7): α‖ĝ₀‖/‖θ₀‖, with the first step's α,
   * its minibatch's gradient ĝ₀ (weight decay included) and the initial weights θ₀, clamped to [min, max].
   * Default: true for KFAC without a `start`, else false (K-BFGS's λ does not set its step's scale, §19.7).
   */
  scaledStart?: boolean;
  /** Judge λ at every this many steps (T of algorithm.md §19). Default 5. */
  every?: number;
  /** λ is kept within [min, max]. Defaults 1e-4 and 1e4. */
  min?: number;
  max?: number;
}

/** The settings the native side reads besides `damping` (the current λ): present only under adaptive damping. */
export const ADAPTIVE_KEYS = ['dampingEvery', 'dampingMin', 'dampingMax', 'dampingScaledStart'] as const;

/**
 * Resolves `damping` and `adaptiveDamping` into settings: `{ damping }` for a fixed λ, or the starting λ with
 * dampingEvery, dampingMin, dampingMax and dampingScaledStart. `allowed`: whether the method has adaptive
 * damping; `scaled`: whether its start is scaled by default (§19.7).
 */
export function dampingSettings(where: string, damping: unknown, adaptive: AdaptiveDampingOptions | undefined,
  fallback: number, allowed: boolean, scaled = false): Record<string, number> {
  if (typeof damping === 'string') {
    if (damping !== 'adaptive')
      throw new InvalidArgumentError(`${where}: damping must be a number >= 0 or 'adaptive', got ${describeValue(damping)}`);
    if (!allowed) throw new InvalidArgumentError(`${where}: damping 'adaptive' is for K-BFGS, K-BFGS(L) and KFAC only`);
    const o = adaptive ?? {};
    if (typeof o !== 'object' || o === null)
      throw new InvalidArgumentError(`${where}: adaptiveDamping must be an object, got ${describeValue(o)}`);
    checkKeys(`${where} adaptiveDamping`, o, ['start', 'scaledStart', 'every', 'min', 'max']);
    const name = (key: string) => `adaptiveDamping.${key}`;
    const dampingEvery = checkNumber(where, name('every'), o.every, 5, { min: 1, max: 2 ** 31 - 1, integer: true });
    const dampingMin = checkNumber(where, name('min'), o.min, 1e-4, { above: 0 });
    const dampingMax = checkNumber(where, name('max'), o.max, 1e4, { min: dampingMin });
    const start = checkNumber(where, name('start'), o.start, Math.min(Math.max(fallback, dampingMin), dampingMax),
      { min: dampingMin, max: dampingMax });
    const dampingScaledStart = checkBoolean(where, name('scaledStart'), o.scaledStart, scaled && o.start === undefined) ? 1 : 0;
    return { damping: start, dampingEvery, dampingMin, dampingMax, dampingScaledStart };
  }
  if (adaptive !== undefined) throw new InvalidArgumentError(`${where}: adaptiveDamping needs damping: 'adaptive'`);
  return { damping: checkNumber(where, 'damping', damping, fallback, { min: 0 }) };
}

/**
 * Settings as toJSON() stores them, back as options: `damping: 'adaptive'` with its start at the current λ and the
 * scaled start as set (a checkpoint's step count says whether it is still to be made; files from before it: off).
 */
export function dampingOptions(s: Record<string, number>): { damping?: number | 'adaptive'; adaptiveDamping?: AdaptiveDampingOptions } {
  if (s.dampingEvery === undefined) return { damping: s.damping };
  return { damping: 'adaptive', adaptiveDamping: { start: s.damping, scaledStart: s.dampingScaledStart === 1, every: s.dampingEvery,
    min: s.dampingMin, max: s.dampingMax } };
}
