/**
 * Adaptive damping for K-BFGS, K-BFGS(L) and KFAC (`damping: 'adaptive'`, algorithm.md §19): the
 * Levenberg-Marquardt rule of Martens & Grosse (2015). Every `every` steps the loss of the step's own minibatch
 * after the step is compared with the decrease the method's quadratic model predicted; λ shrinks by
 * ω = (19/20)^every when the ratio ρ is above 3/4 and grows by 1/ω when it is below 1/4.
 */
import { InvalidArgumentError } from './errors';
import { checkKeys, checkNumber, describeValue } from './options';

export interface AdaptiveDampingOptions {
  /** λ at the first step. Default: the method's fixed default (K-BFGS 0.3, KFAC 3). */
  start?: number;
  /** Judge λ at every this many steps (T of algorithm.md §19). Default 5. */
  every?: number;
  /** λ is kept within [min, max]. Defaults 1e-4 and 1e4. */
  min?: number;
  max?: number;
}

/** The settings the native side reads besides `damping` (the current λ): present only under adaptive damping. */
export const ADAPTIVE_KEYS = ['dampingEvery', 'dampingMin', 'dampingMax'] as const;

/**
 * Resolves `damping` and `adaptiveDamping` into settings: `{ damping }` for a fixed λ, or the starting λ with
 * dampingEvery, dampingMin and dampingMax. `allowed`: whether the method has adaptive damping.
 */
export function dampingSettings(where: string, damping: unknown, adaptive: AdaptiveDampingOptions | undefined,
  fallback: number, allowed: boolean): Record<string, number> {
  if (typeof damping === 'string') {
    if (damping !== 'adaptive')
      throw new InvalidArgumentError(`${where}: damping must be a number >= 0 or 'adaptive', got ${describeValue(damping)}`);
    if (!allowed) throw new InvalidArgumentError(`${where}: damping 'adaptive' is for K-BFGS, K-BFGS(L) and KFAC only`);
    const o = adaptive ?? {};
    if (typeof o !== 'object' || o === null)
      throw new InvalidArgumentError(`${where}: adaptiveDamping must be an object, got ${describeValue(o)}`);
    checkKeys(`${where} adaptiveDamping`, o, ['start', 'every', 'min', 'max']);
    const name = (key: string) => `adaptiveDamping.${key}`;
    const dampingEvery = checkNumber(where, name('every'), o.every, 5, { min: 1, max: 2 ** 31 - 1, integer: true });
    const dampingMin = checkNumber(where, name('min'), o.min, 1e-4, { above: 0 });
    const dampingMax = checkNumber(where, name('max'), o.max, 1e4, { min: dampingMin });
    const start = checkNumber(where, name('start'), o.start, Math.min(Math.max(fallback, dampingMin), dampingMax),
      { min: dampingMin, max: dampingMax });
    return { damping: start, dampingEvery, dampingMin, dampingMax };
  }
  if (adaptive !== undefined) throw new InvalidArgumentError(`${where}: adaptiveDamping needs damping: 'adaptive'`);
  return { damping: checkNumber(where, 'damping', damping, fallback, { min: 0 }) };
}

/** Settings as toJSON() stores them, back as options: `damping: 'adaptive'` with its start at the current λ. */
export function dampingOptions(s: Record<string, number>): { damping?: number | 'adaptive'; adaptiveDamping?: AdaptiveDampingOptions } {
  if (s.dampingEvery === undefined) return { damping: s.damping };
  return { damping: 'adaptive', adaptiveDamping: { start: s.damping, every: s.dampingEvery, min: s.dampingMin, max: s.dampingMax } };
}
