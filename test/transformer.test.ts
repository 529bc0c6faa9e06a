// Token models (docs/algorithm.md §18): the engine's logits, per-token loss and gradients against the float64
// reference of test/reference/transformer-reference.ts (its own forward pass, and central differences of its
// loss in float64), the causal mask, dropout, the typed errors of bad token models, and a tiny GPT that learns.
import {
  Adam, InvalidArgumentError, InvalidDataError, KBFGS, KFAC, Sequential, type LayerConfig, type LayerWeights,
} from '../lib';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { referenceLogits, referenceLoss } from './reference/transformer-reference';
import { seeded } from './helpers';

const VOCABULARY = 7, CONTEXT = 5, WIDTH = 8, ROWS = 3;

function preNormBlock(dropout = 0): LayerConfig[] {
  const drop: LayerConfig[] = dropout ? [{ type: 'dropout', rate: dropout, seed: 5 }] : [];
  return [
    { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }, ...drop] },
    { type: 'residual', layers: [{ type: 'layerNorm' }, { units: 2 * WIDTH, activation: 'gelu' }, { units: WIDTH }, ...drop] },
  ];
}

function tinyModel(dropout = 0): Sequential {
  return new Sequential({
    inputDim: CONTEXT, loss: 'softmaxCrossEntropy', seed: 11,
    layers: [{ type: 'embedding', vocabulary: VOCABULARY, width: WIDTH }, ...preNormBlock(dropout), { type: 'layerNorm' }, { units: VOCABULARY }],
  });
}

/** Weights drawn anew (gains and biases away from 1 and 0), so every path carries signal. */
function randomWeights(model: Sequential, rnd: () => number): LayerWeights[] {
  return model.getWeights().map((w) => ({
    weight: w.weight.map((v) => v + 0.6 * (rnd() - 0.5)),
    bias: w.bias.map(() => 0.4 * (rnd() - 0.5)),
  }));
}

function tokenRows(rnd: () => number, rows = ROWS, vocabulary = VOCABULARY) {
  const ids = () => Int32Array.from({ length: rows * CONTEXT }, () => Math.floor(rnd() * vocabulary));
  return { x: { data: ids(), rows, cols: CONTEXT }, y: { data: ids(), rows, cols: CONTEXT } };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('a pre-norm transformer against the float64 reference', () => {
  const rnd = seeded(3);
  const model = tinyModel();
  const weights = randomWeights(model, rnd);
  model.setWeights(weights);
  const data = tokenRows(rnd);
  afterAll(() => model.dispose());

  test('the logits of every position match the reference (and differ from attention without the causal mask)', async () => {
    const logits = await model.predict(data.x, { logits: true });
    expect(logits.cols).toBe(CONTEXT * VOCABULARY);
    let worst = 0, unmasked = 0;
    for (let i = 0; i < ROWS; i++) {
      const ids = Array.from(data.x.data.slice(i * CONTEXT, (i + 1) * CONTEXT));
      const want = referenceLogits(model.layers, weights, ids).flatMap((r) => Array.from(r));
      const open = referenceLogits(model.layers, weights, ids, { causal: false }).flatMap((r) => Array.from(r));
      const got = logits.data.slice(i * CONTEXT * VOCABULARY, (i + 1) * CONTEXT * VOCABULARY);
      worst = Math.max(worst, maxDiff(got, want));
      unmasked = Math.max(unmasked, maxDiff(open, want));
    }
    expect(worst).toBeLessThan(2e-5);
    expect(unmasked).toBeGreaterThan(1e-2);
  });

  test('the loss is the mean over positions of the per-token cross-entropy', () => {
    const { loss } = model.computeGradients(data);
    const want = referenceLoss(model.layers, weights, data.x.data, data.y.data, ROWS);
    expect(Math.abs(loss - want)).toBeLessThan(2e-6 * Math.max(1, want));
  });

  test('every weight gradient matches central differences of the float64 reference loss', () => {
    const { gradients } = model.computeGradients(data);
    const h = 1e-5;
    let checked = 0;
    const at = (l: number, key: 'weight' | 'bias', k: number, delta: number) => {
      const w = weights.map((v) => ({ weight: Float64Array.from(v.weight), bias: Float64Array.from(v.bias) }));
      w[l][key][k] += delta;
      return referenceLoss(model.layers, w as unknown as LayerWeights[], data.x.data, data.y.data, ROWS);
    };
    gradients.forEach((g, l) => {
      for (const key of ['weight', 'bias'] as const)
        g[key].forEach((analytic, k) => {
          const fd = (at(l, key, k, h) - at(l, key, k, -h)) / (2 * h);
          expect(Math.abs(analytic - fd)).toBeLessThan(2e-5 + 1e-3 * Math.abs(fd));
          checked++;
        });
    });
    expect(checked).toBe(model.paramCount);
  });

  test('a position sees only the positions before it: a later token leaves earlier logits unchanged', async () => {
    const changed = { data: Int32Array.from(data.x.data), rows: ROWS, cols: CONTEXT };
    for (let i = 0; i < ROWS; i++) changed.data[i * CONTEXT + CONTEXT - 1] = (changed.data[i * CONTEXT + CONTEXT - 1] + 1) % VOCABULARY;
    const [a, b] = [await model.predict(data.x, { logits: true }), await model.predict(changed, { logits: true })];
    for (let i = 0; i < ROWS; i++) {
      const early = (m: typeof a) => m.data.slice(i * CONTEXT * VOCABULARY, (i * CONTEXT + CONTEXT - 1) * VOCABULARY);
      expect(Array.from(early(b))).toEqual(Array.from(early(a)));
      const last = (m: typeof a) => m.data.slice((i * CONTEXT + CONTEXT - 1) * VOCABULARY, (i + 1) * CONTEXT * VOCABULARY);
      expect(maxDiff(last(a), last(b))).toBeGreaterThan(1e-4);
    }
  });
});

test('dropout acts in training passes only, with a new mask each pass', async () => {
  const rnd = seeded(9);
  const plain = tinyModel(), dropped = tinyModel(0.5);
  dropped.setWeights(plain.getWeights());
  const data = tokenRows(rnd);
  expect(await dropped.evaluate(data)).toBe(await plain.evaluate(data));
  const [first, second] = [dropped.computeGradients(data).loss, dropped.computeGradients(data).loss];
  const clean = plain.computeGradients(data).loss;
  expect(first).not.toBe(clean);
  expect(second).not.toBe(first);
  plain.dispose();
  dropped.dispose();
});

test('a checkpoint of a token model (with dropout and Adam state) resumes the same run', async () => {
  const data = tokenRows(seeded(4), 8);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-')), 'gpt.ckpt');
  const model = tinyModel(0.1);
  await model.fit(data, { optimizer: new Adam({ lr: 1e-2 }), epochs: 2, batchSize: 4, seed: 1 });
  model.save(file);
  const loaded = Sequential.load(file);
  expect(loaded.layers).toEqual(model.layers);
  expect(loaded.getWeights()).toEqual(model.getWeights());
  const [a, b] = [await model.predict(data.x, { logits: true }), await loaded.predict(data.x, { logits: true })];
  expect(Array.from(b.data)).toEqual(Array.from(a.data));
  // one more epoch each: the same batches, the same dropout masks, the same Adam moments
  await model.fit(data, { optimizer: model.optimizer!, epochs: 1, batchSize: 4, seed: 1 });
  await loaded.fit(data, { optimizer: loaded.optimizer!, epochs: 1, batchSize: 4, seed: 1 });
  expect(loaded.getWeights()).toEqual(model.getWeights());
  fs.rmSync(path.dirname(file), { recursive: true });
  model.dispose();
  loaded.dispose();
});

describe('typed errors of token models', () => {
  const build = (layers: unknown[], extra: object = {}) =>
    () => new Sequential({ inputDim: CONTEXT, loss: 'softmaxCrossEntropy', layers: layers as LayerConfig[], ...extra });
  const embedding = { type: 'embedding', vocabulary: VOCABULARY, width: WIDTH };

  test('heads that do not divide the width', () => {
    expect(build([embedding, { type: 'attention', heads: 3 }, { units: 2 }])).toThrow(new InvalidArgumentError('Sequential layer 1: 3 heads do not divide the width 8'));
  });
  test('a bad vocabulary, an embedding not first, a sequence too long, a loss other than softmax', () => {
    expect(build([{ ...embedding, vocabulary: 1 }, { units: 2 }])).toThrow(/vocabulary must be/);
    expect(build([{ units: 4 }, embedding, { units: 2 }])).toThrow(/an embedding must be the first layer/);
    expect(() => new Sequential({ inputDim: 1 << 15, loss: 'softmaxCrossEntropy', layers: [embedding as LayerConfig, { units: 2 }] }))
      .toThrow(/sequence length \(inputDim\) of 32768 is too long/);
    expect(build([embedding, { units: 2 }], { loss: 'halfSquaredError' })).toThrow(/token model takes loss 'softmaxCrossEntropy'/);
    expect(build([embedding, { type: 'residual', layers: [{ units: 3 }] }, { units: 2 }])).toThrow(/must give back their input's shape/);
    expect(build([embedding, { type: 'attention', heads: 2 }, { type: 'flatten' }, { units: 2 }])).toThrow(/flatten takes images, not token rows/);
    expect(build([{ units: 4 }, { type: 'attention', heads: 2 }, { units: 2 }])).toThrow(/attention takes token rows/);
  });
  test('token ids out of range name the id and its place', async () => {
    const model = tinyModel();
    const data = tokenRows(seeded(1));
    data.x.data[7] = VOCABULARY;
    expect(() => model.computeGradients(data)).toThrow(new InvalidDataError(`computeGradients data.x has token id ${VOCABULARY} at row 1, position 2: ids must be whole numbers in [0, ${VOCABULARY})`));
    data.x.data[7] = 0;
    data.y.data[0] = -1;
    await expect(model.fit(data, { optimizer: new Adam() })).rejects.toThrow(/training data.y has token id -1 at row 0, position 0/);
    await expect(model.predict({ data: new Float32Array(CONTEXT).fill(0.5), rows: 1, cols: CONTEXT })).rejects.toThrow(InvalidDataError);
    await expect(model.evaluate(tokenRows(seeded(1)), { metrics: ['accuracy'] })).rejects.toThrow(/accuracy is not reported for a token model/);
    model.dispose();
  });
});

describe('KFAC and K-BFGS on layer norms: no statistics, the damped identity (algorithm.md §18.6)', () => {
  // One step from θ₀ on the whole batch, without momentum or weight decay: a layer norm's gains and biases move
  // by −α g/λ under KFAC ((√λ I)⁻¹ on both sides) and by −α g/√λ under K-BFGS (H_g = I, H_a = (√λ I)⁻¹).
  test.each([['kfac', (lr: number, damping: number) => new KFAC({ lr, damping, momentum: 0, weightDecay: 0 }), 1],
    ['kbfgs', (lr: number, damping: number) => new KBFGS({ lr, damping, momentum: 0, weightDecay: 0 }), 0.5]] as const)(
    '%s: the first step of a layer norm block', async (_, make, power) => {
      const model = tinyModel();
      const data = tokenRows(seeded(8), 6);
      const before = model.getWeights();
      const { gradients } = model.computeGradients(data);
      const [lr, damping] = [0.05, 0.3];
      await model.fit(data, { optimizer: make(lr, damping), epochs: 1, batchSize: 6 });
      const after = model.getWeights();
      const norms = [1, 4, 7];  // the layer norms among the weighted layers: embedding, norm, qkv, out, norm, mlp, mlp, norm, head
      for (const l of norms)
        for (const key of ['weight', 'bias'] as const) {
          const want = before[l][key].map((v, k) => v - lr * gradients[l][key][k] / damping ** power);
          expect(maxDiff(after[l][key], want)).toBeLessThan(1e-6);
        }
      model.dispose();
    });

  test.each([['kfac', () => new KFAC({ lr: 0.3 })], ['kbfgs', () => new KBFGS({ lr: 0.3 })]] as const)('%s trains the pre-norm transformer', async (_, make) => {
    const model = tinyModel();
    const x = Int32Array.from({ length: 12 * CONTEXT }, (_, k) => (k * 5 + Math.floor(k / 3)) % VOCABULARY);
    const data = { x: { data: x, rows: 12, cols: CONTEXT }, y: { data: x.map((v) => (v + 1) % VOCABULARY), rows: 12, cols: CONTEXT } };
    const before = await model.evaluate(data);
    await model.fit(data, { optimizer: make(), epochs: 30, batchSize: 12 });
    expect(await model.evaluate(data)).toBeLessThan(0.8 * before);
    model.dispose();
  });
});

describe('KFAC and K-BFGS on a token model without layer norms (tokens as samples, algorithm.md §18.6)', () => {
  const noNorm = (): Sequential => new Sequential({
    inputDim: CONTEXT, loss: 'softmaxCrossEntropy', seed: 5,
    layers: [{ type: 'embedding', vocabulary: VOCABULARY, width: WIDTH },
      { type: 'residual', layers: [{ type: 'attention', heads: 2 }] },
      { type: 'residual', layers: [{ units: 2 * WIDTH, activation: 'gelu' }, { units: WIDTH }] }, { units: VOCABULARY }],
  });
  const rows = 12;  // a learnable next token: y = x + 1 (mod V)
  const x = Int32Array.from({ length: rows * CONTEXT }, (_, k) => (k * 5 + Math.floor(k / 3)) % VOCABULARY);
  const data = { x: { data: x, rows, cols: CONTEXT }, y: { data: x.map((v) => (v + 1) % VOCABULARY), rows, cols: CONTEXT } };
  // A of the embedding: the mean over the m·S token rows of the two-hot rows' outer products, which do not depend
  // on the weights, so every average of them is this matrix: token and position frequencies and their co-occurrence.
  const n = VOCABULARY + CONTEXT + 1;
  const want = new Float64Array(n * n);
  for (let r = 0; r < rows * CONTEXT; r++) {
    const hot = [data.x.data[r], VOCABULARY + (r % CONTEXT), n - 1];
    for (const a of hot) for (const b of hot) want[a * n + b] += 1 / (rows * CONTEXT);
  }

  test.each([['kfac', () => new KFAC({ lr: 1 })], ['kbfgs', () => new KBFGS({ lr: 0.3 })]] as const)('%s: the embedding\'s A is the token and position frequencies; the loss falls', async (_, make) => {
    const model = noNorm();
    const before = await model.evaluate(data);
    await model.fit(data, { optimizer: make(), epochs: 30, batchSize: rows });
    const state = (model as unknown as { handle: { exportState(): { buffers: Record<string, Float32Array> } } }).handle.exportState();
    expect(maxDiff(state.buffers['layer0.A'], want)).toBeLessThan(1e-6);
    expect(await model.evaluate(data)).toBeLessThan(0.8 * before);
    model.dispose();
  });

  test("kbfgs: the output layer's pair after one step is a token row's, y = p̄(θ₀) − p̄(θ₁) against s = z̄(θ₀) − z̄(θ₁)", async () => {
    const model = noNorm();
    const means = async () => {  // the mean over the m·S token rows of the logits and of the softmax
      const [z, p] = [await model.predict(data.x, { logits: true }), await model.predict(data.x)];
      const mean = (m: typeof z) => Float64Array.from({ length: VOCABULARY }, (_, c) => {
        let sum = 0;
        for (let r = 0; r < rows * CONTEXT; r++) sum += m.data[r * VOCABULARY + c];
        return sum / (rows * CONTEXT);
      });
      return { z: mean(z), p: mean(p) };
    };
    const first = await means();
    await model.fit(data, { optimizer: new KBFGS({ lr: 0.3 }), epochs: 1, batchSize: rows });
    const second = await means();
    const state = (model as unknown as { handle: { exportState(): { buffers: Record<string, Float32Array> } } }).handle.exportState();
    const [sBar, yBar] = [state.buffers['layer5.s_bar'], state.buffers['layer5.y_bar']];
    // s̄ and ȳ are the same multiple of this step's s and y: compare each scaled by its s's size
    const s = first.z.map((v, c) => v - second.z[c]), y = first.p.map((v, c) => v - second.p[c]);
    const size = (v: ArrayLike<number>) => Array.from(v).reduce((t, x) => t + Math.abs(x), 0);
    expect(size(s)).toBeGreaterThan(1e-3);
    expect(maxDiff(Array.from(yBar, (v) => v / size(sBar)), y.map((v) => v / size(s)))).toBeLessThan(1e-3 * size(y) / size(s));
    model.dispose();
  });

  test("kfac: the output layer's G is the token rows' Fisher, (1/(m·S)) Σ (diag p − p pᵀ) in expectation", async () => {
    const model = noNorm();
    const p = await model.predict(data.x);  // softmax per token row at the weights the fit barely moves
    let want = 0;
    for (let r = 0; r < rows * CONTEXT; r++) {
      const row = p.data.slice(r * VOCABULARY, (r + 1) * VOCABULARY);
      want += (1 - row.reduce((s, v) => s + v * v, 0)) / (rows * CONTEXT);  // trace of diag p − p pᵀ
    }
    await model.fit(data, { optimizer: new KFAC({ lr: 1e-9 }), epochs: 40, batchSize: rows });
    const state = (model as unknown as { handle: { exportState(): { buffers: Record<string, Float32Array> } } }).handle.exportState();
    const G = state.buffers['layer5.G'];  // sampled targets: G's trace is an estimate of want
    let trace = 0;
    for (let c = 0; c < VOCABULARY; c++) trace += G[c * VOCABULARY + c];
    expect(Math.abs(trace / want - 1)).toBeLessThan(0.25);
    model.dispose();
  });
});

test('a tiny GPT (2 blocks, width 32, 2 heads, context 16) learns a byte sequence with Adam', async () => {
  const context = 16, width = 32;
  const text = Buffer.from('the quick brown fox jumps over the lazy dog. '.repeat(12));
  const rows = Math.floor((text.length - 1) / 4) - context;
  const x = new Int32Array(rows * context), y = new Int32Array(rows * context);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < context; t++) x[i * context + t] = text[4 * i + t], y[i * context + t] = text[4 * i + t + 1];
  const block = (): LayerConfig[] => [
    { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }] },
    { type: 'residual', layers: [{ type: 'layerNorm' }, { units: 4 * width, activation: 'gelu' }, { units: width }] },
  ];
  const model = new Sequential({
    inputDim: context, loss: 'softmaxCrossEntropy', seed: 1,
    layers: [{ type: 'embedding', vocabulary: 256, width }, ...block(), ...block(), { type: 'layerNorm' }, { units: 256 }],
  });
  const data = { x: { data: x, rows, cols: context }, y: { data: y, rows, cols: context } };
  const before = await model.evaluate(data);
  expect(before).toBeGreaterThan(4.5);  // about log 256 = 5.5 at the start
  const history = await model.fit(data, { optimizer: new Adam({ lr: 3e-3 }), epochs: 6, batchSize: 16, seed: 2 });
  const after = await model.evaluate(data);
  const losses = history.history.loss;
  expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  expect(after).toBeLessThan(0.5 * before);
  model.dispose();
});
