// Golden trajectories: the native K-BFGS, K-BFGS(L) and KFAC (float32) against the independent float64
// implementation of docs/algorithm.md in test/reference/spec-reference.ts, step by step: every minibatch loss,
// the weights at the end, and how often the double damping and the BFGS skip rules acted.
import { KBFGS, KBFGSL, KFAC, Sequential } from '../lib';
import { randomArray, seeded } from './helpers';
import { agreement, compare, LOSS_TOL, native, referenceWeights } from './reference/golden-harness';
import { kbfgs, kfac, matrix, type Activation, type LossKind, type Problem } from './reference/spec-reference';

const ROWS = 32, BATCH = 16, DIM = 6;

interface Case { hidden?: Activation; tanhOutput?: boolean; loss?: LossKind; tau?: number }

function setup({ hidden = 'tanh', tanhOutput = false, loss = 'halfSquaredError', tau }: Case = {}) {
  const model = new Sequential({
    inputDim: DIM, loss, seed: 21,
    layers: [{ units: 5, activation: hidden }, { units: 4, activation: hidden }, { units: DIM, activation: tanhOutput ? 'tanh' : 'linear' }],
  });
  // sigmoid cross-entropy reconstructs values in [0, 1]; squared error values in [-2, 2]
  const x = { data: loss === 'sigmoidCrossEntropy' ? randomArray(ROWS * DIM, seeded(3)).map((v) => (v + 1) / 2) : randomArray(ROWS * DIM, seeded(3), 2), rows: ROWS, cols: DIM };
  const W = referenceWeights(model);
  const X = matrix(ROWS, DIM);
  X.a.set(x.data);
  return { model, x, problem: { W, X, batch: BATCH, hidden, tanhOutput, loss, tau } as Problem };
}

describe('golden trajectories, 3 layers, 32 samples, batch 16', () => {
  // Catches: no H_a update, τ dropped from the momentum, β or the s̄/ȳ decay changed.
  test('K-BFGS (α = 0.3, λ = 0.3), tanh, ½ squared error', async () => {
    const { model, x, problem } = setup();
    compare(await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 8), kbfgs(problem, 0.3, 0.3, 8), problem.W, 8);
  });

  // With a linear output and squared error, y = s exactly for the last layer (g = z − t), so μ₂ > 1 makes
  // the LM formula singular (algorithm.md §3.4: sᵀy = sᵀs); a tanh output keeps the pair regular.
  // Catches: no H_a update, √λ replaced by λ in A + √λ I or in μ₂.
  test('K-BFGS with λ = 3 (μ₂ = √3 > 1) matches, tanh output', async () => {
    const { model, x, problem } = setup({ tanhOutput: true });
    compare(await native(model, x, BATCH, new KBFGS({ lr: 0.5, damping: 3 }), 8), kbfgs(problem, 0.5, 3, 8), problem.W, 8);
  });

  // Catches: τ dropped from the momentum (τ = 0.01 makes it count).
  test('K-BFGS with weight decay 0.01', async () => {
    const { model, x, problem } = setup({ tau: 0.01 });
    compare(await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3, weightDecay: 0.01 }), 8), kbfgs(problem, 0.3, 0.3, 8), problem.W, 8);
  });

  // Settings where the double damping acts (α = 1, small λ; the divergence safeguard off, since such steps
  // may raise the loss): the counts of Powell and LM damping are the reference's.
  // Catches: Powell damping skipped or with μ₁ ≠ 0.2, the LM half skipped.
  test('K-BFGS where Powell damping fires: tanh, ½ squared error, α = 1, λ = 0.01', async () => {
    const { model, x, problem } = setup();
    const want = kbfgs(problem, 1, 0.01, 8);
    const got = await native(model, x, BATCH, new KBFGS({ lr: 1, damping: 0.01, safeguard: false }), 8);
    compare(got, want, problem.W, 8);
    expect(want.counts.powell).toBeGreaterThanOrEqual(3);
    expect(got.counts).toEqual(want.counts);
  });

  test('K-BFGS where Powell and LM damping fire: ReLU, sigmoid cross-entropy, α = 1, λ = 0.1', async () => {
    const { model, x, problem } = setup({ hidden: 'relu', loss: 'sigmoidCrossEntropy' });
    const want = kbfgs(problem, 1, 0.1, 8);
    const got = await native(model, x, BATCH, new KBFGS({ lr: 1, damping: 0.1, safeguard: false }), 8);
    compare(got, want, problem.W, 8);
    expect(want.counts.powell).toBeGreaterThan(0);
    expect(want.counts.lm).toBeGreaterThan(0);
    expect(got.counts).toEqual(want.counts);
  });

  test('K-BFGS with curvatureEvery 2: the A average and the curvature updates on even steps only', async () => {
    const { model, x, problem } = setup();
    compare(await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3, curvatureEvery: 2 }), 8),
      kbfgs(problem, 0.3, 0.3, 8, 0, 2), problem.W, 8);
  });

  test('K-BFGS(L) with memory 100 and with memory 3 (pairs dropped) matches the two-loop reference', async () => {
    let { model, x, problem } = setup();
    compare(await native(model, x, BATCH, new KBFGSL({ lr: 0.3, damping: 0.3 }), 8), kbfgs(problem, 0.3, 0.3, 8, 100), problem.W, 8);
    ({ model, x, problem } = setup());
    compare(await native(model, x, BATCH, new KBFGSL({ lr: 0.3, damping: 0.3, memory: 3 }), 8), kbfgs(problem, 0.3, 0.3, 8, 3), problem.W, 8);
  });

  test('KFAC (α = 1, λ = 3) with N(z, 1) sampled targets matches', async () => {
    const { model, x, problem } = setup();
    compare(await native(model, x, BATCH, new KFAC({ lr: 1, damping: 3, seed: 5 }), 8), kfac(problem, 1, 3, 8, 5), problem.W, 8);
  });

  // The benchmark's configuration: ReLU, sigmoid cross-entropy, Bernoulli-sampled Fisher; 44 steps, so the
  // inverses are recomputed at every step up to 20, then kept until step 40. Catches: a re-inversion schedule
  // other than k ≤ 20 or k mod 20 = 0, Bernoulli targets drawn with P(t = 1) ≠ sigmoid(z).
  test('KFAC over 44 steps, ReLU, sigmoid cross-entropy, Bernoulli targets', async () => {
    const { model, x, problem } = setup({ hidden: 'relu', loss: 'sigmoidCrossEntropy' });
    compare(await native(model, x, BATCH, new KFAC({ lr: 0.3, damping: 0.3, seed: 7 }), 44), kfac(problem, 0.3, 0.3, 44, 7), problem.W, 44);
  });

  // Steps 0, 3, 6, ... draw targets and update the factors; the inverses are remade at the updates with k ≤ 4
  // (0, 3) and then at the first update after each multiple of 4 (6, 9, 12, 18, 21, 24; not 15: (12, 15] holds
  // none). Catches: factors updated on every step, inversions on the old schedule or at every update.
  test('KFAC with curvatureEvery 3 and inverseEvery 4: factors on steps 0, 3, 6, ... only', async () => {
    const { model, x, problem } = setup({ hidden: 'relu', loss: 'sigmoidCrossEntropy' });
    compare(await native(model, x, BATCH, new KFAC({ lr: 0.3, damping: 0.3, seed: 7, curvatureEvery: 3, inverseEvery: 4 }), 26),
      kfac(problem, 0.3, 0.3, 26, 7, { inverseEvery: 4, curvatureEvery: 3 }), problem.W, 26);
  });

  // λ split by the factors' traces (algorithm.md §5.2), over 24 steps so that inversions at k ≤ 20 and k = 20
  // see changing traces. The even split's reference must not match it, so the case can tell the splits apart.
  // Catches: π applied to the wrong factor, π without its root, the traces not divided by the dimensions, π left at 1.
  test('KFAC with the trace damping split matches, and differs from the even split', async () => {
    const { model, x, problem } = setup({ hidden: 'relu', loss: 'sigmoidCrossEntropy' });
    const got = await native(model, x, BATCH, new KFAC({ lr: 0.3, damping: 0.03, seed: 7, dampingSplit: 'trace' }), 24);
    compare(got, kfac(problem, 0.3, 0.03, 24, 7, { dampingSplit: 'trace' }), problem.W, 24);
    expect(agreement(got, kfac(problem, 0.3, 0.03, 24, 7), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });

  test('sensitivity: the reference with another λ does not match (the tolerances can fail)', async () => {
    const { model, x, problem } = setup();
    const got = await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 8);
    expect(agreement(got, kbfgs(problem, 0.3, 0.303, 8), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });
});
