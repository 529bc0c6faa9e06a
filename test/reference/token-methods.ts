/**
 * K-BFGS, KFAC and AdamW on token models in float64 (docs/algorithm.md §18.6, §3, §5, §15.1), over the forward
 * and backward pass of transformer-reference.ts, for the golden trajectories of test/golden-transformer.test.ts.
 * The methods are those of spec-reference.ts with the token rows as samples ("expand"): every linear map applied
 * per token counts the m·S token rows of a batch as its samples, so A = (1/(m·S)) Σ ā āᵀ,
 * G = (1/(m·S)) Σ (S g)(S g)ᵀ, and K-BFGS's pair is s = h̄(θ_k) − h̄(θ_{k+1}), y = S (ḡ(θ_k) − ḡ(θ_{k+1})), the
 * means over the token rows. A layer norm's block keeps no statistics: KFAC's A and G stay 0 (its direction is
 * M/λ), K-BFGS's H_g stays I and its H_a is (√λ I)⁻¹ (M/√λ).
 */
import {
  addDiag, bfgs, blend, clipGradient, clone, colMean, dot, doubleDamping, eye, gram, inverse, matrix, matvec, mix, momentum, mul,
  kfacDamped, uniformAt, type DampingSplit, type Mat, type Problem, type Trajectory,
} from './spec-reference';
import { softmax, tokenBackward, tokenPass, type TokenForward, type TokenNet } from './transformer-reference';

/** `rows` sequences of token ids x and next-token targets y (rows·S each), taken in batches of `batch` in stored order. */
export interface TokenProblem {
  net: TokenNet; W: Mat[]; x: ArrayLike<number>; y: ArrayLike<number>; rows: number; batch: number;
  /** As in spec-reference.ts' Problem: τ (default 1e-5), float32 storage of the weights, the step rules of §15. */
  tau?: number; float32Weights?: boolean; clipNorm?: number; lrFactor?: (k: number) => number;
}

const NO_COUNTS = { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 };
const stepLr = (problem: TokenProblem, lr: number, k: number) => lr * (problem.lrFactor ? problem.lrFactor(k) : 1);
const keep = (problem: TokenProblem, W: Mat[]) => (problem.float32Weights ? W.map((w) => ({ ...w, a: w.a.map(Math.fround) })) : W);
/** The same run with its weights stored in float32 (golden-harness.ts' sensitivity). */
const rerunOf = (problem: TokenProblem, run: (p: TokenProblem) => Trajectory) =>
  (changes: Partial<Problem>) => run({ ...problem, float32Weights: changes.float32Weights ?? problem.float32Weights });

/** Batch b (cyclically, algorithm.md §2.1 without shuffling): the ids and the targets of its m sequences. */
function batchOf(problem: TokenProblem, b: number) {
  const span = problem.batch * problem.net.tokens, start = (b % Math.floor(problem.rows / problem.batch)) * span;
  return { ids: Array.prototype.slice.call(problem.x, start, start + span), targets: Array.prototype.slice.call(problem.y, start, start + span) };
}
const passAt = (problem: TokenProblem, W: Mat[], b: number) => {
  const { ids, targets } = batchOf(problem, b);
  return tokenPass(problem.net, W, ids, targets);
};
const step = (W: Mat[], delta: Mat[], alpha: number) => W.map((w, l) => ({ ...w, a: w.a.map((v, i) => v - alpha * delta[l].a[i]) }));

/** K-BFGS (algorithm.md §3.3) with the token rows as samples (§18.6). */
export function tokenKbfgs(problem: TokenProblem, lr: number, lambda: number, steps: number): Trajectory {
  const { net } = problem, S = net.tokens, m = problem.batch, count = Math.floor(problem.rows / m);
  const sq = Math.sqrt(lambda), tau = problem.tau ?? 1e-5, curved = (l: number) => !net.layerNorm[l];
  const counts = { ...NO_COUNTS };
  let W = problem.W.map(clone);
  // warm start of A over one epoch at θ₀ (§3.2), the mean over each batch's m·S token rows
  let A = W.map((w) => matrix(w.cols, w.cols));
  for (let j = 1; j <= count; j++) {
    const p = passAt(problem, W, j - 1);
    A = A.map((Al, l) => (curved(l) ? blend(Al, gram(p.abar[l]!, m * S), (j - 1) / j, 1 / j) : Al));
  }
  const Hg = W.map((w) => eye(w.rows));
  let Ha: Mat[] = [];
  const sbar = W.map((w) => new Float64Array(w.rows)), ybar = W.map((w) => new Float64Array(w.rows));
  let M = W.map((w) => matrix(w.rows, w.cols));
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const p = passAt(problem, W, count + k);
    losses.push(p.loss);
    M = momentum(M, clipGradient(p.grads, problem.clipNorm).grads, W, tau);
    if (k > 0) A = A.map((Al, l) => (curved(l) ? blend(Al, gram(p.abar[l]!, m * S), 0.9, 0.1) : Al));
    const Alm = A.map((Al) => addDiag(Al, sq));
    if (k === 0) Ha = Alm.map(inverse);
    const Wnew = step(W, M.map((Ml, l) => mul(mul(Hg[l], Ml), Ha[l])), stepLr(problem, lr, k));
    const p2 = passAt(problem, Wnew, count + k);
    for (let l = 0; l < W.length; l++) {
      if (!curved(l)) continue;
      const gMean = colMean(p.g[l]!), gNext = colMean(p2.g[l]!), hNext = colMean(p2.h[l]!);
      const s = colMean(p.h[l]!).map((v, i) => v - hNext[i]);
      const y = gMean.map((v, i) => S * (v - gNext[i]));  // a token row's loss gradient is S g
      sbar[l] = sbar[l].map((v, i) => 0.9 * v + 0.1 * s[i]);
      ybar[l] = ybar[l].map((v, i) => 0.9 * v + 0.1 * y[i]);
      const damped = doubleDamping((v) => matvec(Hg[l], v), sbar[l], ybar[l], sq);
      counts.powell += +damped.powell;
      counts.lm += +damped.lm;
      // the skip rule's reference vector is ḡ as the engine keeps it, without the factor S (§3.5)
      const hg = bfgs(Hg[l], damped.s, damped.y, Math.sqrt(dot(gMean, gMean)));
      Hg[l] = hg.H;
      counts.hgSkipped += +!hg.updated;
      const u = colMean(p.abar[l]!), sa = matvec(Ha[l], u);
      const ha = bfgs(Ha[l], sa, matvec(Alm[l], sa), Math.sqrt(dot(u, u)));
      Ha[l] = ha.H;
      counts.haSkipped += +!ha.updated;
    }
    W = keep(problem, Wnew);
  }
  return { batchLosses: losses, W, counts, rerun: rerunOf(problem, (q) => tokenKbfgs(q, lr, lambda, steps)) };
}

/**
 * KFAC (algorithm.md §5) with the token rows as samples (§18.6): call c draws with seed mix(seed + c), token row r
 * of the batch takes the class at which the cumulative softmax first exceeds uniform 2·r·V of the call.
 */
export function tokenKfac(problem: TokenProblem, lr: number, lambda: number, steps: number, seed = 0,
  dampingSplit: DampingSplit = 'even'): Trajectory {
  const { net } = problem, S = net.tokens, m = problem.batch, count = Math.floor(problem.rows / m);
  const sq = Math.sqrt(lambda), tau = problem.tau ?? 1e-5, curved = (l: number) => !net.layerNorm[l];
  let draws = 0;
  const sampledG = (forward: TokenForward) => {
    const callSeed = mix((BigInt(seed) + BigInt(draws++)) & ((1n << 64n) - 1n)), z = forward.logits, V = z.cols;
    const dz = matrix(z.rows, V);
    for (let r = 0; r < z.rows; r++) {
      const p = softmax(z.a.subarray(r * V, (r + 1) * V)), u = uniformAt(callSeed, 2 * r * V);
      let pick = V - 1;
      for (let j = 0, cdf = 0; j < V; j++) if (u < (cdf += p[j])) { pick = j; break; }
      p.forEach((v, c) => (dz.a[r * V + c] = (v - (c === pick ? 1 : 0)) / S));
    }
    return tokenBackward(forward, dz).g;
  };
  let W = problem.W.map(clone);
  let A = W.map((w) => matrix(w.cols, w.cols)), G = W.map((w) => matrix(w.rows, w.rows));
  // A over the m·S token rows; G = (1/(m·S)) Σ (S g)(S g)ᵀ = (S/m) Σ g gᵀ
  const blendFactors = (p: ReturnType<typeof passAt>, keepOld: number, add: number) => {
    const g = sampledG(p.forward);
    A = A.map((Al, l) => (curved(l) ? blend(Al, gram(p.abar[l]!, m * S), keepOld, add) : Al));
    G = G.map((Gl, l) => (curved(l) ? blend(Gl, gram(g[l]!, m / S), keepOld, add) : Gl));
  };
  for (let j = 1; j <= count; j++) blendFactors(passAt(problem, W, j - 1), (j - 1) / j, 1 / j);
  let M = W.map((w) => matrix(w.rows, w.cols));
  let Ainv: Mat[] = [], Ginv: Mat[] = [];
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const p = passAt(problem, W, count + k);
    losses.push(p.loss);
    M = momentum(M, clipGradient(p.grads, problem.clipNorm).grads, W, tau);
    blendFactors(p, 0.9, 0.1);
    if (k <= 20 || k % 20 === 0) {
      const damped = A.map((Al, l) => kfacDamped(Al, G[l], sq, dampingSplit));
      Ainv = damped.map(([Ad]) => inverse(Ad));
      Ginv = damped.map(([, Gd]) => inverse(Gd));
    }
    W = keep(problem, step(W, M.map((Ml, l) => mul(mul(Ginv[l], Ml), Ainv[l])), stepLr(problem, lr, k)));
  }
  return { batchLosses: losses, W, counts: NO_COUNTS, rerun: rerunOf(problem, (q) => tokenKfac(q, lr, lambda, steps, seed, dampingSplit)) };
}

/** AdamW (algorithm.md §15.1) on a token model, batches in stored order from the first (no warm start). */
export function tokenAdamw(problem: TokenProblem, o: { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number }, steps: number): Trajectory {
  let W = problem.W.map(clone);
  const m1 = W.map((w) => new Float64Array(w.a.length)), m2 = W.map((w) => new Float64Array(w.a.length));
  const losses: number[] = [];
  let clippedSteps = 0;
  for (let k = 0; k < steps; k++) {
    const p = passAt(problem, W, k);
    losses.push(p.loss);
    const { grads, clipped } = clipGradient(p.grads, problem.clipNorm);
    clippedSteps += +clipped;
    const alpha = stepLr(problem, o.lr, k), t = k + 1;
    W = keep(problem, W.map((w, l) => ({
      ...w,
      a: w.a.map((theta, i) => {
        const g = grads[l].a[i];
        m1[l][i] = o.beta1 * m1[l][i] + (1 - o.beta1) * g;
        m2[l][i] = o.beta2 * m2[l][i] + (1 - o.beta2) * g * g;
        return theta * (1 - alpha * o.weightDecay) - alpha * (m1[l][i] / (1 - o.beta1 ** t)) / (Math.sqrt(m2[l][i] / (1 - o.beta2 ** t)) + o.epsilon);
      }),
    })));
  }
  return { batchLosses: losses, W, counts: NO_COUNTS, clippedSteps, rerun: rerunOf(problem, (q) => tokenAdamw(q, o, steps)) };
}
