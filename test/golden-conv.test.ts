// Golden trajectories of convolutional networks: the native K-BFGS, K-BFGS(L) and KFAC with conv2d, pooling
// and flatten layers (float32) against the float64 reference (test/reference/spec-reference.ts, which computes
// the convolutions and pools from their definitions), and the gradient of every layer against it.
import { AdamW, KBFGS, KBFGSL, KFAC, Sequential, type LayerConfig } from '../lib';
import { randomArray, seeded } from './helpers';
import { agreement, compare, LOSS_TOL, native, referenceWeights } from './reference/golden-harness';
import { adamw, kbfgs, kfac, matrix, pass, type ConvGeometry, type Problem } from './reference/spec-reference';

const ROWS = 24, BATCH = 8;

interface Network { inputShape: [number, number, number]; layers: LayerConfig[]; geometry: Array<ConvGeometry | null> }

// 1x6x6 images: conv 3x3 pad 1 (3 filters) + 2x2 max pool, conv 2x2 (4 filters) + 2x2 average pool, flatten,
// a dense output of 36 (the images are their own targets).
const pooled: Network = {
  inputShape: [1, 6, 6],
  layers: [
    { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'tanh' }, { type: 'maxPool2d', pool: 2 },
    { type: 'conv2d', filters: 4, kernel: 2, activation: 'tanh' }, { type: 'avgPool2d', pool: 2 },
    { type: 'flatten' }, { units: 36 },
  ],
  geometry: [
    { channels: 1, height: 6, width: 6, kernel: 3, stride: 1, pad: 1, pool: { kind: 'max', size: 2 } },
    { channels: 3, height: 3, width: 3, kernel: 2, stride: 1, pad: 0, pool: { kind: 'avg', size: 2 } },
    null,
  ],
};

// 2x5x5 images: conv 3x3 stride 2 pad 1 (3 filters, 3x3 output, no pooling), flatten, dense 5, dense 50.
const strided: Network = {
  inputShape: [2, 5, 5],
  layers: [
    { type: 'conv2d', filters: 3, kernel: 3, stride: 2, padding: 1, activation: 'tanh' }, { type: 'flatten' },
    { units: 5, activation: 'tanh' }, { units: 50 },
  ],
  geometry: [{ channels: 2, height: 5, width: 5, kernel: 3, stride: 2, pad: 1 }, null, null],
};

function setup(net: Network, seed = 21) {
  const model = new Sequential({ inputShape: net.inputShape, layers: net.layers, loss: 'halfSquaredError', seed });
  const cols = model.inputDim;
  const x = { data: randomArray(ROWS * cols, seeded(3), 1), rows: ROWS, cols };
  const X = matrix(ROWS, cols);
  X.a.set(x.data);
  const problem: Problem = { W: referenceWeights(model), X, batch: BATCH, geometry: net.geometry };
  return { model, x, problem };
}

describe('convolution layers against the float64 reference', () => {
  test.each([['pooled', pooled], ['strided', strided]] as const)('%s network: loss, outputs and every weight gradient', async (_name, net) => {
    const { model, x, problem } = setup(net);
    const { loss, gradients } = model.computeGradients(x);
    const want = pass(problem.W, problem.X, problem.X, true, { hidden: 'tanh', output: 'linear', loss: 'halfSquaredError', geometry: net.geometry });
    expect(Math.abs(loss - want.loss) / want.loss).toBeLessThan(1e-6);
    const outputs = await model.predict(x, { logits: true });
    expect(outputs.data.length).toBe(want.output.a.length);
    outputs.data.forEach((v, i) => expect(Math.abs(v - want.output.a[i])).toBeLessThan(1e-5 * (1 + Math.abs(want.output.a[i]))));
    gradients.forEach(({ weight, bias }, l) => {
      const inputs = weight.length / bias.length, G = want.grads[l];
      let worst = 0, scale = 0;
      for (let i = 0; i < bias.length; i++)
        for (let j = 0; j <= inputs; j++) {
          const ref = G.a[i * (inputs + 1) + j];
          worst = Math.max(worst, Math.abs((j < inputs ? weight[i * inputs + j] : bias[i]) - ref));
          scale = Math.max(scale, Math.abs(ref));
        }
      expect(worst).toBeLessThan(1e-5 * scale);
    });
    model.dispose();
  });
});

describe('golden trajectories with convolutions, 24 samples, batch 8', () => {
  test.each([['pooled', pooled], ['strided', strided]] as const)('K-BFGS (α = 0.3, λ = 0.3), %s network', async (_name, net) => {
    const { model, x, problem } = setup(net);
    compare(await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 9), kbfgs(problem, 0.3, 0.3, 9), problem.W, 9);
  });

  // A first-order optimizer reads no statistics: the second convolution keeps no patches and forms them again,
  // four images at a time, for its weight gradient (algorithm.md §12.6).
  test('AdamW (patches formed again for the weight gradient), pooled network', async () => {
    const { model, x, problem } = setup(pooled);
    const settings = { lr: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 };
    compare(await native(model, x, BATCH, new AdamW(settings), 9), adamw(problem, settings, 9), problem.W, 9);
  });

  test('K-BFGS with α = 1, λ = 0.01 and the safeguard off (the double damping acts)', async () => {
    const { model, x, problem } = setup(pooled);
    const want = kbfgs(problem, 1, 0.01, 9);
    const got = await native(model, x, BATCH, new KBFGS({ lr: 1, damping: 0.01, safeguard: false }), 9);
    compare(got, want, problem.W, 9);
    expect(want.counts.powell + want.counts.lm).toBeGreaterThan(0);
    expect(got.counts).toEqual(want.counts);
  });

  // Catches: a step between curvature steps that still updates A, H_a, H_g or the s̄/ȳ averages, or that skips
  // the direction; the curvature steps counted at the wrong k; a curvature step whose passes kept no patches
  // (the second convolution forms them in chunks of 4 images at batch 8, so its ā would be stale, §12.4).
  test('K-BFGS and K-BFGS(L) with curvatureEvery 3: curvature on steps 0, 3, 6 only', async () => {
    let { model, x, problem } = setup(pooled);
    const got = await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3, curvatureEvery: 3 }), 9);
    const want = kbfgs(problem, 0.3, 0.3, 9, 0, 3);
    compare(got, want, problem.W, 9);
    expect(agreement(got, kbfgs(problem, 0.3, 0.3, 9), problem.W).loss).toBeGreaterThan(LOSS_TOL);  // not the every-step run
    ({ model, x, problem } = setup(pooled));
    compare(await native(model, x, BATCH, new KBFGSL({ lr: 0.3, damping: 0.3, memory: 3, curvatureEvery: 3 }), 9),
      kbfgs(problem, 0.3, 0.3, 9, 3, 3), problem.W, 9);
  });

  // Batches of one image: the second pass forms the second convolution's patches whole, not in chunks (§12.4);
  // without the safeguard, which one-image losses trip.
  test('K-BFGS with batches of one image', async () => {
    const { model, x, problem } = setup(pooled);
    const one = { ...problem, batch: 1 };
    compare(await native(model, x, 1, new KBFGS({ lr: 0.3, damping: 0.3, safeguard: false }), 24), kbfgs(one, 0.3, 0.3, 24), problem.W, 24);
  });

  test('K-BFGS(L) with memory 3', async () => {
    const { model, x, problem } = setup(pooled);
    compare(await native(model, x, BATCH, new KBFGSL({ lr: 0.3, damping: 0.3, memory: 3 }), 9), kbfgs(problem, 0.3, 0.3, 9, 3), problem.W, 9);
  });

  test.each([['pooled', pooled], ['strided', strided]] as const)('KFAC (α = 0.3, λ = 0.3), %s network, 24 steps', async (_name, net) => {
    const { model, x, problem } = setup(net);
    compare(await native(model, x, BATCH, new KFAC({ lr: 0.3, damping: 0.3, seed: 5 }), 24), kfac(problem, 0.3, 0.3, 24, 5), problem.W, 24);
  });

  // Catches: a step between factor updates that still draws targets or updates Ω and Γ; a factor update whose
  // passes kept no patches (the second convolution's ā stale, §5.1).
  test('KFAC with curvatureEvery 2 and inverseEvery 5: factors on even steps only', async () => {
    const { model, x, problem } = setup(pooled);
    const got = await native(model, x, BATCH, new KFAC({ lr: 0.3, damping: 0.3, seed: 5, curvatureEvery: 2, inverseEvery: 5 }), 15);
    compare(got, kfac(problem, 0.3, 0.3, 15, 5, { curvatureEvery: 2, inverseEvery: 5 }), problem.W, 15);
    expect(agreement(got, kfac(problem, 0.3, 0.3, 15, 5, { inverseEvery: 5 }), problem.W).loss).toBeGreaterThan(LOSS_TOL);  // not the every-step run
  });

  test('sensitivity: the reference with another λ does not match (the tolerances can fail)', async () => {
    const { model, x, problem } = setup(pooled);
    const got = await native(model, x, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 9);
    expect(agreement(got, kbfgs(problem, 0.3, 0.303, 9), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });
});
