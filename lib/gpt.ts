/**
 * The layers of a GPT (docs/algorithm.md §18): a token and learned positional embedding, `blocks` pre-norm
 * blocks, a final layer norm and a dense map to the vocabulary's logits. Each block is
 *   x + attention(layerNorm(x)), then x + mlp(layerNorm(x)) with mlp = dense(mlpRatio·width, GELU) → dense(width),
 * each residual branch ending in dropout when `dropout` > 0 (and the embedding's output too), as in GPT-2.
 */
import { InvalidArgumentError } from './errors';
import { checkKeys, checkNumber, describeValue } from './options';
import type { LayerConfig } from './layers';

export interface GptOptions {
  /** Token ids 0..vocabulary−1. Default 256 (the bytes of `datasets.text`). */
  vocabulary?: number;
  /** Positions per sequence: the model's inputDim. */
  context: number;
  /** Values per token. */
  width: number;
  /** Attention heads; they must divide the width. */
  heads: number;
  /** Pre-norm transformer blocks. */
  blocks: number;
  /** Hidden units of each block's MLP per unit of width. Default 4. */
  mlpRatio?: number;
  /** Dropout rate after the embedding and at the end of every residual branch; 0 (default) adds no dropout layers. */
  dropout?: number;
  /** Seed of the initialisation; dropout layer k (from the input) draws its masks with seed + k (mod 2^20). Default 0. */
  seed?: number;
}

export const GPT_KEYS = ['vocabulary', 'context', 'width', 'heads', 'blocks', 'mlpRatio', 'dropout', 'seed'] as const;

/** The checked options with their defaults and the layer list they describe. */
export function gptLayers(where: string, options: GptOptions): { context: number; seed: number; layers: LayerConfig[] } {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError(`${where}: options { context, width, heads, blocks } are required, got ${describeValue(options)}`);
  checkKeys(where, options, [...GPT_KEYS, 'device', 'tf32']);
  for (const key of ['context', 'width', 'heads', 'blocks'] as const)
    if (options[key] === undefined) throw new InvalidArgumentError(`${where}: ${key} is required`);
  const vocabulary = checkNumber(where, 'vocabulary', options.vocabulary, 256, { min: 1, integer: true });
  const context = checkNumber(where, 'context', options.context, NaN, { min: 1, integer: true });
  const width = checkNumber(where, 'width', options.width, NaN, { min: 1, integer: true });
  const heads = checkNumber(where, 'heads', options.heads, NaN, { min: 1, integer: true });
  const blocks = checkNumber(where, 'blocks', options.blocks, NaN, { min: 0, max: 1024, integer: true });
  const mlpRatio = checkNumber(where, 'mlpRatio', options.mlpRatio, 4, { min: 1, max: 64, integer: true });
  const dropout = checkNumber(where, 'dropout', options.dropout, 0, { min: 0, below: 1 });
  const seed = checkNumber(where, 'seed', options.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  let dropouts = 0;
  const drop = (): LayerConfig[] => (dropout > 0 ? [{ type: 'dropout', rate: dropout, seed: (seed + dropouts++) % 2 ** 20 }] : []);
  const layers: LayerConfig[] = [{ type: 'embedding', vocabulary, width }, ...drop()];
  for (let b = 0; b < blocks; b++) {
    layers.push({ type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads }, ...drop()] });
    layers.push({ type: 'residual', layers: [{ type: 'layerNorm' }, { units: mlpRatio * width, activation: 'gelu' }, { units: width }, ...drop()] });
  }
  layers.push({ type: 'layerNorm' }, { units: vocabulary });
  return { context, seed, layers };
}
