// Golden trajectories: the native K-BFGS, K-BFGS(L) and KFAC (float32) against the independent float64
// implementation of docs/algorithm.md in test/reference/spec-reference.ts, step by step.
import { KBFGS, KBFGSL, KFAC, Sequential, type Optimizer } from '../lib';
import { randomArray, seeded } from './helpers';
import { kbfgs, kfac, matrix, type Mat, type Problem, type Trajectory } from './reference/spec-reference';

const ROWS = 32, BATCH = 16, DIM = 6, STEPS = 8;

function setup(tanhOutput = false) {
  const model = new Sequential({
    inputDim: DIM, loss: 'halfSquaredError', seed: 21,
    layers: [{ units: 5, activation: 'tanh' }, { units: 4, activation: 'tanh' }, { units: DIM, activation: tanhOutput ? 'tanh' : 'linear' }],
  });
  const x = { data: randomArray(ROWS * DIM, seeded(3), 2), rows: ROWS, cols: DIM };
  const W: Mat[] = model.getWeights().map(({ weight, bias }) => {
    const d = bias.length, inputs = weight.length / d;
    const w = matrix(d, inputs + 1);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < inputs; j++) w.a[i * (inputs + 1) + j] = weight[i * inputs + j];
      w.a[i * (inputs + 1) + inputs] = bias[i];
    }
    return w;
  });
  const X = matrix(ROWS, DIM);
  X.a.set(x.data);
  return { model, x, problem: { W, X, batch: BATCH, tanhOutput } as Problem };
}

async function native(model: Sequential, x: Parameters<Sequential['fit']>[0], optimizer: Optimizer) {
  const losses: number[] = [];
  await model.fit(x, {
    optimizer, epochs: STEPS / (ROWS / BATCH), batchSize: BATCH, shuffle: false,
    onBatchEnd: (_b, logs) => losses.push(logs.loss),
  });
  return { losses, weights: model.getWeights() };
}

function compare(got: Awaited<ReturnType<typeof native>>, want: Trajectory, start: Mat[], lossTol: number, weightTol: number) {
  expect(got.losses).toHaveLength(STEPS);
  got.losses.forEach((l, k) => expect(Math.abs(l - want.batchLosses[k])).toBeLessThan(lossTol * want.batchLosses[k]));
  // the step actually moved the weights, and both implementations moved them to the same place
  let maxDiff = 0, maxMove = 0;
  got.weights.forEach(({ weight, bias }, l) => {
    const inputs = weight.length / bias.length;
    bias.forEach((b, i) => {
      for (let j = 0; j <= inputs; j++) {
        const mine = j < inputs ? weight[i * inputs + j] : b;
        maxDiff = Math.max(maxDiff, Math.abs(mine - want.W[l].a[i * (inputs + 1) + j]));
      }
    });
  });
  want.W.forEach((w, l) => w.a.forEach((v, i) => (maxMove = Math.max(maxMove, Math.abs(v - start[l].a[i])))));
  expect(maxDiff).toBeLessThan(weightTol);
  expect(maxMove).toBeGreaterThan(30 * weightTol);  // the steps are large against the tolerance
}

// Tolerances: float32 against float64 over 8 quasi-Newton steps; the losses agree to 4 or more significant
// digits here, so 1e-3 relative (and 1e-3 absolute on the weights, which move by more than 30x that) leaves
// a margin, while a wrong constant moves them by far more (the "sensitivity" test shows it).
describe('golden trajectory, 3 layers, 32 samples, batch 16, 8 steps', () => {
  test('K-BFGS (α = 0.3, λ = 0.3) matches the float64 spec', async () => {
    const { model, x, problem } = setup();
    compare(await native(model, x, new KBFGS({ lr: 0.3, damping: 0.3 })), kbfgs(problem, 0.3, 0.3, STEPS), problem.W, 1e-3, 1e-3);
  });

  // With a linear output and squared error, y = s exactly for the last layer (g = z − t), so μ₂ > 1 makes
  // the LM formula singular (algorithm.md §3.4: sᵀy = sᵀs); a tanh output keeps the pair regular.
  test('K-BFGS with λ = 3 (μ₂ = √3 > 1) matches, tanh output', async () => {
    const { model, x, problem } = setup(true);
    compare(await native(model, x, new KBFGS({ lr: 0.5, damping: 3 })), kbfgs(problem, 0.5, 3, STEPS), problem.W, 1e-3, 1e-3);
  });

  test('K-BFGS(L) with memory 100 and with memory 3 (pairs dropped) matches the two-loop reference', async () => {
    let { model, x, problem } = setup();
    compare(await native(model, x, new KBFGSL({ lr: 0.3, damping: 0.3 })), kbfgs(problem, 0.3, 0.3, STEPS, 100), problem.W, 1e-3, 1e-3);
    ({ model, x, problem } = setup());
    compare(await native(model, x, new KBFGSL({ lr: 0.3, damping: 0.3, memory: 3 })), kbfgs(problem, 0.3, 0.3, STEPS, 3), problem.W, 1e-3, 1e-3);
  });

  test('KFAC (α = 1, λ = 3) with sampled targets matches', async () => {
    const { model, x, problem } = setup();
    compare(await native(model, x, new KFAC({ lr: 1, damping: 3, seed: 5 })), kfac(problem, 1, 3, STEPS, 5), problem.W, 1e-3, 1e-3);
  });

  test('sensitivity: the reference with another λ does not match (the tolerances can fail)', async () => {
    const { model, x, problem } = setup();
    const got = await native(model, x, new KBFGS({ lr: 0.3, damping: 0.3 }));
    const other = kbfgs(problem, 0.3, 0.35, STEPS);
    const worst = Math.max(...got.losses.map((l, k) => Math.abs(l - other.batchLosses[k]) / other.batchLosses[k]));
    expect(worst).toBeGreaterThan(1e-3);
  });
});
