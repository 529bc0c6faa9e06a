/** Validation of option objects and numbers at the API boundary; every failure is an InvalidArgumentError. */
import { inspect } from 'util';
import { InvalidArgumentError } from './errors';

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The allowed name closest to a wrong one, if one is close enough to be what was meant. */
export function closestName(key: string, allowed: readonly string[], maxDistance = Math.max(2, key.length / 3)): string | undefined {
  const best = allowed
    .map((name) => ({ name, distance: editDistance(key.toLowerCase(), name.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance)[0];
  return best && best.distance <= maxDistance ? best.name : undefined;
}

/** Rejects an options object with a key outside `allowed`, suggesting the closest allowed name. */
export function checkKeys(where: string, options: object | undefined, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError(`${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const closest = closestName(key, allowed);
    throw new InvalidArgumentError(`${where}: unknown option '${key}'${closest ? ` (did you mean '${closest}'?)` : ''}`);
  }
}

/** Any value shown briefly for a message: strings quoted, objects shallow; never throws (symbols, BigInts, proxies). */
export function describeValue(value: unknown): string {
  try {
    return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 100 });
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export interface NumberRule {
  min?: number;
  max?: number;
  /** Exclusive bounds. */
  above?: number;
  below?: number;
  integer?: boolean;
}

/** Returns value, or fallback when value is undefined; throws if the result breaks the rule. */
export function checkNumber(where: string, name: string, value: unknown, fallback: number, rule: NumberRule = {}): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new InvalidArgumentError(`${where}: ${name} must be a finite number, got ${describeValue(v)}`);
  const fail = (what: string) => new InvalidArgumentError(`${where}: ${name} must be ${what}, got ${v}`);
  if (rule.integer && !Number.isInteger(v)) throw fail('an integer');
  if (rule.min !== undefined && v < rule.min) throw fail(`>= ${rule.min}`);
  if (rule.max !== undefined && v > rule.max) throw fail(`<= ${rule.max}`);
  if (rule.above !== undefined && v <= rule.above) throw fail(`> ${rule.above}`);
  if (rule.below !== undefined && v >= rule.below) throw fail(`< ${rule.below}`);
  return v;
}

export function checkBoolean(where: string, name: string, value: unknown, fallback: boolean): boolean {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${where}: ${name} must be a boolean, got ${describeValue(v)}`);
  return v;
}

export function checkChoice<T extends string>(where: string, name: string, value: unknown, fallback: T,
  choices: readonly T[]): T {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
    throw new InvalidArgumentError(`${where}: ${name} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describeValue(v)}`);
  return v as T;
}
