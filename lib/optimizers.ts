/**
 * Optimizers. Construct one and pass it to `fit({ optimizer })`; passing the same instance to a later fit()
 * on the same model continues its state (moments, step count), a new instance starts fresh.
 *
 * Two protocols (one option, `protocol`, on every first-order optimizer):
 *
 * - `'pytorch'` (default): the textbook methods with PyTorch's definitions and defaults (torch.optim.SGD,
 *   Adam, RMSprop), weight decay added to the gradient as L2.
 * - `'paper'`: the reference protocol of the K-BFGS paper (algorithm.md §2, §6), used by the benchmark so that every
 *   method sees the same input: the gradient plus τθ (τ = `weightDecay`, default 1e-5, biases included) is
 *   averaged as M ← ρM + (1−ρ)(∇L + τθ) with ρ = 0.9 and no bias correction, and the method acts on M:
 *   SGD steps along M; RMSprop squares M (v ← βv + (1−β)M², v warm-started by one pass of squared
 *   gradients); Adam bias-corrects M and squares the corrected momentum; β = 0.9 and ε sits outside the sqrt.
 *   The second-order methods (K-BFGS, KFAC) always use this protocol; Shampoo and SOAP take τ and ρ from it.
 *
 * In both protocols the reported training loss is the data loss plus (weightDecay/2)·‖θ‖²; AdamW's decoupled
 * decay is no part of it (its loss is the data loss).
 *
 * Every optimizer also takes the step rules of algorithm.md §15 (see {@link StepRuleOptions}): `clipNorm`, the
 * gradient clipped to a global norm, and `schedule`, a learning-rate schedule such as {@link WarmupCosine}.
 */
import { dampingOptions, dampingSettings, type AdaptiveDampingOptions } from './adaptive-damping';
import { InvalidArgumentError } from './errors';
import { checkBoolean, checkChoice, checkKeys, checkNumber } from './options';
import { scheduleOf, type LrSchedule, type ScheduleJSON } from './schedules';
import type { NativeOptimizer } from './binding';

export type Protocol = 'pytorch' | 'paper';

/** What the engine does around every step of every method (algorithm.md §15). */
export interface StepRuleOptions {
  /**
   * Clip the minibatch gradient to this norm, taken over all parameters at once (in data-parallel training over
   * the whole batch, every rank's rows): g ← g·clipNorm/‖g‖ when ‖g‖ > clipNorm. It acts on the data-loss
   * gradient, before weight decay or the gradient momentum; `diagnostics.clippedSteps` counts the epoch's
   * clipped steps. Default: no clipping.
   */
  clipNorm?: number;
  /**
   * A learning-rate schedule: each step uses `lr` × the schedule's factor of the step number (the model's steps
   * with this optimizer, counted from 0), e.g. `new WarmupCosine({ warmupSteps: 100, totalSteps: 5000 })`.
   * `lr` stays the peak that callbacks read and set. Default: none (factor 1).
   */
  schedule?: LrSchedule | ScheduleJSON;
}
const RULE_KEYS = ['clipNorm', 'schedule'];

interface StepRules {
  clipNorm: number;
  schedule: LrSchedule | undefined;
}

function stepRules(where: string, options: StepRuleOptions): StepRules {
  return {
    clipNorm: options.clipNorm === undefined ? 0 : checkNumber(where, 'clipNorm', options.clipNorm, NaN, { above: 0 }),
    schedule: options.schedule === undefined ? undefined : scheduleOf(where, options.schedule),
  };
}

/** An optimizer's JSON form (optimizer JSON, checkpoints); the rules only where set. */
export interface OptimizerJSON {
  kind: string;
  protocol?: Protocol;
  settings: Record<string, number>;
  clipNorm?: number;
  schedule?: ScheduleJSON;
}

let nextId = 0;

/** Common base of all optimizers. */
export abstract class Optimizer {
  /** Short method name used in logs: 'sgd', 'adam', 'rmsprop', ... */
  abstract readonly kind: string;
  readonly protocol: Protocol;
  /** The global gradient norm steps are clipped to (0: no clipping); see {@link StepRuleOptions}. */
  readonly clipNorm: number;
  /** The learning-rate schedule, if any; see {@link StepRuleOptions}. */
  readonly schedule: LrSchedule | undefined;
  private current: Readonly<Record<string, number>>;
  private readonly id = `optimizer-${++nextId}`;
  private readonly watchers = new Set<(name: string, value: number) => void>();

  protected constructor(protocol: Protocol, settings: Record<string, number>, rules: StepRules) {
    this.protocol = protocol;
    this.clipNorm = rules.clipNorm;
    this.schedule = rules.schedule;
    this.current = Object.freeze({ ...settings });
  }

  /** The resolved numeric settings, defaults filled in; `lr` (and `damping`) as last set. */
  get settings(): Readonly<Record<string, number>> {
    return this.current;
  }

  /**
   * The learning rate α. Settable between fits, and during one from a training callback (onBatchEnd,
   * onEpochEnd or a Callback), where the next step uses it; it goes into checkpoints with the other settings,
   * so a resumed run continues with it. Setting it while training runs outside a callback throws BusyError.
   */
  get lr(): number {
    return this.current.lr;
  }
  set lr(value: number) {
    this.change('lr', checkNumber(this.constructor.name, 'lr', value, NaN, { above: 0 }));
  }

  /** Sets a setting the native state also holds: the models training with this optimizer first, then here. */
  protected change(name: string, value: number): void {
    this.watchers.forEach((apply) => apply(name, value));
    this.current = Object.freeze({ ...this.current, [name]: value });
  }

  /** @internal A model whose native state follows this optimizer's changes; returns the unsubscribe. */
  watch(apply: (name: string, value: number) => void): () => void {
    this.watchers.add(apply);
    return () => this.watchers.delete(apply);
  }

  /**
   * @internal Values the native optimizer changed on its own (`onNonFinite: 'skip'` raises λ, or halves a
   * first-order lr): taken over without notifying the models, which already hold them. Values that round to
   * the same float32 are the same setting.
   */
  adopt(values: Record<string, number>): void {
    const changed = Object.entries(values).filter(([name, value]) =>
      name in this.current && Math.fround(value) !== Math.fround(this.current[name]));
    if (changed.length > 0) this.current = Object.freeze({ ...this.current, ...Object.fromEntries(changed) });
  }

  /** @internal What the native factory reads. */
  toNative(): NativeOptimizer {
    const s = this.schedule;
    const rules = { clipNorm: this.clipNorm, warmupSteps: s?.warmupSteps ?? 0, totalSteps: s?.totalSteps ?? 0, minFactor: s?.minFactor ?? 0 };
    return { id: this.id, kind: this.kind, paper: this.protocol === 'paper', settings: { ...this.settings }, rules };
  }

  toJSON(): OptimizerJSON & { protocol: Protocol } {
    return {
      kind: this.kind, protocol: this.protocol, settings: { ...this.settings },
      ...(this.clipNorm > 0 ? { clipNorm: this.clipNorm } : {}),
      ...(this.schedule ? { schedule: this.schedule.toJSON() } : {}),
    };
  }
}

function protocolOf(where: string, options: { protocol?: Protocol } | undefined): Protocol {
  return checkChoice(where, 'protocol', options?.protocol, 'pytorch', ['pytorch', 'paper'] as const);
}

const PAPER_TAU = 1e-5;  // algorithm.md §3.6
const PAPER_RHO = 0.9;   // gradient momentum, algorithm.md §2 step 4

export interface SGDOptions extends StepRuleOptions {
  /** Learning rate α. Default 0.01. */
  lr?: number;
  /** PyTorch: heavy-ball momentum (default 0). Paper: the EMA weight ρ of M (default 0.9). */
  momentum?: number;
  /** PyTorch only: dampening of the momentum buffer. Default 0. */
  dampening?: number;
  /** PyTorch only: Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
  /** L2 coefficient added to the gradient. Default 0 (pytorch), 1e-5 (paper). */
  weightDecay?: number;
  protocol?: Protocol;
}

/** Stochastic gradient descent with momentum. */
export class SGD extends Optimizer {
  readonly kind = 'sgd';
  constructor(options: SGDOptions = {}) {
    const where = 'SGD';
    checkKeys(where, options, ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'protocol', ...RULE_KEYS]);
    const protocol = protocolOf(where, options);
    const paper = protocol === 'paper';
    const momentum = checkNumber(where, 'momentum', options.momentum, paper ? PAPER_RHO : 0, { min: 0, below: 1 });
    const dampening = checkNumber(where, 'dampening', options.dampening, 0, { min: 0, max: 1 });
    const nesterov = checkBoolean(where, 'nesterov', options.nesterov, false);
    if (nesterov && (momentum <= 0 || dampening !== 0))
      throw new InvalidArgumentError(`${where}: nesterov needs momentum > 0 and dampening 0`);
    super(protocol, {
      lr: checkNumber(where, 'lr', options.lr, 0.01, { above: 0 }),
      momentum,
      dampening,
      nesterov: nesterov ? 1 : 0,
      weightDecay: checkNumber(where, 'weightDecay', options.weightDecay, paper ? PAPER_TAU : 0, { min: 0 }),
    }, stepRules(where, options));
  }
}

export interface AdamOptions extends StepRuleOptions {
  /** Learning rate α. Default 0.001. */
  lr?: number;
  /** First-moment decay; in the paper protocol the EMA weight ρ of M. Default 0.9. */
  beta1?: number;
  /** Second-moment decay. Default 0.999 (pytorch), 0.9 (paper). */
  beta2?: number;
  /** Added to √v̂ in the denominator. Default 1e-8 (pytorch), 1e-4 (paper). */
  epsilon?: number;
  /** L2 coefficient added to the gradient. Default 0 (pytorch), 1e-5 (paper). */
  weightDecay?: number;
  protocol?: Protocol;
}

/** Adam (Kingma & Ba), or the paper's variant that squares the bias-corrected momentum (algorithm.md §6). */
export class Adam extends Optimizer {
  readonly kind = 'adam';
  constructor(options: AdamOptions = {}) {
    const where = 'Adam';
    checkKeys(where, options, ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'protocol', ...RULE_KEYS]);
    const protocol = protocolOf(where, options);
    const paper = protocol === 'paper';
    super(protocol, {
      lr: checkNumber(where, 'lr', options.lr, 0.001, { above: 0 }),
      beta1: checkNumber(where, 'beta1', options.beta1, 0.9, { min: 0, below: 1 }),
      beta2: checkNumber(where, 'beta2', options.beta2, paper ? 0.9 : 0.999, { min: 0, below: 1 }),
      epsilon: checkNumber(where, 'epsilon', options.epsilon, paper ? 1e-4 : 1e-8, { above: 0 }),
      weightDecay: checkNumber(where, 'weightDecay', options.weightDecay, paper ? PAPER_TAU : 0, { min: 0 }),
    }, stepRules(where, options));
  }
}

export interface AdamWOptions extends StepRuleOptions {
  /** Learning rate α. Default 0.001. */
  lr?: number;
  /** First-moment decay. Default 0.9. */
  beta1?: number;
  /** Second-moment decay. Default 0.999. */
  beta2?: number;
  /** Added to √v̂ in the denominator. Default 1e-8. */
  epsilon?: number;
  /**
   * The decoupled decay λ: every step first shrinks θ to θ·(1 − α_k·λ), α_k the step's (scheduled) learning
   * rate, then takes Adam's step on the data-loss gradient alone. Weights and biases alike. Default 0.01.
   */
  weightDecay?: number;
}

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019) with PyTorch's definition
 * (torch.optim.AdamW): Adam whose weight decay shrinks the weights beside the step instead of entering the
 * gradient as L2, so that the adaptive scaling does not weaken it (algorithm.md §15.1). PyTorch semantics only.
 */
export class AdamW extends Optimizer {
  readonly kind = 'adamw';
  constructor(options: AdamWOptions = {}) {
    const where = 'AdamW';
    checkKeys(where, options, ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', ...RULE_KEYS]);
    super('pytorch', {
      lr: checkNumber(where, 'lr', options.lr, 0.001, { above: 0 }),
      beta1: checkNumber(where, 'beta1', options.beta1, 0.9, { min: 0, below: 1 }),
      beta2: checkNumber(where, 'beta2', options.beta2, 0.999, { min: 0, below: 1 }),
      epsilon: checkNumber(where, 'epsilon', options.epsilon, 1e-8, { above: 0 }),
      weightDecay: checkNumber(where, 'weightDecay', options.weightDecay, 0.01, { min: 0 }),
    }, stepRules(where, options));
  }
}

export interface RMSpropOptions extends StepRuleOptions {
  /** Learning rate α. Default 0.01 (pytorch), 0.001 (paper). */
  lr?: number;
  /** Decay of the squared average. Default 0.99 (pytorch), 0.9 (paper). */
  alpha?: number;
  /** Added to √v in the denominator. Default 1e-8 (pytorch), 1e-4 (paper). */
  epsilon?: number;
  /** PyTorch: momentum of the scaled step (default 0). Paper: the EMA weight ρ of M (default 0.9). */
  momentum?: number;
  /** L2 coefficient added to the gradient. Default 0 (pytorch), 1e-5 (paper). */
  weightDecay?: number;
  protocol?: Protocol;
}

/** RMSprop, or the paper's variant that squares the gradient momentum and warm-starts v (algorithm.md §6). */
export class RMSprop extends Optimizer {
  readonly kind = 'rmsprop';
  constructor(options: RMSpropOptions = {}) {
    const where = 'RMSprop';
    checkKeys(where, options, ['lr', 'alpha', 'epsilon', 'momentum', 'weightDecay', 'protocol', ...RULE_KEYS]);
    const protocol = protocolOf(where, options);
    const paper = protocol === 'paper';
    super(protocol, {
      lr: checkNumber(where, 'lr', options.lr, paper ? 0.001 : 0.01, { above: 0 }),
      alpha: checkNumber(where, 'alpha', options.alpha, paper ? 0.9 : 0.99, { min: 0, below: 1 }),
      epsilon: checkNumber(where, 'epsilon', options.epsilon, paper ? 1e-4 : 1e-8, { above: 0 }),
      momentum: checkNumber(where, 'momentum', options.momentum, paper ? PAPER_RHO : 0, { min: 0, below: 1 }),
      weightDecay: checkNumber(where, 'weightDecay', options.weightDecay, paper ? PAPER_TAU : 0, { min: 0 }),
    }, stepRules(where, options));
  }
}

/** The divergence safeguard of the second-order methods, documented once for all three. */
interface SafeguardOption extends StepRuleOptions {
  /**
   * Undo a step after which the minibatch loss rises past 1.25 times the smaller of the loss before it and a
   * moving average of earlier losses, or past that plus three standard deviations of the minibatch noise (from
   * the spread of the per-sample losses) where that is higher (weights and optimizer state put back); then take
   * the next steps at half the step length, which grows back by 5% per kept step to `lr`; ten undone steps in
   * a row end training with NumericalError (algorithm.md §11.2). Costs nothing while it does not fire, and a
   * run in which it never fires is bit for bit the method without it. `diagnostics.rejectedSteps` counts the
   * undone steps, `diagnostics.maxLossRatio` is the largest loss ratio of a kept step, `maxLossBound` the
   * largest ratio allowed. Default true.
   */
  safeguard?: boolean;
}

/** The settings every second-order method has, with their defaults where the method gives none. */
interface SecondOrderOptions extends SafeguardOption {
  lr?: number;
  damping?: number | 'adaptive';
  adaptiveDamping?: AdaptiveDampingOptions;
  momentum?: number;
  weightDecay?: number;
}

/** `damping: 'adaptive'` of K-BFGS, K-BFGS(L) and KFAC, documented once for all three. */
interface AdaptiveDampingOption {
  /**
   * With `damping: 'adaptive'`: where λ starts, how often it is judged and its range (algorithm.md §19; see
   * {@link AdaptiveDampingOptions}). `diagnostics` then report per epoch dampingRaised, dampingLowered, the mean
   * reductionRatio ρ and modelStepLength; the current λ is `optimizer.damping` and the history's `damping`.
   */
  adaptiveDamping?: AdaptiveDampingOptions;
}

/**
 * What every second-order method shares: the paper's protocol, lr, the damping λ (settable), the gradient
 * momentum, τ and the safeguard (native/optim/second_order.h is its native side). `own` checks the method's
 * own settings (after the shared ones, so errors come in the order of the options' documentation); `ownKeys`
 * are their option names.
 */
abstract class SecondOrderOptimizer extends Optimizer {
  protected constructor(where: string, options: SecondOrderOptions, defaults: { lr: number; damping: number; adaptive?: boolean; scaledStart?: boolean },
    ownKeys: string[], own: () => Record<string, number>) {
    checkKeys(where, options, ['lr', 'damping', 'momentum', 'weightDecay', 'safeguard', ...RULE_KEYS,
      ...(defaults.adaptive ? ['adaptiveDamping'] : []), ...ownKeys]);
    super('paper', {
      lr: checkNumber(where, 'lr', options.lr, defaults.lr, { above: 0 }),
      ...dampingSettings(where, options.damping, options.adaptiveDamping, defaults.damping, defaults.adaptive === true,
        defaults.scaledStart === true),
      momentum: checkNumber(where, 'momentum', options.momentum, PAPER_RHO, { min: 0, below: 1 }),
      weightDecay: checkNumber(where, 'weightDecay', options.weightDecay, PAPER_TAU, { min: 0 }),
      safeguard: checkBoolean(where, 'safeguard', options.safeguard, true) ? 1 : 0,
      ...own(),
    }, stepRules(where, options));
  }

  /**
   * The damping λ; settable like {@link Optimizer.lr} (a new λ takes effect at the next step: K-BFGS re-inverts
   * A + √λI, KFAC both factors, Shampoo recomputes its roots at its next preconditioned step; SOAP's ε applies
   * at once).
   */
  get damping(): number {
    return this.settings.damping;
  }
  /** Whether λ adapts by itself (`damping: 'adaptive'`, algorithm.md §19); then `damping` is its current value. */
  get adaptiveDamping(): boolean {
    return this.settings.dampingEvery !== undefined;
  }
  set damping(value: number) {
    this.change('damping', checkNumber(this.constructor.name, 'damping', value, NaN, { min: 0 }));
  }
}

export interface KBFGSOptions extends SafeguardOption, AdaptiveDampingOption {
  /** Learning rate α: θ ← θ − α·H_g·M·H_a. Default 0.3 (the paper's MNIST setting). */
  lr?: number;
  /**
   * Damping λ (default 0.3). It enters only as √λ (algorithm.md §3.6): H_a approximates (A + √λ I)⁻¹, so √λ bounds
   * how far the step may stretch along directions the layer inputs rarely take; and μ₂ = √λ is the
   * Levenberg-Marquardt half of the double damping (algorithm.md §3.4), which moves y toward s until sᵀy = √λ·sᵀs,
   * keeping H_g's eigenvalues below 1/√λ. Larger λ: shorter, more gradient-like steps; smaller: bolder,
   * more curvature-driven steps. λ = 0 removes both safeguards (A must then be positive definite).
   * `'adaptive'`: λ tunes itself by the Levenberg-Marquardt rule (algorithm.md §19), starting at 0.3.
   */
  damping?: number | 'adaptive';
  /** ρ of the gradient momentum M ← ρM + (1−ρ)(∇L + τθ) (algorithm.md §2). Default 0.9. */
  momentum?: number;
  /** τ, added to the gradient of weights and biases; the reported loss includes (τ/2)‖θ‖². Default 1e-5. */
  weightDecay?: number;
  /**
   * Update the curvature (the second pass, the (s, y) pairs, H_g, A and H_a) at every this many steps only, as
   * the authors' CNN code does (algorithm.md §12.4); the steps between use the last H_g and H_a. Default 1 (the
   * published method: every step). Larger values make a step cheaper, at the cost of staler curvature.
   */
  curvatureEvery?: number;
}

/** What K-BFGS and K-BFGS(L) share: their defaults and curvatureEvery. */
abstract class KroneckerBFGS extends SecondOrderOptimizer {
  protected constructor(where: string, options: KBFGSOptions, extra: Record<string, number>) {
    super(where, options, { lr: 0.3, damping: 0.3, adaptive: true }, ['curvatureEvery', ...Object.keys(extra)], () => ({
      curvatureEvery: checkNumber(where, 'curvatureEvery', options.curvatureEvery, 1, { min: 1, max: 2 ** 31 - 1, integer: true }),
      ...extra,
    }));
  }
}

/**
 * K-BFGS (algorithm.md §3): per layer the step H_g·M·H_a. H_a ≈ (A + √λI)⁻¹ is inverted once (Cholesky, after a
 * warm-start pass that estimates A = E[āāᵀ]) and then follows A by one Hessian-action BFGS update per step.
 * H_g, the inverse of the pre-activation Hessian, starts at I and takes one BFGS update per step from
 * (s, y) = the change of the batch-mean pre-activations and of their gradients between θ_k and θ_{k+1},
 * measured by a second forward/backward on the same minibatch, averaged with weight 0.9 and double damped:
 * Powell (μ₁ = 0.2) then Levenberg-Marquardt (μ₂ = √λ). Fixed constants: A decay 0.9, skip threshold 1e-4.
 */
export class KBFGS extends KroneckerBFGS {
  readonly kind = 'kbfgs';
  constructor(options: KBFGSOptions = {}) {
    super('KBFGS', options, {});
  }
}

export interface KBFGSLOptions extends KBFGSOptions {
  /** Pairs kept per layer for H_g (algorithm.md §4). Default 100. */
  memory?: number;
}

/**
 * K-BFGS(L) (algorithm.md §4): K-BFGS with H_g as an L-BFGS operator of `memory` pairs (H₀ = I, the oldest pair
 * dropped when full), applied in compact form; H_a stays dense. Same hyperparameters as {@link KBFGS}.
 */
export class KBFGSL extends KroneckerBFGS {
  readonly kind = 'kbfgs-l';
  constructor(options: KBFGSLOptions = {}) {
    const memory = checkNumber('KBFGSL', 'memory', options.memory, 100, { min: 1, max: 10_000, integer: true });
    const { memory: _ignored, ...rest } = options;
    super('KBFGSL', rest, { memory });
  }
}

export interface KFACOptions extends SafeguardOption, AdaptiveDampingOption {
  /** Learning rate α. Default 1 (the paper's MNIST setting). */
  lr?: number;
  /**
   * Damping λ (default 3): the Kronecker factors get π√λ (A) and √λ/π (G) added to their diagonal before
   * inversion, π as `dampingSplit` says (1 by default), so the step is (G + √λ/π I)⁻¹ M (A + π√λ I)⁻¹.
   * Larger λ: closer to a scaled gradient step.
   * `'adaptive'`: λ tunes itself by the Levenberg-Marquardt rule (algorithm.md §19), starting at α‖ĝ₀‖/‖θ₀‖ of the
   * first step (§19.7; 3 where that is not a positive number) unless `adaptiveDamping.start` says otherwise.
   */
  damping?: number | 'adaptive';
  /** ρ of the gradient momentum (algorithm.md §2). Default 0.9. */
  momentum?: number;
  /** τ. Default 1e-5. */
  weightDecay?: number;
  /** Recompute the inverses every this many steps, and at every step up to it. Default 20. */
  inverseEvery?: number;
  /**
   * Draw the sampled targets and update A and G at every this many steps only (algorithm.md §5.1); the steps
   * between take the momentum and the direction from the last inverses, at about the cost of a first-order
   * step. The inverses are then remade at the first such update in each `inverseEvery` interval. Default 1
   * (the paper's KFAC: every step).
   */
  curvatureEvery?: number;
  /** Seed of the targets sampled for the Fisher. Default 0. */
  seed?: number;
  /**
   * How λ is shared between the two factors (algorithm.md §5.2). `'even'` (default, the paper's KFAC): π = 1,
   * each factor gets √λ. `'trace'`: π = √((tr A/n)/(tr G/d)) per layer at each inversion (Martens & Grosse's
   * factored Tikhonov damping), so each factor is damped in proportion to its own scale. Where A and G differ
   * by orders of magnitude, as in a transformer's layers, the even split drowns the smaller factor in damping
   * and 'trace' keeps its curvature (bench/RESULTS.md, the GPT on text). A λ tuned with one split does not
   * carry over to the other (on the paper's MNIST and CNN settings 'trace' did worse).
   */
  dampingSplit?: DampingSplit;
}

/** KFAC's `dampingSplit` choices; a setting holds the index (0 even, 1 trace), as the native side reads it. */
const DAMPING_SPLITS = ['even', 'trace'] as const;
export type DampingSplit = (typeof DAMPING_SPLITS)[number];

/**
 * KFAC as run in the paper's comparison (algorithm.md §5): the true Fisher with targets sampled from the model
 * (Bernoulli for sigmoid cross-entropy, N(z, 1) for squared error, categorical for softmax), factors
 * A = E[āāᵀ] and G = E[ǧǧᵀ] as 0.9 moving averages warm-started by one pass, inverses by Cholesky.
 */
export class KFAC extends SecondOrderOptimizer {
  readonly kind = 'kfac';
  constructor(options: KFACOptions = {}) {
    const where = 'KFAC';
    super(where, options, { lr: 1, damping: 3, adaptive: true, scaledStart: true }, ['inverseEvery', 'curvatureEvery', 'seed', 'dampingSplit'], () => ({
      inverseEvery: checkNumber(where, 'inverseEvery', options.inverseEvery, 20, { min: 1, integer: true }),
      curvatureEvery: checkNumber(where, 'curvatureEvery', options.curvatureEvery, 1, { min: 1, max: 2 ** 31 - 1, integer: true }),
      seed: checkNumber(where, 'seed', options.seed, 0, { min: 0, max: 2 ** 53 - 1, integer: true }),
      dampingSplit: DAMPING_SPLITS.indexOf(checkChoice(where, 'dampingSplit', options.dampingSplit, 'even', DAMPING_SPLITS)),
    }));
  }

  /** How λ is shared between A and G (algorithm.md §5.2); `settings.dampingSplit` holds its index. */
  get dampingSplit(): DampingSplit {
    return DAMPING_SPLITS[this.settings.dampingSplit ?? 0];
  }
}

/** The settings Shampoo and SOAP share (algorithm.md §17). */
interface KroneckerEigenOptions extends SafeguardOption {
  /** ρ of the gradient moving average (β₁ of the Adam first moment). Default 0.9. */
  momentum?: number;
  /** Decay of the statistics L and R and of Adam's second moment. Default 0.999 (Shampoo), 0.95 (SOAP). */
  beta2?: number;
  /** τ, added to the gradient as L2; the reported loss includes (τ/2)‖θ‖². Default 1e-5. */
  weightDecay?: number;
  /** Recompute the eigendecompositions every this many steps. Default 20 (Shampoo), 10 (SOAP). */
  precondEvery?: number;
  /** The steps before this one (0-based) run plain Adam while L and R fill. Default 20 (Shampoo), 1 (SOAP). */
  startPreconditioningStep?: number;
  /**
   * A side of a layer's weight matrix longer than this gets no statistic and is left unpreconditioned
   * (algorithm.md §17.1); it bounds each statistic at maxPrecondDim² floats and an eigendecomposition at
   * maxPrecondDim³ work. Default 1024.
   */
  maxPrecondDim?: number;
}

/** Shampoo and SOAP: the shared settings checked after those of {@link SecondOrderOptimizer}. */
abstract class KroneckerEigen extends SecondOrderOptimizer {
  protected constructor(where: string, options: KroneckerEigenOptions & { lr?: number; damping?: number; epsilon?: number },
    defaults: { lr: number; damping: number; beta2: number; precondEvery: number; start: number }, extra: string[]) {
    super(where, options, defaults, ['beta2', 'precondEvery', 'startPreconditioningStep', 'maxPrecondDim', ...extra], () => ({
      beta2: checkNumber(where, 'beta2', options.beta2, defaults.beta2, { min: 0, below: 1 }),
      precondEvery: checkNumber(where, 'precondEvery', options.precondEvery, defaults.precondEvery, { min: 1, max: 2 ** 31 - 1, integer: true }),
      startPreconditioningStep: checkNumber(where, 'startPreconditioningStep', options.startPreconditioningStep, defaults.start, { min: 0, max: 2 ** 31 - 1, integer: true }),
      maxPrecondDim: checkNumber(where, 'maxPrecondDim', options.maxPrecondDim, 1024, { min: 1, max: 2 ** 31 - 1, integer: true }),
      ...(extra.includes('epsilon') ? { epsilon: checkNumber(where, 'epsilon', options.epsilon, 1e-8, { above: 0 }) } : {}),
    }));
  }
}

export interface ShampooOptions extends KroneckerEigenOptions {
  /** Learning rate α; the step has the length of Adam's step, so α is on Adam's scale. Default 0.001. */
  lr?: number;
  /**
   * Damping λ: the ε added to every eigenvalue of L and R before the inverse fourth root, relative to the
   * largest one (ε·λ_max, algorithm.md §17.2). Larger: a direction closer to the plain gradient's. Default 1e-6.
   */
  damping?: number;
  /** ε of the Adam step whose length Shampoo's step takes (grafting). Default 1e-8. */
  epsilon?: number;
}

/**
 * Shampoo (Gupta, Koren & Singer 2018) with the practice of distributed Shampoo (algorithm.md §17.2): per layer
 * the step L^{-1/4} M R^{-1/4}, L and R moving averages of G Gᵀ and Gᵀ G (G the layer's gradient plus τθ, the bias
 * as the last column), the inverse roots from a symmetric eigendecomposition every `precondEvery` steps, the
 * step's norm grafted from Adam's step for the layer; Adam before `startPreconditioningStep`.
 */
export class Shampoo extends KroneckerEigen {
  readonly kind = 'shampoo';
  constructor(options: ShampooOptions = {}) {
    super('Shampoo', options, { lr: 0.001, damping: 1e-6, beta2: 0.999, precondEvery: 20, start: 20 }, ['epsilon']);
  }
}

export interface SOAPOptions extends KroneckerEigenOptions {
  /** Learning rate α of the Adam step in the eigenbasis. Default 0.003. */
  lr?: number;
  /** Damping λ: the ε of Adam's denominator √v̂ + ε in the eigenbasis (algorithm.md §17.3). Default 1e-8. */
  damping?: number;
}

/**
 * SOAP (Vyas et al. 2024), algorithm.md §17.3: Adam with both moments kept in the eigenbasis of Shampoo's L and
 * R, the basis recomputed (full eigendecomposition) every `precondEvery` steps and the first moment rotated
 * into it; the second moment is kept. Adam in the parameters' basis before `startPreconditioningStep`.
 */
export class SOAP extends KroneckerEigen {
  readonly kind = 'soap';
  constructor(options: SOAPOptions = {}) {
    super('SOAP', options, { lr: 0.003, damping: 1e-8, beta2: 0.95, precondEvery: 10, start: 1 }, []);
  }
}

/** Settings as toJSON() stores them (the safeguard as 1 or 0; absent in files from before it) as options. */
function secondOrderFromJSON(s: Record<string, number>, rules: StepRuleOptions): Record<string, unknown> {
  const { dampingEvery: _e, dampingMin: _n, dampingMax: _x, dampingScaledStart: _s, ...rest } = s;
  return { ...rest, ...dampingOptions(s), ...rules, safeguard: s.safeguard === undefined ? undefined : s.safeguard === 1 };
}

/** Rebuilds an optimizer from its toJSON() form (checkpoints); throws InvalidArgumentError for an unknown kind. */
export function optimizerFromJSON(json: OptimizerJSON): Optimizer {
  const s = json.settings;
  // Absent rules stay absent (files from before them, or optimizers without them).
  const rules: StepRuleOptions = {
    ...(json.clipNorm !== undefined ? { clipNorm: json.clipNorm } : {}),
    ...(json.schedule !== undefined ? { schedule: json.schedule } : {}),
  };
  switch (json.kind) {
    case 'sgd': return new SGD({ ...s, ...rules, nesterov: s.nesterov === 1, protocol: json.protocol });
    case 'adam': return new Adam({ ...s, ...rules, protocol: json.protocol });
    case 'adamw': return new AdamW({ ...s, ...rules });
    case 'rmsprop': return new RMSprop({ ...s, ...rules, protocol: json.protocol });
    case 'kbfgs': return new KBFGS(secondOrderFromJSON(s, rules));
    case 'kbfgs-l': return new KBFGSL(secondOrderFromJSON(s, rules));
    case 'kfac': return new KFAC({ ...secondOrderFromJSON(s, rules), dampingSplit: s.dampingSplit === undefined ? undefined : DAMPING_SPLITS[s.dampingSplit] });
    case 'shampoo': return new Shampoo(secondOrderFromJSON(s, rules));
    case 'soap': return new SOAP(secondOrderFromJSON(s, rules));
    default: throw new InvalidArgumentError(`unknown optimizer kind '${json.kind}'`);
  }
}
