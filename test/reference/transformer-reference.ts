/**
 * An independent float64 forward pass and loss of token models (docs/algorithm.md §18), written from that text in
 * plain TypeScript, sharing no code with the native engine: the layer configs of lib/layers.ts with their
 * defaults filled (model.layers) and the weights as getWeights() gives them. Small sizes only. Dropout is the
 * identity (evaluation).
 */
import type { LayerConfig, LayerWeights } from '../../lib';

type Rows = Float64Array[];  // one row per token of one sample

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const activations: Record<string, (h: number) => number> = {
  linear: (h) => h,
  relu: (h) => Math.max(h, 0),
  tanh: Math.tanh,
  sigmoid: (h) => 1 / (1 + Math.exp(-h)),
  gelu: (h) => 0.5 * h * (1 + Math.tanh(GELU_SCALE * (h + 0.044715 * h ** 3))),
};

/** y = W x + b per row; W is units x inputs row-major. */
function affine(rows: Rows, w: LayerWeights, activation = 'linear'): Rows {
  const units = w.bias.length, inputs = w.weight.length / units;
  return rows.map((x) => Float64Array.from({ length: units }, (_, u) => {
    let s = w.bias[u];
    for (let k = 0; k < inputs; k++) s += w.weight[u * inputs + k] * x[k];
    return activations[activation](s);
  }));
}

function layerNorm(rows: Rows, w: LayerWeights): Rows {
  return rows.map((x) => {
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    return x.map((v, c) => w.weight[c] * (v - mean) / Math.sqrt(variance + 1e-5) + w.bias[c]);
  });
}

function causalAttention(rows: Rows, heads: number, qkv: LayerWeights, out: LayerWeights, causal: boolean): Rows {
  const width = rows[0].length, dh = width / heads, T = rows.length;
  const p = affine(rows, qkv);
  const mixed = rows.map(() => new Float64Array(width));
  for (let h = 0; h < heads; h++)
    for (let t = 0; t < T; t++) {
      const visible = causal ? t + 1 : T;
      const scores = Array.from({ length: visible }, (_, s) => {
        let dot = 0;
        for (let d = 0; d < dh; d++) dot += p[t][h * dh + d] * p[s][width + h * dh + d];
        return dot / Math.sqrt(dh);
      });
      const top = Math.max(...scores);
      const e = scores.map((v) => Math.exp(v - top));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let s = 0; s < visible; s++)
        for (let d = 0; d < dh; d++) mixed[t][h * dh + d] += (e[s] / sum) * p[s][2 * width + h * dh + d];
    }
  return affine(mixed, out);
}

export interface ReferenceOptions { causal?: boolean }

/** Logits of one sample (tokens rows of classes) from its ids; `weights` is consumed in getWeights order. */
export function referenceLogits(layers: ReadonlyArray<LayerConfig>, weights: LayerWeights[], ids: ArrayLike<number>,
  options: ReferenceOptions = {}): Rows {
  const queue = [...weights];
  const run = (configs: ReadonlyArray<LayerConfig>, input: Rows): Rows => configs.reduce<Rows>((x, config) => {
    switch (config.type ?? 'dense') {
      case 'embedding': {
        const c = config as { vocabulary: number; positional: boolean };
        const w = queue.shift()!;
        const width = w.bias.length, inputs = w.weight.length / width;
        return Array.from(ids, (id, t) => Float64Array.from({ length: width }, (_, u) =>
          w.weight[u * inputs + id] + (c.positional ? w.weight[u * inputs + c.vocabulary + t] : 0) + w.bias[u]));
      }
      case 'dense': return affine(x, queue.shift()!, (config as { activation: string }).activation);
      case 'layerNorm': return layerNorm(x, queue.shift()!);
      case 'attention': {
        const qkv = queue.shift()!, out = queue.shift()!;
        return causalAttention(x, (config as { heads: number }).heads, qkv, out, options.causal ?? true);
      }
      case 'residual': {
        const inner = run((config as { layers: LayerConfig[] }).layers, x);
        return x.map((row, t) => row.map((v, c) => v + inner[t][c]));
      }
      case 'dropout': return x;
      default: throw new Error(`no reference for ${config.type}`);
    }
  }, input);
  return run(layers, []);
}

/** Mean over samples and positions of −log softmax(logits)[target] (docs/algorithm.md §18.1). */
export function referenceLoss(layers: ReadonlyArray<LayerConfig>, weights: LayerWeights[], x: ArrayLike<number>,
  y: ArrayLike<number>, rows: number, options: ReferenceOptions = {}): number {
  const T = x.length / rows;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const logits = referenceLogits(layers, weights, Array.prototype.slice.call(x, i * T, (i + 1) * T), options);
    logits.forEach((z, t) => {
      const top = Math.max(...z);
      const logSum = top + Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0));
      total += logSum - z[y[i * T + t]];
    });
  }
  return total / (rows * T);
}
