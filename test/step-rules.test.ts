// AdamW and the step rules every optimizer takes (algorithm.md §15): gradient clipping by global norm and the
// warm-up/cosine learning-rate schedule. Golden trajectories against the float64 reference at the dense suite's
// tolerances, the schedule's factors, the options' typed errors and their JSON form.
import {
  Adam, AdamW, InvalidArgumentError, KBFGS, KFAC, LearningRateScheduler, SGD, Sequential, WarmupCosine, optimizerFromJSON,
  type Optimizer,
} from '../lib';
import { compare, smallDenseProblem } from './reference/golden-harness';
import { adamw, kbfgs, kfac, warmupCosine, type Problem } from './reference/spec-reference';

const ROWS = 32, BATCH = 16;  // smallDenseProblem's rows and batch

const setup = (rules: Pick<Problem, 'clipNorm' | 'lrFactor'> = {}) => smallDenseProblem(rules);

/** The golden harness's run, with the clipped steps the epochs report. */
async function run(model: Sequential, x: { data: Float32Array; rows: number; cols: number }, optimizer: Optimizer, steps: number) {
  const losses: number[] = [];
  let clipped = 0;
  await model.fit(x, {
    optimizer, epochs: steps / (ROWS / BATCH), batchSize: BATCH, shuffle: false,
    onBatchEnd: (_b, logs) => losses.push(logs.loss),
    onEpochEnd: (_e, logs) => (clipped += logs.diagnostics.clippedSteps ?? 0),
  });
  return { losses, weights: model.getWeights(), counts: { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 }, clipped };
}

const ADAMW = { lr: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.2 };

describe('golden trajectories with the step rules, 3 layers, 32 samples, batch 16', () => {
  // Catches: the decay coupled into the gradient as L2 (rules-adamw-coupled).
  test('AdamW (α = 0.02, λ = 0.2)', async () => {
    const { model, x, problem } = setup();
    compare(await run(model, x, new AdamW(ADAMW), 8), adamw(problem, ADAMW, 8), problem.W, 8);
  });

  // Clipping acts on some steps and not on others; the schedule warms up over 3 steps and decays to 0.1 by
  // step 9 of 12. Catches: a per-layer norm (rules-clip-per-layer), a warm-up one step late (rules-warmup-late).
  test('AdamW with clipNorm 1.5 and a warm-up/cosine schedule', async () => {
    const rules = { clipNorm: 1.5, lrFactor: warmupCosine(3, 10, 0.1) };
    const { model, x, problem } = setup(rules);
    const want = adamw(problem, ADAMW, 12);
    const got = await run(model, x, new AdamW({ ...ADAMW, clipNorm: 1.5, schedule: new WarmupCosine({ warmupSteps: 3, totalSteps: 10, minFactor: 0.1 }) }), 12);
    compare(got, want, problem.W, 12);
    expect(want.clippedSteps).toBeGreaterThan(0);
    expect(want.clippedSteps).toBeLessThan(12);
    expect(got.clipped).toBe(want.clippedSteps);
  });

  test('K-BFGS with clipNorm 0.3 and a schedule', async () => {
    const rules = { clipNorm: 0.3, lrFactor: warmupCosine(2, 8, 0.2) };
    const { model, x, problem } = setup(rules);
    const got = await run(model, x, new KBFGS({ lr: 0.3, damping: 0.3, clipNorm: 0.3, schedule: new WarmupCosine({ warmupSteps: 2, totalSteps: 8, minFactor: 0.2 }) }), 8);
    compare(got, kbfgs(problem, 0.3, 0.3, 8), problem.W, 8);
    expect(got.clipped).toBeGreaterThan(0);
  });

  test('KFAC with clipNorm 0.3 and a schedule', async () => {
    const rules = { clipNorm: 0.3, lrFactor: warmupCosine(2, 8, 0) };
    const { model, x, problem } = setup(rules);
    const got = await run(model, x, new KFAC({ lr: 1, damping: 3, seed: 5, clipNorm: 0.3, schedule: new WarmupCosine({ warmupSteps: 2, totalSteps: 8 }) }), 8);
    compare(got, kfac(problem, 1, 3, 8, 5), problem.W, 8);
    expect(got.clipped).toBeGreaterThan(0);
  });

  test('a clipNorm above every gradient norm and no schedule leave the run bit for bit as it was', async () => {
    const plain = setup(), ruled = setup();
    const a = await run(plain.model, plain.x, new Adam({ lr: 0.02 }), 8);
    const b = await run(ruled.model, ruled.x, new Adam({ lr: 0.02, clipNorm: 1e6 }), 8);
    expect(b.clipped).toBe(0);
    expect(b.losses).toEqual(a.losses);
    b.weights.forEach((w, l) => expect(w.weight).toEqual(a.weights[l].weight));
  });
});

describe('AdamW', () => {
  test('its decay is decoupled: with zero gradient the weights shrink by (1 − α λ) per step, and the loss excludes it', async () => {
    // Inputs and targets zero, biases zero: the data-loss gradient is zero, so the step is the decay alone.
    const model = new Sequential({ inputDim: 2, loss: 'halfSquaredError', seed: 1, layers: [{ units: 2, activation: 'linear' }] });
    const x = { data: Float32Array.from([0, 0, 0, 0]), rows: 2, cols: 2 };
    const before = model.getWeights()[0].weight;
    model.setWeights([{ weight: before, bias: new Float32Array(2) }]);
    const history = await model.fit({ x, y: x }, { optimizer: new AdamW({ lr: 0.1, weightDecay: 0.5 }), epochs: 1, batchSize: 2 });
    const after = model.getWeights()[0].weight;
    after.forEach((w, i) => expect(w).toBeCloseTo(before[i] * (1 - 0.1 * 0.5), 6));
    expect(history.history.loss[0]).toBe(0);  // the data loss: no (λ/2)‖θ‖² term
  });

  test('defaults, JSON form and typed errors', () => {
    expect(new AdamW().settings).toEqual({ lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 });
    expect(new AdamW().kind).toBe('adamw');
    const back = optimizerFromJSON(new AdamW({ lr: 0.01 }).toJSON());
    expect(back).toBeInstanceOf(AdamW);
    expect(back.settings.lr).toBe(0.01);
    expect(() => new AdamW({ protocol: 'paper' } as never)).toThrow(/AdamW: unknown option 'protocol'/);
    expect(() => new AdamW({ weightDecay: -1 })).toThrow(InvalidArgumentError);
    expect(() => new AdamW({ beta2: 1 })).toThrow(/beta2 must be < 1/);
  });
});

describe('WarmupCosine', () => {
  test('factors: linear warm-up to 1, cosine decay to minFactor at the last step, then minFactor', () => {
    const s = new WarmupCosine({ warmupSteps: 4, totalSteps: 10, minFactor: 0.1 });
    expect([0, 1, 2, 3].map((k) => s.factor(k))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(s.factor(9)).toBe(0.1);
    expect(s.factor(1000)).toBe(0.1);
    // halfway through the decay steps 4..9: progress 3/6
    expect(s.factor(6)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    for (let k = 4; k < 10; k++) expect(s.factor(k)).toBeLessThan(s.factor(k - 1) + (k === 4 ? 1 : 0));
    const reference = warmupCosine(4, 10, 0.1);
    for (let k = 0; k < 20; k++) expect(s.factor(k)).toBeCloseTo(reference(k), 14);
    expect(new WarmupCosine({ totalSteps: 5 }).factor(0)).toBeCloseTo((1 + Math.cos(Math.PI / 5)) / 2, 14);
  });

  test('the engine applies the schedule at every step: steps at factor 0 leave the weights as they are', async () => {
    // minFactor 0 from step 3 on (totalSteps 4): steps 3, 4, ... leave the weights alone.
    const { model, x } = setup();
    const { losses } = await run(model, x, new SGD({ lr: 0.1, schedule: new WarmupCosine({ warmupSteps: 1, totalSteps: 4 }) }), 8);
    // Steps 0-2 take factors 1, 0.75, 0.25, later ones 0; batches alternate, so the weights after step 2 give
    // equal losses on equal batches from then on, and differ from those before it.
    expect(losses[4]).toBe(losses[6]);
    expect(losses[3]).toBe(losses[5]);
    expect(losses[5]).toBe(losses[7]);
    expect(losses[2]).not.toBe(losses[4]);
  });

  test('the same as setting lr = peak × factor before every step from a callback, bit for bit; the logs keep the peak', async () => {
    const schedule = new WarmupCosine({ warmupSteps: 3, totalSteps: 7, minFactor: 0.25 });
    const builtIn = setup(), byCallback = setup();
    const history = await builtIn.model.fit(builtIn.x, { optimizer: new KBFGS({ lr: 0.25, damping: 0.3, schedule }), epochs: 4, batchSize: BATCH, shuffle: false });
    const callback = new LearningRateScheduler((step) => 0.25 * schedule.factor(step), { every: 'step' });
    await byCallback.model.fit(byCallback.x, { optimizer: new KBFGS({ lr: 0.25, damping: 0.3 }), epochs: 4, batchSize: BATCH, shuffle: false, callbacks: [callback] });
    builtIn.model.getWeights().forEach((w, l) => expect(w.weight).toEqual(byCallback.model.getWeights()[l].weight));
    expect(history.history.lr).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  test('typed errors name the problem', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => new WarmupCosine(undefined as never), /options \{ totalSteps \} are required/],
      [() => new WarmupCosine({} as never), /totalSteps is required/],
      [() => new WarmupCosine({ totalSteps: 0 }), /totalSteps must be >= 1/],
      [() => new WarmupCosine({ totalSteps: 5, warmupSteps: 5 }), /totalSteps \(5\) must be larger than warmupSteps \(5\)/],
      [() => new WarmupCosine({ totalSteps: 5, warmupSteps: 1.5 }), /warmupSteps must be an integer/],
      [() => new WarmupCosine({ totalSteps: 5, minFactor: 1.5 }), /minFactor must be <= 1/],
      [() => new WarmupCosine({ totalSteps: 5, decay: 1 } as never), /unknown option 'decay'/],
      [() => new Adam({ schedule: (k: number) => k } as never), /Adam: schedule must be a WarmupCosine/],
      [() => new KBFGS({ schedule: { kind: 'step' } } as never), /KBFGS: schedule must be a WarmupCosine/],
      [() => new SGD({ clipNorm: 0 }), /SGD: clipNorm must be > 0, got 0/],
      [() => new KFAC({ clipNorm: NaN }), /KFAC: clipNorm must be a finite number/],
      [() => new Adam({ clipnorm: 1 } as never), /did you mean 'clipNorm'/],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(InvalidArgumentError);
      expect(make).toThrow(message);
    }
  });
});

test('the rules round trip through JSON (checkpoints) and are absent where unset', () => {
  const schedule = new WarmupCosine({ warmupSteps: 2, totalSteps: 9, minFactor: 0.05 });
  for (const optimizer of [new AdamW({ clipNorm: 1.5, schedule }), new KBFGS({ clipNorm: 2, schedule }), new SGD({ schedule })]) {
    const json = JSON.parse(JSON.stringify(optimizer.toJSON()));
    const back = optimizerFromJSON(json);
    expect(back.toJSON()).toEqual(optimizer.toJSON());
    expect(back.schedule).toEqual(schedule);
    expect(back.clipNorm).toBe(optimizer.clipNorm);
  }
  expect(new Adam().toJSON()).toEqual({ kind: 'adam', protocol: 'pytorch', settings: new Adam().settings });
  expect(optimizerFromJSON({ kind: 'kfac', settings: new KFAC().settings }).schedule).toBeUndefined();
});
