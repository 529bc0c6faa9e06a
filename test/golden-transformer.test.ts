// Golden trajectories of a tiny pre-norm transformer (docs/algorithm.md §18): the engine's K-BFGS, KFAC and AdamW
// (float32) against the float64 methods of test/reference/token-methods.ts over the token model's own forward
// and backward pass (transformer-reference.ts), step by step: every minibatch loss and the final weights, at the
// dense suite's tolerances (golden-harness.ts). The model: a vocabulary of 11, width 8, 2 heads, context 5; an
// embedding with positions, one block residual[layerNorm, attention], residual[layerNorm, dense 16 gelu, dense 8],
// a final layer norm and the output layer: 11 weighted layers, 3 of them layer norms.
import { AdamW, KBFGS, KFAC, Sequential, type LayerConfig } from '../lib';
import { seeded } from './helpers';
import { agreement, compare, LOSS_TOL, native, referenceWeights } from './reference/golden-harness';
import { tokenAdamw, tokenKbfgs, tokenKfac, type TokenProblem } from './reference/token-methods';
import { tokenBackward, tokenForward, tokenLoss, tokenNet, tokenPass } from './reference/transformer-reference';

const VOCABULARY = 11, WIDTH = 8, CONTEXT = 5, ROWS = 24, BATCH = 8;

function setup(causal = true) {
  const layers: LayerConfig[] = [
    { type: 'embedding', vocabulary: VOCABULARY, width: WIDTH },
    { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }] },
    { type: 'residual', layers: [{ type: 'layerNorm' }, { units: 2 * WIDTH, activation: 'gelu' }, { units: WIDTH }] },
    { type: 'layerNorm' }, { units: VOCABULARY },
  ];
  const model = new Sequential({ inputDim: CONTEXT, loss: 'softmaxCrossEntropy', seed: 17, layers });
  // A stream with structure to learn (each id mostly follows from the one before) and noise; sequence i reads
  // ids i·S .. i·S + S − 1 and predicts the next id at every position.
  const rnd = seeded(29), stream = [3];
  for (let k = 1; k <= ROWS * CONTEXT; k++) stream.push(rnd() < 0.7 ? (3 * stream[k - 1] + 1) % VOCABULARY : Math.floor(rnd() * VOCABULARY));
  const x = Int32Array.from(stream.slice(0, ROWS * CONTEXT)), y = Int32Array.from(stream.slice(1));
  const data = { x: { data: x, rows: ROWS, cols: CONTEXT }, y: { data: y, rows: ROWS, cols: CONTEXT } };
  const problem: TokenProblem = { net: tokenNet(model.layers, CONTEXT, { causal }), W: referenceWeights(model), x, y, rows: ROWS, batch: BATCH };
  return { model, data, problem };
}

describe('the float64 token model', () => {
  // The oracle's own backward pass against central differences of its own loss, in float64: every weight, and
  // ∂ℓ_i/∂h of the statistics through the weight gradients ((1/m) Σ g āᵀ).
  test('its gradients match central differences of its loss', () => {
    const { problem } = setup();
    const ids = Array.from(problem.x).slice(0, 2 * CONTEXT), targets = Array.from(problem.y).slice(0, 2 * CONTEXT);
    const W = problem.W.map((w, l) => ({ ...w, a: w.a.map((v, i) => v + 0.3 * Math.sin(7 * l + i)) }));  // gains away from 1, biases from 0
    const { grads } = tokenPass(problem.net, W, ids, targets);
    const h = 1e-6;
    let worst = 0;
    W.forEach((w, l) => w.a.forEach((v, i) => {
      const lossAt = (delta: number) => {
        w.a[i] = v + delta;
        const loss = tokenLoss(tokenForward(problem.net, W, ids).logits, targets, CONTEXT).loss;
        w.a[i] = v;
        return loss;
      };
      worst = Math.max(worst, Math.abs(grads[l].a[i] - (lossAt(h) - lossAt(-h)) / (2 * h)));
    }));
    expect(worst).toBeLessThan(1e-8);
  });

  test('the statistics are those of the m·S token rows: g of the output layer is (softmax − onehot)/S', () => {
    const { problem } = setup();
    const ids = Array.from(problem.x).slice(0, 2 * CONTEXT), targets = Array.from(problem.y).slice(0, 2 * CONTEXT);
    const forward = tokenForward(problem.net, problem.W, ids);
    const { dz } = tokenLoss(forward.logits, targets, CONTEXT);
    const { g, abar } = tokenBackward(forward, dz);
    expect(g[g.length - 1]!.rows).toBe(2 * CONTEXT);
    expect(Array.from(g[g.length - 1]!.a)).toEqual(Array.from(dz.a));
    expect(abar[0]!.cols).toBe(VOCABULARY + CONTEXT + 1);
    expect([1, 4, 7].map((l) => g[l])).toEqual([null, null, null]);  // the layer norms keep none
  });
});

describe('golden trajectories of a tiny transformer, 24 sequences of 5 tokens, batch 8', () => {
  test('K-BFGS (α = 0.3, λ = 0.3)', async () => {
    const { model, data, problem } = setup();
    const want = tokenKbfgs(problem, 0.3, 0.3, 9);
    const got = await native(model, data, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 9);
    compare(got, want, problem.W, 9);
    expect(got.counts).toEqual(want.counts);
  });

  test('KFAC (α = 0.3, λ = 0.3) with targets drawn from the softmax of every token row', async () => {
    const { model, data, problem } = setup();
    compare(await native(model, data, BATCH, new KFAC({ lr: 0.3, damping: 0.3, seed: 5 }), 9), tokenKfac(problem, 0.3, 0.3, 9, 5), problem.W, 9);
  });

  // The trace split (algorithm.md §5.2): here tr(A)/n and tr(G)/d differ by orders of magnitude in every block,
  // as in the text problem's GPT; the layer norms (no statistics) keep π = 1. The even reference must not match.
  test('KFAC with the trace damping split (α = 0.3, λ = 0.01)', async () => {
    const { model, data, problem } = setup();
    const got = await native(model, data, BATCH, new KFAC({ lr: 0.3, damping: 0.01, seed: 5, dampingSplit: 'trace' }), 9);
    compare(got, tokenKfac(problem, 0.3, 0.01, 9, 5, 'trace'), problem.W, 9);
    expect(agreement(got, tokenKfac(problem, 0.3, 0.01, 9, 5), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });

  // The key projection's biases have a zero gradient: adding b to every key adds q_t·b to all of a query's
  // scores, which the softmax ignores. So their gradient is rounding noise (about 1e-10 in float32, 1e-17 in
  // float64), and Adam's division by √v turns noise into steps of size α, in directions that differ between
  // the engine and the reference (with ε = 1e-8 the weights end 1e-3 apart); ε = 1e-4 keeps them near 1e-8 per step
  // and barely changes the others (the median gradient is about 1e-2).
  test('AdamW (α = 0.01, λ = 0.1, ε = 1e-4)', async () => {
    const { model, data, problem } = setup();
    const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-4, weightDecay: 0.1 };
    const want = tokenAdamw(problem, o, 9);
    compare(await native(model, data, BATCH, new AdamW(o), 9), want, problem.W, 9);
    const { grads } = tokenPass(problem.net, problem.W, Array.from(problem.x).slice(0, BATCH * CONTEXT), Array.from(problem.y).slice(0, BATCH * CONTEXT));
    const keyBiases = Array.from({ length: WIDTH }, (_, i) => grads[2].a[(WIDTH + i) * (WIDTH + 1) + WIDTH]);  // layer 2: q|k|v
    expect(Math.max(...keyBiases.map(Math.abs))).toBeLessThan(1e-15);
  });

  test('sensitivity: the references with another λ, or without the causal mask, do not match', async () => {
    const { model, data, problem } = setup();
    const got = await native(model, data, BATCH, new KBFGS({ lr: 0.3, damping: 0.3 }), 9);
    expect(agreement(got, tokenKbfgs(problem, 0.3, 0.303, 9), problem.W).loss).toBeGreaterThan(LOSS_TOL);
    expect(agreement(got, tokenKbfgs(setup(false).problem, 0.3, 0.3, 9), problem.W).loss).toBeGreaterThan(LOSS_TOL);
  });
});
