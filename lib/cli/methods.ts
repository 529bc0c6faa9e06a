/** The methods `train`, `bench` and `tune` know (the paper's six, then Shampoo, SOAP and AdamW), with the settings the benchmark uses unless `tune` found better ones. */
import { LearningRateScheduler } from '../callbacks';
import { InvalidArgumentError } from '../errors';
import { Adam, AdamW, KBFGS, KBFGSL, KFAC, RMSprop, SGD, SOAP, Shampoo, type DampingSplit, type Optimizer } from '../optimizers';

export const METHODS = ['kbfgs', 'kbfgs-l', 'kfac', 'adam', 'rmsprop', 'sgd', 'shampoo', 'soap', 'adamw'] as const;
export type MethodName = (typeof METHODS)[number];
/** What `bench` runs unless --methods says otherwise: the paper's comparison. */
export const PAPER_METHODS: MethodName[] = ['kbfgs', 'kbfgs-l', 'kfac', 'adam', 'rmsprop', 'sgd'];

export interface MethodSettings {
  lr: number;
  /**
   * λ of the second-order methods (Shampoo: ε relative to λ_max; SOAP: Adam's ε; algorithm.md §17), or
   * 'adaptive' (K-BFGS, K-BFGS(L), KFAC: λ tunes itself from the method's default, algorithm.md §19).
   */
  damping?: number | 'adaptive';
  /** AdamW's decoupled weight decay λ (default 0.01). */
  weightDecay?: number;
  /** ε of Adam, AdamW and RMSprop, and of the Adam step Shampoo grafts onto. */
  epsilon?: number;
  /** K-BFGS, K-BFGS(L) and KFAC: the curvature every this many steps (default 1; settings files only, not tuned). */
  curvatureEvery?: number;
  /** α is multiplied by this after every epoch, α_e = α·lrDecay^e (default 1: constant; settings files only, not tuned). */
  lrDecay?: number;
  /** The gradient clipped to this global norm (algorithm.md §15.2; default none; settings files only, not tuned). */
  clipNorm?: number;
  /** KFAC: how λ is shared between A and G (algorithm.md §5.2; default 'even'; settings files only, not tuned). */
  dampingSplit?: DampingSplit;
}

/**
 * Built-in settings. MNIST: the paper's settings for K-BFGS (α = λ = 0.3) and KFAC (α = 1, λ = 3)
 * (algorithm.md §7.3) and, for the first-order methods in the paper's protocol, the best of `kbfgs-native tune` on MNIST.
 * Other problems: the best of `kbfgs-native tune` on that problem where it was run (bench/RESULTS.md);
 * K-BFGS diverges on curves-synth at the MNIST step size. A `--settings` file overrides these.
 */
export const DEFAULT_SETTINGS: Record<MethodName, MethodSettings> = {
  kbfgs: { lr: 0.3, damping: 0.3 },
  'kbfgs-l': { lr: 0.3, damping: 0.3 },
  kfac: { lr: 1, damping: 3 },
  // kbfgs-native tune --problem mnist --methods adam,rmsprop,sgd --time-budget 25
  adam: { lr: 1e-3, epsilon: 1e-4 },
  rmsprop: { lr: 1e-3, epsilon: 1e-4 },
  sgd: { lr: 0.03 },
  // the API's defaults (not tuned here)
  shampoo: { lr: 1e-3, damping: 1e-6 },
  soap: { lr: 3e-3, damping: 1e-8 },
  adamw: { lr: 1e-3, epsilon: 1e-8, weightDecay: 0.01 },
};

// The convolutional classifiers, tuned on Fashion-MNIST (bench/RESULTS.md, log in bench/results/fashion-cnn-tune):
// kbfgs-native tune --problem fashion-mnist-cnn --train-size 12800 --batch-size 128 --time-budget 60 \
//   --methods kbfgs,kbfgs-l,kfac --lr 0.1,0.3,1 --damping 0.01,0.03,0.1   (adam: --lr 0.0003,0.001,0.003; sgd: quick grid)
// K-BFGS and K-BFGS(L) take their curvature at every 10th step, the configuration that reached 91 % test accuracy
// soonest on the clock (bench/RESULTS.md, "Time to 90 % and 91 %"; KFAC was slower so and keeps r = 1).
const CNN_SETTINGS: Partial<Record<MethodName, MethodSettings>> = {
  kbfgs: { lr: 1, damping: 0.1, curvatureEvery: 10 },
  'kbfgs-l': { lr: 1, damping: 0.1, curvatureEvery: 10 },
  kfac: { lr: 0.3, damping: 0.01 },
  adam: { lr: 3e-3, epsilon: 1e-4 },
  sgd: { lr: 0.1 },
};

// The GPT on text, the best per step of the settings measured with bench/gpt-text.js (bench/RESULTS.md, "A small
// GPT on text"; 150 steps at batch 32): AdamW's default lr 1e-3 was the best of 1e-3, 2e-3, 3e-3. Clipping the
// gradient to norm 1 lowered AdamW's and KFAC's loss at every evaluation and raised K-BFGS's; with it KFAC's
// α 0.3 ended below 0.2 and 0.5 (bench/RESULTS.md, "KFAC's settings with clipping"). KFAC's damping split by the
// factors' traces reached AdamW's final loss in 0.53-0.67 of its steps, where the even split needed 0.93; α 0.3
// did better than 0.1 and 1 with it (bench/RESULTS.md, "KFAC with the trace damping split").
const TEXT_SETTINGS: Partial<Record<MethodName, MethodSettings>> = {
  kbfgs: { lr: 0.3, damping: 0.03 },
  kfac: { lr: 0.3, damping: 0.01, clipNorm: 1, dampingSplit: 'trace' },
  soap: { lr: 0.01, damping: 1e-8 },
  adamw: { lr: 1e-3, epsilon: 1e-8, weightDecay: 0.01, clipNorm: 1 },
};

export const PROBLEM_SETTINGS: Partial<Record<string, Partial<Record<MethodName, MethodSettings>>>> = {
  text: TEXT_SETTINGS,
  'mnist-cnn': CNN_SETTINGS,
  'fashion-mnist-cnn': CNN_SETTINGS,
  // kbfgs-native tune --problem curves-synth --train-size 10000 --methods kbfgs,kfac,adam,rmsprop,sgd --time-budget 5
  'curves-synth': {
    kbfgs: { lr: 0.1, damping: 0.3 },
    'kbfgs-l': { lr: 0.1, damping: 0.3 },
    kfac: { lr: 0.1, damping: 0.3 },
    adam: { lr: 1e-3, epsilon: 1e-4 },
    rmsprop: { lr: 1e-3, epsilon: 1e-4 },
    sgd: { lr: 0.03 },
  },
};

/** The defaults `new KBFGS()`, `new Adam({ protocol: 'paper' })` and so on have: what `train` starts from. */
export function apiDefaults(method: MethodName): MethodSettings {
  const s = makeOptimizer(method, {} as MethodSettings).settings;
  return { lr: s.lr, ...(s.damping !== undefined ? { damping: s.damping } : {}), ...(s.epsilon !== undefined ? { epsilon: s.epsilon } : {}),
    ...(method === 'adamw' ? { weightDecay: s.weightDecay } : {}) };  // the others' τ is the protocol's, not a setting
}

/** The settings a bench or tune run uses: built-in, then per problem, then the caller's. */
export function settingsFor(problem: string, method: MethodName, override?: Partial<MethodSettings>): MethodSettings {
  return { ...DEFAULT_SETTINGS[method], ...PROBLEM_SETTINGS[problem]?.[method], ...override };
}

/** Every method in the paper's protocol (algorithm.md §2): gradient momentum 0.9/0.1 and τ = 1e-5 for all. */
export function makeOptimizer(method: MethodName, s: MethodSettings, seed = 0): Optimizer {
  const clip = s.clipNorm === undefined ? {} : { clipNorm: s.clipNorm };
  switch (method) {
    case 'kbfgs': return new KBFGS({ lr: s.lr, damping: s.damping, curvatureEvery: s.curvatureEvery, ...clip });
    case 'kbfgs-l': return new KBFGSL({ lr: s.lr, damping: s.damping, curvatureEvery: s.curvatureEvery, ...clip });
    case 'kfac': return new KFAC({ lr: s.lr, damping: s.damping, curvatureEvery: s.curvatureEvery, seed, dampingSplit: s.dampingSplit, ...clip });
    case 'adam': return new Adam({ lr: s.lr, epsilon: s.epsilon, protocol: 'paper', ...clip });
    case 'rmsprop': return new RMSprop({ lr: s.lr, epsilon: s.epsilon, protocol: 'paper', ...clip });
    case 'sgd': return new SGD({ lr: s.lr, protocol: 'paper', ...clip });
    // 'adaptive' reaches these two only to be refused with their own typed error
    case 'shampoo': return new Shampoo({ lr: s.lr, damping: s.damping as number, epsilon: s.epsilon, ...clip });
    case 'soap': return new SOAP({ lr: s.lr, damping: s.damping as number, ...clip });
    case 'adamw': return new AdamW({ lr: s.lr, epsilon: s.epsilon, weightDecay: s.weightDecay, ...clip });
  }
}

/** The per-epoch step decay of `lrDecay` as a callback, or none for a constant α. */
export function lrDecaySchedule(s: MethodSettings): LearningRateScheduler[] {
  const decay = s.lrDecay;
  if (decay === undefined || decay === 1) return [];
  if (typeof decay !== 'number' || !(decay > 0 && decay <= 1))
    throw new InvalidArgumentError(`settings: lrDecay must be a number in (0, 1], got ${JSON.stringify(decay)}`);
  return [new LearningRateScheduler((epoch) => s.lr * decay ** epoch)];
}

/**
 * The grids of algorithm.md §7.3 ("a suggested grid"): α and λ log-spaced by 1e-k and 3e-k; ε for Adam/RMSprop.
 * A list in `values` replaces the grid's values of that setting, for the methods that have it.
 */
export function grid(method: MethodName, quick: boolean, values: Partial<Record<keyof MethodSettings, number[]>> = {}): MethodSettings[] {
  const base = defaultGrid(method, quick);
  const axes = (Object.keys(base[0]) as Array<keyof MethodSettings>)
    .map((key) => [key, values[key] ?? [...new Set(base.map((s) => s[key] as number))]] as const);
  return axes.reduce<MethodSettings[]>((settings, [key, options]) =>
    settings.flatMap((s) => options.map((v) => ({ ...s, [key]: v }))), [{} as MethodSettings]);
}

function defaultGrid(method: MethodName, quick: boolean): MethodSettings[] {
  const span = (lo: number, hi: number) => {
    const out: number[] = [];
    for (let e = lo; e <= hi; e++) out.push(10 ** e, 3 * 10 ** e);
    return out.filter((v) => v <= 3 * 10 ** hi);
  };
  const product = <T>(a: number[], b: number[], f: (x: number, y: number) => T) => a.flatMap((x) => b.map((y) => f(x, y)));
  switch (method) {
    case 'kbfgs':
    case 'kbfgs-l':
    case 'kfac':
      return quick ? product([0.1, 0.3, 1], [0.3, 3], (lr, damping) => ({ lr, damping }))
        : product(span(-4, 0), [...span(-3, 0), 10], (lr, damping) => ({ lr, damping }));
    case 'adam':
    case 'adamw':
    case 'rmsprop':
      return quick ? product([1e-4, 1e-3], [1e-4], (lr, epsilon) => ({ lr, epsilon }))
        : product(span(-5, -1).filter((v) => v <= 0.1), [1e-8, 1e-6, 1e-4, 1e-2], (lr, epsilon) => ({ lr, epsilon }));
    case 'shampoo':
    case 'soap':
      return quick ? product([3e-4, 1e-3, 3e-3], [method === 'shampoo' ? 1e-6 : 1e-8], (lr, damping) => ({ lr, damping }))
        : product(span(-5, -1).filter((v) => v <= 0.1), [1e-8, 1e-6, 1e-4], (lr, damping) => ({ lr, damping }));
    case 'sgd':
      return (quick ? [0.01, 0.03, 0.1] : span(-4, 0)).map((lr) => ({ lr }));
  }
}
