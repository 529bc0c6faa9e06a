/**
 * An independent float64 forward and backward pass of token models (docs/algorithm.md §18), written from that
 * text in plain TypeScript, sharing no code with the native engine: the layer configs of lib/layers.ts with their
 * defaults filled (model.layers) and the weights as the reference holds them (golden-harness.ts: per layer
 * units x (inputs + 1), the bias last; a layer norm's [gain | bias]). Small sizes only. Dropout is the identity
 * (evaluation).
 *
 * A batch is m samples of S token ids; inside, a tensor is m·S rows (sample by sample), as in the engine. What a
 * pass keeps per weighted layer is what the curvature methods read (§18.6): the input rows ā, the pre-activations
 * h and their gradients g = ∂ℓ_i/∂h (ℓ_i the sample's mean over positions, §18.1), none for a layer norm.
 */
import type { LayerConfig, LayerWeights } from '../../lib';
import { referenceWeights } from './golden-harness';
import { matrix, mul, type Mat } from './spec-reference';

const GELU_SCALE = Math.sqrt(2 / Math.PI), GELU_CUBIC = 0.044715, NORM_EPSILON = 1e-5;
const activations: Record<string, { f: (h: number) => number; df: (h: number) => number }> = {
  linear: { f: (h) => h, df: () => 1 },
  relu: { f: (h) => Math.max(h, 0), df: (h) => (h > 0 ? 1 : 0) },
  tanh: { f: Math.tanh, df: (h) => 1 - Math.tanh(h) ** 2 },
  sigmoid: { f: (h) => 1 / (1 + Math.exp(-h)), df: (h) => Math.exp(-h) / (1 + Math.exp(-h)) ** 2 },
  gelu: {
    f: (h) => 0.5 * h * (1 + Math.tanh(GELU_SCALE * (h + GELU_CUBIC * h ** 3))),
    df: (h) => {
      const t = Math.tanh(GELU_SCALE * (h + GELU_CUBIC * h ** 3));
      return 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * GELU_SCALE * (1 + 3 * GELU_CUBIC * h * h);
    },
  },
};

/** One step of the network as the engine stacks it (lib/layers.ts' NativeLayer list); `l` numbers the weighted ones. */
type Op =
  | { kind: 'embedding'; l: number; vocabulary: number; positional: boolean }
  | { kind: 'dense'; l: number; activation: string }
  | { kind: 'layerNorm'; l: number }
  | { kind: 'attention'; heads: number; causal: boolean }
  | { kind: 'residualStart' | 'residualEnd' | 'identity' };

/** A token model: its steps, which weighted layers are layer norms (no curvature statistics, §18.6), S. */
export interface TokenNet { ops: Op[]; layerNorm: boolean[]; tokens: number }
/** `causal: false` takes the mask out of every attention (for tests that show it matters). */
export interface ReferenceOptions { causal?: boolean }

/** The token model of these layer configs (model.layers) over sequences of `tokens` ids. */
export function tokenNet(layers: ReadonlyArray<LayerConfig>, tokens: number, options: ReferenceOptions = {}): TokenNet {
  const ops: Op[] = [], layerNorm: boolean[] = [];
  const weighted = (norm: boolean) => (layerNorm.push(norm), layerNorm.length - 1);
  const add = (configs: ReadonlyArray<LayerConfig>) => configs.forEach((config) => {
    const c = config as { type?: string; vocabulary: number; positional: boolean; activation: string; heads: number; layers: LayerConfig[] };
    switch (c.type ?? 'dense') {
      case 'embedding': ops.push({ kind: 'embedding', l: weighted(false), vocabulary: c.vocabulary, positional: c.positional }); break;
      case 'dense': ops.push({ kind: 'dense', l: weighted(false), activation: c.activation }); break;
      case 'layerNorm': ops.push({ kind: 'layerNorm', l: weighted(true) }); break;
      case 'attention':  // the q|k|v projection, the attention, the output projection (§18.4)
        ops.push({ kind: 'dense', l: weighted(false), activation: 'linear' }, { kind: 'attention', heads: c.heads, causal: options.causal ?? true },
          { kind: 'dense', l: weighted(false), activation: 'linear' });
        break;
      case 'residual': ops.push({ kind: 'residualStart' }); add(c.layers); ops.push({ kind: 'residualEnd' }); break;
      case 'dropout': ops.push({ kind: 'identity' }); break;
      default: throw new Error(`no reference for ${c.type}`);
    }
  });
  add(layers);
  return { ops, layerNorm, tokens };
}

/** What backward needs of one step's forward. */
interface Saved { abar?: Mat; h?: Mat; xhat?: Mat; invStd?: Float64Array; input?: Mat; P?: Float64Array[] }

/** A forward pass over m samples: the logits (m·S rows) and what backward and the curvature methods read. */
export interface TokenForward { net: TokenNet; W: Mat[]; m: number; logits: Mat; saved: Saved[] }

/** A matrix made row by row from the rows of X. */
function rowsOf(X: Mat, f: (row: Float64Array, r: number) => Float64Array): Mat {
  const rows = Array.from({ length: X.rows }, (_, r) => f(X.a.subarray(r * X.cols, (r + 1) * X.cols), r));
  const out = matrix(X.rows, rows[0].length);
  rows.forEach((row, r) => out.a.set(row, r * out.cols));
  return out;
}
/** [X | 1]: the input rows with their homogeneous coordinate (§1). */
const withOne = (X: Mat) => rowsOf(X, (row) => Float64Array.from([...row, 1]));

export function tokenForward(net: TokenNet, W: Mat[], ids: ArrayLike<number>): TokenForward {
  const S = net.tokens, m = ids.length / S;
  const saved: Saved[] = [], starts: Mat[] = [];
  let x = matrix(0, 0);  // the embedding reads the ids
  for (const op of net.ops) {
    const keep: Saved = {};
    saved.push(keep);
    switch (op.kind) {
      case 'embedding': {  // the dense map of the two-hot row [onehot(v) | onehot(t) | 1] (§18.1)
        const n = W[op.l].cols, A = matrix(m * S, n);
        for (let r = 0; r < m * S; r++) {
          A.a[r * n + ids[r]] = 1;
          if (op.positional) A.a[r * n + op.vocabulary + (r % S)] = 1;
          A.a[r * n + n - 1] = 1;
        }
        keep.abar = A;
        keep.h = x = mul(A, W[op.l], false, true);
        break;
      }
      case 'dense': {
        keep.abar = withOne(x);
        keep.h = mul(keep.abar, W[op.l], false, true);
        x = { ...keep.h, a: keep.h.a.map(activations[op.activation].f) };
        break;
      }
      case 'layerNorm': {  // §18.2
        const w = W[op.l], invStd = new Float64Array(x.rows);
        keep.xhat = rowsOf(x, (row, r) => {
          const mean = row.reduce((s, v) => s + v, 0) / row.length;
          invStd[r] = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length + NORM_EPSILON);
          return row.map((v) => (v - mean) * invStd[r]);
        });
        keep.invStd = invStd;
        x = rowsOf(keep.xhat, (row) => row.map((v, c) => w.a[2 * c] * v + w.a[2 * c + 1]));
        break;
      }
      case 'attention': {  // §18.4, per sample and head
        const width = x.cols / 3, dh = width / op.heads, out = matrix(m * S, width);
        keep.input = x;
        keep.P = [];
        const at = (i: number, t: number, part: number, h: number, d: number) => x.a[(i * S + t) * x.cols + part * width + h * dh + d];
        for (let i = 0; i < m; i++)
          for (let h = 0; h < op.heads; h++) {
            const P = new Float64Array(S * S);
            for (let t = 0; t < S; t++) {
              const visible = op.causal ? t + 1 : S;
              const scores = Array.from({ length: visible }, (_, s) => {
                let dot = 0;
                for (let d = 0; d < dh; d++) dot += at(i, t, 0, h, d) * at(i, s, 1, h, d);
                return dot / Math.sqrt(dh);
              });
              const top = Math.max(...scores), e = scores.map((v) => Math.exp(v - top)), sum = e.reduce((a, b) => a + b, 0);
              for (let s = 0; s < visible; s++) {
                P[t * S + s] = e[s] / sum;
                for (let d = 0; d < dh; d++) out.a[(i * S + t) * width + h * dh + d] += P[t * S + s] * at(i, s, 2, h, d);
              }
            }
            keep.P.push(P);
          }
        x = out;
        break;
      }
      case 'residualStart': starts.push(x); break;
      case 'residualEnd': { const skipped = starts.pop()!; x = { ...x, a: x.a.map((v, i) => v + skipped.a[i]) }; break; }
      case 'identity': break;
    }
  }
  return { net, W, m, logits: x, saved };
}

/** Per-token softmax cross-entropy against target ids: the mean over the m·S tokens, and ∂ℓ_i/∂z = (p − onehot)/S (§18.1). */
export function tokenLoss(logits: Mat, targets: ArrayLike<number>, tokens: number): { loss: number; dz: Mat } {
  const V = logits.cols, dz = matrix(logits.rows, V);
  let total = 0;
  for (let r = 0; r < logits.rows; r++) {
    const p = softmax(logits.a.subarray(r * V, (r + 1) * V));
    total -= Math.log(p[targets[r]]);
    p.forEach((v, c) => (dz.a[r * V + c] = (v - (c === targets[r] ? 1 : 0)) / tokens));
  }
  return { loss: total / logits.rows, dz };
}

export function softmax(z: ArrayLike<number>): Float64Array {
  const top = Math.max(...Array.from(z)), e = Float64Array.from(z, (v) => Math.exp(v - top)), sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The statistics of every weighted layer (null for a layer norm) and the mean-loss weight gradients. */
export interface TokenBackward { abar: Array<Mat | null>; h: Array<Mat | null>; g: Array<Mat | null>; grads: Mat[] }

/** Backward from ∂ℓ_i/∂z of the logits through every step (§18.2-§18.5). */
export function tokenBackward(pass: TokenForward, dz: Mat): TokenBackward {
  const { net, W, m, saved } = pass, S = net.tokens, L = W.length;
  const out: TokenBackward = { abar: new Array(L).fill(null), h: new Array(L).fill(null), g: new Array(L).fill(null), grads: new Array(L) };
  const skipped: Mat[] = [];
  let dx = dz;
  for (let k = net.ops.length - 1; k >= 0; k--) {
    const op = net.ops[k], keep = saved[k];
    switch (op.kind) {
      case 'embedding':
      case 'dense': {
        const df = op.kind === 'dense' ? activations[op.activation].df : activations.linear.df;
        const g = { ...dx, a: dx.a.map((v, i) => v * df(keep.h!.a[i])) };
        out.abar[op.l] = keep.abar!;
        out.h[op.l] = keep.h!;
        out.g[op.l] = g;
        const grad = mul(g, keep.abar!, true, false);
        out.grads[op.l] = { ...grad, a: grad.a.map((v) => v / m) };
        const full = mul(g, W[op.l]);  // the bias column is not an input
        dx = rowsOf(full, (row) => row.slice(0, full.cols - 1));
        break;
      }
      case 'layerNorm': {
        const w = W[op.l], xhat = keep.xhat!, grad = matrix(w.rows, 2);
        for (let r = 0; r < dx.rows; r++)
          for (let c = 0; c < dx.cols; c++) {
            grad.a[2 * c] += dx.a[r * dx.cols + c] * xhat.a[r * dx.cols + c] / m;
            grad.a[2 * c + 1] += dx.a[r * dx.cols + c] / m;
          }
        out.grads[op.l] = grad;
        dx = rowsOf(dx, (row, r) => {
          const d = row.map((v, c) => w.a[2 * c] * v), xr = xhat.a.subarray(r * row.length, (r + 1) * row.length);
          const meanD = d.reduce((s, v) => s + v, 0) / d.length, meanDx = d.reduce((s, v, c) => s + v * xr[c], 0) / d.length;
          return d.map((v, c) => keep.invStd![r] * (v - meanD - xr[c] * meanDx));
        });
        break;
      }
      case 'attention': {
        const x = keep.input!, width = x.cols / 3, dh = width / op.heads, din = matrix(x.rows, x.cols);
        const at = (M: Mat, i: number, t: number, part: number, h: number, d: number) => (i * S + t) * M.cols + part * width + h * dh + d;
        for (let i = 0; i < m; i++)
          for (let h = 0; h < op.heads; h++) {
            const P = keep.P![i * op.heads + h];
            for (let t = 0; t < S; t++) {
              const visible = op.causal ? t + 1 : S;
              // D_ts = ∂ℓ/∂o_t · v_s; ∂ℓ/∂v_s += P_ts ∂ℓ/∂o_t; ∂ℓ/∂s_ts = P_ts (D_ts − Σ_s' P_ts' D_ts')
              const D = Array.from({ length: visible }, (_, s) => {
                let dot = 0;
                for (let d = 0; d < dh; d++) {
                  const o = dx.a[(i * S + t) * width + h * dh + d];
                  dot += o * x.a[at(x, i, s, 2, h, d)];
                  din.a[at(din, i, s, 2, h, d)] += P[t * S + s] * o;
                }
                return dot;
              });
              const mean = D.reduce((sum, v, s) => sum + P[t * S + s] * v, 0);
              for (let s = 0; s < visible; s++) {
                const dS = (P[t * S + s] * (D[s] - mean)) / Math.sqrt(dh);
                for (let d = 0; d < dh; d++) {
                  din.a[at(din, i, t, 0, h, d)] += dS * x.a[at(x, i, s, 1, h, d)];
                  din.a[at(din, i, s, 1, h, d)] += dS * x.a[at(x, i, t, 0, h, d)];
                }
              }
            }
          }
        dx = din;
        break;
      }
      case 'residualEnd': skipped.push(dx); break;  // to the block's layers, and past them to its start
      case 'residualStart': { const skip = skipped.pop()!; dx = { ...dx, a: dx.a.map((v, i) => v + skip.a[i]) }; break; }
      case 'identity': break;
    }
  }
  return out;
}

/** Loss, gradients and statistics of a batch with its true targets. */
export function tokenPass(net: TokenNet, W: Mat[], ids: ArrayLike<number>, targets: ArrayLike<number>) {
  const forward = tokenForward(net, W, ids);
  const { loss, dz } = tokenLoss(forward.logits, targets, net.tokens);
  return { forward, loss, ...tokenBackward(forward, dz) };
}

/** Logits of one sample (tokens rows of classes) from its ids; `weights` in getWeights order. */
export function referenceLogits(layers: ReadonlyArray<LayerConfig>, weights: LayerWeights[], ids: ArrayLike<number>,
  options: ReferenceOptions = {}): Float64Array[] {
  const { logits } = tokenForward(tokenNet(layers, ids.length, options), referenceWeights(weights), ids);
  return Array.from({ length: logits.rows }, (_, t) => logits.a.slice(t * logits.cols, (t + 1) * logits.cols));
}

/** Mean over samples and positions of −log softmax(logits)[target] (docs/algorithm.md §18.1). */
export function referenceLoss(layers: ReadonlyArray<LayerConfig>, weights: LayerWeights[], x: ArrayLike<number>,
  y: ArrayLike<number>, rows: number, options: ReferenceOptions = {}): number {
  const net = tokenNet(layers, x.length / rows, options);
  return tokenLoss(tokenForward(net, referenceWeights(weights), x).logits, y, net.tokens).loss;
}
