// The golden-trajectory harness: runs the native optimizer step by step and compares it with the float64
// reference (spec-reference.ts): every minibatch loss, the final weights, and how far the weights moved.
import * as fs from 'fs';
import { Sequential, type LayerWeights, type Optimizer, type TokenData, type TrainingData } from '../../lib';
import { randomArray, seeded } from '../helpers';
import { matrix, type Mat, type Problem, type Trajectory } from './spec-reference';

/** The model's weights (or getWeights' list) as the reference holds them: per layer units x (inputs + 1), bias last. */
export function referenceWeights(model: Sequential | ReadonlyArray<LayerWeights>): Mat[] {
  return ('getWeights' in model ? model.getWeights() : model).map(({ weight, bias }) => {
    const d = bias.length, inputs = weight.length / d;
    const w = matrix(d, inputs + 1);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < inputs; j++) w.a[i * (inputs + 1) + j] = weight[i * inputs + j];
      w.a[i * (inputs + 1) + inputs] = bias[i];
    }
    return w;
  });
}

/**
 * The small dense problem of the suites that compare whole trajectories of one method at a time (step rules,
 * Shampoo and SOAP): 32 rows of 6 values, batches of 16, a 6 → 5 → 4 → 6 tanh network; `extra` adds the
 * problem's options (τ, clipping, the schedule's factors).
 */
export function smallDenseProblem(extra: Partial<Problem> = {}) {
  const ROWS = 32, DIM = 6;
  const model = new Sequential({
    inputDim: DIM, loss: 'halfSquaredError', seed: 21,
    layers: [{ units: 5, activation: 'tanh' }, { units: 4, activation: 'tanh' }, { units: DIM, activation: 'linear' }],
  });
  const x = { data: randomArray(ROWS * DIM, seeded(3), 2), rows: ROWS, cols: DIM };
  const X = matrix(ROWS, DIM);
  X.a.set(x.data);
  return { model, x, problem: { W: referenceWeights(model), X, batch: 16, ...extra } as Problem };
}

export async function native(model: Sequential, data: TrainingData | TokenData, batch: number, optimizer: Optimizer, steps: number) {
  const losses: number[] = [];
  const counts = { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 };
  const rows = 'x' in data ? data.x.rows : data.rows;
  await model.fit(data, {
    optimizer, epochs: steps / Math.floor(rows / batch), batchSize: batch, shuffle: false,
    onBatchEnd: (_b, logs) => losses.push(logs.loss),
    onEpochEnd: (_e, { diagnostics: d }) => {
      counts.powell += d.powellDamping ?? 0;
      counts.lm += d.lmDamping ?? 0;
      counts.hgSkipped += d.hgSkipped ?? 0;
      counts.haSkipped += d.haSkipped ?? 0;
    },
  });
  return { losses, weights: model.getWeights(), counts };
}

/** The largest relative loss difference and absolute weight difference, and how far the weights moved. */
export function agreement(got: Awaited<ReturnType<typeof native>>, want: Trajectory, start: Mat[]) {
  const loss = Math.max(...got.losses.map((l, k) => Math.abs(l - want.batchLosses[k]) / want.batchLosses[k]));
  let weight = 0, moved = 0;
  got.weights.forEach(({ weight: w, bias }, l) => {
    const inputs = w.length / bias.length;
    bias.forEach((b, i) => {
      for (let j = 0; j <= inputs; j++) {
        const mine = j < inputs ? w[i * inputs + j] : b;
        weight = Math.max(weight, Math.abs(mine - want.W[l].a[i * (inputs + 1) + j]));
      }
    });
  });
  want.W.forEach((w, l) => w.a.forEach((v, i) => (moved = Math.max(moved, Math.abs(v - start[l].a[i])))));
  return { loss, weight, moved };
}

// Tolerances: the engine (float32) agrees with the float64 reference to about 1e-6 relative in every loss and
// 3e-6 in the weights over most of these runs; 1e-5 leaves a margin of 3-10 while a wrong formula or constant
// moves the trajectory by far more: the mutations listed with each case were each made in the engine and failed
// the case.
//
// Some trajectories amplify rounding more than others (large steps with the double damping at work, batches of
// one sample), and the engine's error there depends on the order in which the BLAS kernels sum, which differs
// between CPUs. So the weight tolerance of a case also scales with its own sensitivity, measured on the
// reference: `spread` is how far its final weights move when they are stored in float32 after every step, as
// the engine stores them. The engine's weight error is 1 to 161 times that spread over every case and every
// OpenBLAS kernel family of an AVX2 machine (docs/blas-kernels.md); RATIO_TOL = 250 keeps a margin of 1.5 over
// the largest. Where the spread is small, the fixed tolerance governs.
export const LOSS_TOL = 1e-5, WEIGHT_TOL = 1e-5, RATIO_TOL = 250;

/** How far the reference's final weights move when it stores its weights in float32 after every step. */
export function spread(want: Trajectory): number {
  let worst = 0;
  want.rerun({ float32Weights: true }).W.forEach((w, l) => w.a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want.W[l].a[i])))));
  return worst;
}

export function compare(got: Awaited<ReturnType<typeof native>>, want: Trajectory, start: Mat[], steps: number) {
  expect(got.losses).toHaveLength(steps);
  const { loss, weight, moved } = agreement(got, want, start);
  const sensitivity = spread(want);
  const line = JSON.stringify({ test: expect.getState().currentTestName, loss, weight, moved, spread: sensitivity, got: got.counts, want: want.counts });
  console.log(line);
  // bench/golden-sensitivity.js collects these over the BLAS kernel families
  if (process.env.KBFGS_GOLDEN_LOG) fs.appendFileSync(process.env.KBFGS_GOLDEN_LOG, line + '\n');
  expect(loss).toBeLessThan(LOSS_TOL);
  expect(weight).toBeLessThan(Math.max(WEIGHT_TOL, RATIO_TOL * sensitivity));
  expect(moved).toBeGreaterThan(1000 * WEIGHT_TOL);  // the steps are large against the tolerance
}
