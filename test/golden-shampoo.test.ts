// Golden trajectories of Shampoo and SOAP (algorithm.md §17): the engine (float32) against the float64
// reference of test/reference/spec-reference.ts, every minibatch loss and the final weights, at the dense
// suite's tolerances (golden-harness.ts). The network of test/golden.test.ts: 6 → 5 → 4 → 6, so the statistics
// are 5, 4, 6 wide on the left and 7, 6, 5 on the right. The first eigendecomposition comes after 3 steps,
// when every statistic has full rank: the eigenvectors of a repeated (zero) eigenvalue are any basis of its
// space, and SOAP's second moment would depend on the solver's choice.
import { SOAP, Sequential, Shampoo } from '../lib';
import { randomArray, seeded } from './helpers';
import { agreement, compare, LOSS_TOL, native, referenceWeights, smallDenseProblem } from './reference/golden-harness';
import { matrix, shampoo, soap, type ConvGeometry, type KroneckerEigenSettings, type Problem } from './reference/spec-reference';

const BATCH = 16, STEPS = 14;  // smallDenseProblem's batch

const setup = (tau?: number) => smallDenseProblem({ tau });

// Refreshes at k = 3, 7, 11: three sets of roots or bases, each used for four steps.
const SCHEDULE = { precondEvery: 4, startPreconditioningStep: 3 };
const reference = (o: { lr: number; damping: number; beta2: number; maxPrecondDim?: number }): KroneckerEigenSettings =>
  ({ ...o, precondEvery: SCHEDULE.precondEvery, start: SCHEDULE.startPreconditioningStep });

describe('golden trajectories of Shampoo and SOAP, 3 layers, 32 samples, batch 16', () => {
  // Catches: the root from E diag Eᵀ (eigenvectors transposed), no grafting, the root exponent −1/2.
  test('Shampoo (α = 0.01, ε = 1e-4 relative, β₂ = 0.9), every side preconditioned', async () => {
    const { model, x, problem } = setup();
    const o = { lr: 0.01, damping: 1e-4, beta2: 0.9 };
    compare(await native(model, x, BATCH, new Shampoo({ ...o, ...SCHEDULE }), STEPS), shampoo(problem, reference(o), STEPS), problem.W, STEPS);
  });

  // The 7-wide right side of the first layer gets no statistic; τ = 0.01 makes the weight decay count.
  test('Shampoo with maxPrecondDim 6 and weight decay 0.01', async () => {
    const { model, x, problem } = setup(0.01);
    const o = { lr: 0.01, damping: 1e-4, beta2: 0.9, maxPrecondDim: 6 };
    compare(await native(model, x, BATCH, new Shampoo({ ...o, ...SCHEDULE, weightDecay: 0.01 }), STEPS),
      shampoo(problem, reference(o), STEPS), problem.W, STEPS);
  });

  // Catches: the basis transposed, the basis never refreshed after the first, the first moment not rotated.
  test('SOAP (α = 0.01, ε = 1e-8, β₂ = 0.95), every side preconditioned', async () => {
    const { model, x, problem } = setup();
    const o = { lr: 0.01, damping: 1e-8, beta2: 0.95 };
    compare(await native(model, x, BATCH, new SOAP({ ...o, ...SCHEDULE }), STEPS), soap(problem, reference(o), STEPS), problem.W, STEPS);
  });

  test('SOAP with maxPrecondDim 6', async () => {
    const { model, x, problem } = setup();
    const o = { lr: 0.01, damping: 1e-8, beta2: 0.95, maxPrecondDim: 6 };
    compare(await native(model, x, BATCH, new SOAP({ ...o, ...SCHEDULE }), STEPS), soap(problem, reference(o), STEPS), problem.W, STEPS);
  });

  test('sensitivity: the references with another ε, or Adam alone, do not match (the tolerances can fail)', async () => {
    let { model, x, problem } = setup();
    const o = { lr: 0.01, damping: 1e-4, beta2: 0.9 };
    const got = await native(model, x, BATCH, new Shampoo({ ...o, ...SCHEDULE }), STEPS);
    expect(agreement(got, shampoo(problem, reference({ ...o, damping: 2e-4 }), STEPS), problem.W).loss).toBeGreaterThan(LOSS_TOL);
    // never preconditioned: the grafting method alone
    expect(agreement(got, shampoo(problem, { ...reference(o), start: STEPS }, STEPS), problem.W).loss).toBeGreaterThan(LOSS_TOL);
    ({ model, x, problem } = setup());
    const s = { lr: 0.01, damping: 1e-8, beta2: 0.95 };
    const gotSoap = await native(model, x, BATCH, new SOAP({ ...s, ...SCHEDULE }), STEPS);
    expect(agreement(gotSoap, soap(problem, { ...reference(s), start: STEPS }, STEPS), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });
});

describe('golden trajectories of Shampoo and SOAP, a convolutional network, 24 samples, batch 8', () => {
  // A convolution's weight as a matrix (algorithm.md §12.1): 2x5x5 images, conv 3x3 stride 2 pad 1 (3 filters:
  // its statistics 3 and 19 wide), flatten, dense 5, dense 50. maxPrecondDim 30 leaves the last layer's 50-wide
  // side out; the first eigendecompositions at step 7, once the 19- and 28-wide statistics have full rank.
  test.each([['Shampoo', shampoo, (o: object) => new Shampoo(o)], ['SOAP', soap, (o: object) => new SOAP(o)]] as const)(
    '%s on a convolutional network', async (_, reference, make) => {
      const geometry: Array<ConvGeometry | null> = [{ channels: 2, height: 5, width: 5, kernel: 3, stride: 2, pad: 1 }, null, null];
      const model = new Sequential({ inputShape: [2, 5, 5], loss: 'halfSquaredError', seed: 21, layers: [
        { type: 'conv2d', filters: 3, kernel: 3, stride: 2, padding: 1, activation: 'tanh' }, { type: 'flatten' },
        { units: 5, activation: 'tanh' }, { units: 50 }] });
      const rows = 24, batch = 8, steps = 15;
      const x = { data: randomArray(rows * 50, seeded(3), 1), rows, cols: 50 };
      const X = matrix(rows, 50);
      X.a.set(x.data);
      const problem: Problem = { W: referenceWeights(model), X, batch, geometry };
      const o = { lr: 0.01, damping: reference === shampoo ? 1e-4 : 1e-8, beta2: 0.95, maxPrecondDim: 30 };
      const schedule = { precondEvery: 3, startPreconditioningStep: 7 };
      compare(await native(model, x, batch, make({ ...o, ...schedule }), steps),
        reference(problem, { ...o, precondEvery: 3, start: 7 }, steps), problem.W, steps);
    });
});
