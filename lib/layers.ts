/**
 * Layer configurations of `Sequential` and how they map onto the native engine (docs/algorithm.md §12, §18).
 *
 * Trainable layers are `dense` and `conv2d`; `maxPool2d`, `avgPool2d` and `globalAvgPool2d` pool the output of
 * the conv2d layer just before them, and `flatten` turns an image into a vector. Images enter as
 * `[channels, height, width]` rows (channel-major, as the datasets give them). Inside the network an image is
 * stored height-major with the channels fastest, so `flatten` orders values (row, column, channel), and a
 * conv2d weight row lists its kernel as (kernel row, kernel column, input channel).
 */
import { addon } from './binding';
import { InvalidArgumentError, native } from './errors';
import { checkBoolean, checkChoice, checkKeys, checkNumber } from './options';

/** 'gelu' is the tanh form (docs/algorithm.md §18.3). */
export const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'gelu'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export interface DenseLayerConfig {
  type?: 'dense';
  units: number;
  /** Default 'linear'. */
  activation?: ActivationName;
}

export interface Conv2dLayerConfig {
  type: 'conv2d';
  filters: number;
  /** Kernel size, square or [height, width]. */
  kernel: number | [number, number];
  /** Default 1; [height, width] with equal entries is accepted too (one stride for both axes). */
  stride?: number | [number, number];
  /** Zero padding on every side; 'same' keeps the size (stride 1, odd kernel); default 0 ('valid'). */
  padding?: number | [number, number] | 'same' | 'valid';
  /** Default true. */
  bias?: boolean;
  /** Default 'linear'. */
  activation?: ActivationName;
}

export interface Pool2dLayerConfig {
  type: 'maxPool2d' | 'avgPool2d';
  /** Window size, square or [height, width]. */
  pool: number | [number, number];
  /** Default: the window size (windows side by side). */
  stride?: number | [number, number];
}

export interface GlobalAvgPool2dLayerConfig { type: 'globalAvgPool2d' }
export interface FlattenLayerConfig { type: 'flatten' }

/**
 * Token ids to rows of `width` values (docs/algorithm.md §18.1): the first layer of a token model, whose
 * inputDim is the sequence length. Each position adds a learned positional embedding unless `positional` is
 * false. Later dense layers apply to every token.
 */
export interface EmbeddingLayerConfig { type: 'embedding'; vocabulary: number; width: number; positional?: boolean }
/** Normalizes each token row (or vector) over its width, then a learned gain and bias (§18.2). */
export interface LayerNormConfig { type: 'layerNorm' }
/**
 * Multi-head causal self-attention over token rows (§18.4): query, key and value projections (one dense map of
 * width x 3·width), the scaled dot-product with a causal mask, an output projection (width x width). `heads`
 * must divide the width.
 */
export interface AttentionLayerConfig { type: 'attention'; heads: number }
/** Adds its input to what its layers give (§18.5); the layers must keep the width. */
export interface ResidualLayerConfig { type: 'residual'; layers: LayerConfig[] }
/** Drops each value with probability `rate` in training (scaling the rest by 1/(1 − rate)); `seed` (0 to 2^20, default 0) picks the masks; off in evaluation. */
export interface DropoutLayerConfig { type: 'dropout'; rate: number; seed?: number }

export type LayerConfig = DenseLayerConfig | Conv2dLayerConfig | Pool2dLayerConfig | GlobalAvgPool2dLayerConfig | FlattenLayerConfig
  | EmbeddingLayerConfig | LayerNormConfig | AttentionLayerConfig | ResidualLayerConfig | DropoutLayerConfig;

const LAYER_TYPES = ['dense', 'conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool2d', 'flatten', 'embedding', 'layerNorm',
  'attention', 'residual', 'dropout'] as const;
export type ImageShape = [channels: number, height: number, width: number];

/** A trainable layer's weight shape: `units` rows of `inputs` weights, plus a bias per row. */
export interface WeightShape { units: number; inputs: number }

/**
 * What the native engine builds for each layer config, one native layer per config (native/core/layers/, one
 * file per kind): `maxPool2d` and `avgPool2d` as `pool2d`, `attention` as a dense map to queries, keys and
 * values, `causalSelfAttention` and the output dense map, `residual` as `residualStart`, its layers and
 * `residualEnd`, the others under their own names. Activations go by
 * name (one of ACTIVATIONS, checked natively).
 */
export type NativeLayer =
  | { type: 'dense'; in: number; out: number; activation: string; tokens?: number }
  | {
    type: 'conv2d'; out: number; activation: string; channels: number; height: number; width: number;
    kernelH: number; kernelW: number; stride: number; padding: number; bias: boolean;
  }
  | {
    type: 'pool2d'; kind: 'max' | 'average'; channels: number; height: number; width: number;
    sizeH: number; sizeW: number; strideH: number; strideW: number;
  }
  | { type: 'globalAvgPool2d'; channels: number; height: number; width: number }
  | { type: 'flatten'; size: number }
  | { type: 'embedding'; vocabulary: number; width: number; tokens: number; positional: boolean }
  | { type: 'layerNorm' | 'residualStart'; width: number; tokens: number }
  | { type: 'causalSelfAttention'; width: number; tokens: number; heads: number }
  | { type: 'residualEnd'; width: number; tokens: number; start: number }
  | { type: 'dropout'; width: number; tokens: number; rate: number; seed: number };

export interface LayerPlan {
  /** The layers with their defaults filled in. */
  layers: LayerConfig[];
  native: NativeLayer[];
  weights: WeightShape[];
  inputDim: number;
  outputDim: number;
  /** Target values per sample: outputDim, or one next-token id per position of a token model. */
  targetDim: number;
  /** The embedding's vocabulary (0: not a token model). */
  vocabulary: number;
}

const MAX_WIDTH = 1 << 20;
const MAX_TOKENS = 1 << 14;  // native/core/layer.h kMaxTokens

/** A setting the engine keeps as one number for both axes, given as n or [n, n]. */
function square(where: string, name: string, value: unknown, fallback: number, min: number): number {
  if (!Array.isArray(value)) return checkNumber(where, name, value, fallback, { min, integer: true });
  const [h, w] = value.length === 2 ? value : [NaN, NaN];
  if (h !== w) throw new InvalidArgumentError(`${where}: ${name} must be one number for both axes (got ${JSON.stringify(value)})`);
  return checkNumber(where, name, h, fallback, { min, integer: true });
}

function pair(where: string, name: string, value: unknown, fallback?: number): [number, number] {
  if (Array.isArray(value)) {
    if (value.length !== 2) throw new InvalidArgumentError(`${where}: ${name} must be a number or [height, width]`);
    return [checkNumber(where, `${name}[0]`, value[0], NaN, { min: 1, integer: true }),
      checkNumber(where, `${name}[1]`, value[1], NaN, { min: 1, integer: true })];
  }
  const v = checkNumber(where, name, value, fallback ?? NaN, { min: 1, integer: true });
  return [v, v];
}

/** Checks an image input's [channels, height, width] (undefined: a vector input). */
export function checkInputShape(where: string, shape: unknown): ImageShape | undefined {
  if (shape === undefined) return undefined;
  if (!Array.isArray(shape) || shape.length !== 3)
    throw new InvalidArgumentError(`${where}: inputShape must be [channels, height, width]`);
  const names = ['channels', 'height', 'width'];
  return shape.map((v, i) => checkNumber(where, `inputShape ${names[i]}`, v, NaN, { min: 1, max: 1 << 20, integer: true })) as ImageShape;
}

/** What the layers planned so far give: a vector, an image, or token rows (tokens > 0: `width` per token). */
interface PlanState {
  image: ImageShape | undefined;
  width: number;  // values per sample (vector, image) or per token row
  tokens: number;
  vocabulary: number;  // of the embedding, for the data checks
  previous: string | undefined;  // the type of the layer config before
}

/** Checks a layer stack against its input and derives what the engine needs; throws InvalidArgumentError. */
export function planLayers(where: string, inputDim: number, inputShape: ImageShape | undefined, layers: unknown): LayerPlan {
  if (!Array.isArray(layers) || layers.length === 0)
    throw new InvalidArgumentError(`${where}: layers must be a non-empty array`);
  const state: PlanState = { image: inputShape && [...inputShape], width: inputDim, tokens: 0, vocabulary: 0, previous: undefined };
  const plan: LayerPlan = { layers: [], native: [], weights: [], inputDim, outputDim: 0, targetDim: 0, vocabulary: 0 };
  layers.forEach((raw, i) => plan.layers.push(planLayer(`${where} layer ${i}`, raw, state, plan)));
  const lastConfig = plan.layers[plan.layers.length - 1];
  if (lastConfig.type !== undefined && lastConfig.type !== 'dense')
    throw new InvalidArgumentError(`${where}: the last layer must be dense (it gives the model's outputs)`);
  plan.outputDim = state.width * Math.max(1, state.tokens);
  plan.targetDim = state.tokens || plan.outputDim;
  plan.vocabulary = state.vocabulary;
  return plan;
}

/** Plans one layer config: appends its native layers and weight shapes to plan, returns it with its defaults. */
function planLayer(at: string, raw: unknown, state: PlanState, plan: LayerPlan): LayerConfig {
  if (!raw || typeof raw !== 'object') throw new InvalidArgumentError(`${at}: must be a layer object`);
  const type = checkChoice(at, 'type', (raw as { type?: unknown }).type, 'dense', LAYER_TYPES);
  const afterConv = state.previous === 'conv2d';
  const first = plan.native.length === 0;
  state.previous = type;
  const { tokens } = state;
  const tokenRows = (what: string) => {
    if (!tokens) throw new InvalidArgumentError(`${at}: ${what} takes token rows: start the model with { type: 'embedding' }`);
  };
  if (type === 'dense') {
    const layer = raw as DenseLayerConfig;
    checkKeys(at, layer, ['type', 'units', 'activation']);
    if (state.image) throw new InvalidArgumentError(`${at}: a dense layer takes a vector; add { type: 'flatten' } before it`);
    const units = checkNumber(at, 'units', layer.units, NaN, { min: 1, max: MAX_WIDTH, integer: true });
    const activation = checkChoice(at, 'activation', layer.activation, 'linear', ACTIVATIONS);
    // over token rows the same map applies to every token (docs/algorithm.md §18.3)
    plan.native.push({ type: 'dense', in: state.width, out: units, activation, ...(tokens ? { tokens } : {}) });
    plan.weights.push({ units, inputs: state.width });
    state.width = units;
    return layer.type === 'dense' ? { type: 'dense', units, activation } : { units, activation };
  }
  if (type === 'embedding') {
    const layer = raw as EmbeddingLayerConfig;
    checkKeys(at, layer, ['type', 'vocabulary', 'width', 'positional']);
    if (!first || state.image) throw new InvalidArgumentError(`${at}: an embedding must be the first layer (its inputs are token ids)`);
    const vocabulary = checkNumber(at, 'vocabulary', layer.vocabulary, NaN, { min: 2, max: MAX_WIDTH, integer: true });
    const width = checkNumber(at, 'width', layer.width, NaN, { min: 1, max: MAX_WIDTH, integer: true });
    const positional = checkBoolean(at, 'positional', layer.positional, true);
    if (state.width > MAX_TOKENS)
      throw new InvalidArgumentError(`${at}: a sequence length (inputDim) of ${state.width} is too long (at most ${MAX_TOKENS})`);
    state.tokens = state.width;
    plan.native.push({ type: 'embedding', vocabulary, width, tokens: state.tokens, positional });
    plan.weights.push({ units: width, inputs: vocabulary + (positional ? state.tokens : 0) });
    state.width = width;
    state.vocabulary = vocabulary;
    return { type, vocabulary, width, positional };
  }
  if (type === 'layerNorm') {
    checkKeys(at, raw as object, ['type']);
    if (first || state.image) throw new InvalidArgumentError(`${at}: layerNorm takes vectors or token rows from a layer below it`);
    plan.native.push({ type: 'layerNorm', width: state.width, tokens });
    plan.weights.push({ units: state.width, inputs: 1 });
    return { type };
  }
  if (type === 'attention') {
    const layer = raw as AttentionLayerConfig;
    checkKeys(at, layer, ['type', 'heads']);
    tokenRows('attention');
    const heads = checkNumber(at, 'heads', layer.heads, NaN, { min: 1, max: MAX_WIDTH, integer: true });
    const width = state.width;
    if (width % heads !== 0) throw new InvalidArgumentError(`${at}: ${heads} heads do not divide the width ${width}`);
    // the query, key and value projections as one per-token dense map, the attention, the output projection (§18.4)
    plan.native.push({ type: 'dense', in: width, out: 3 * width, activation: 'linear', tokens },
      { type: 'causalSelfAttention', width, tokens, heads },
      { type: 'dense', in: width, out: width, activation: 'linear', tokens });
    plan.weights.push({ units: 3 * width, inputs: width }, { units: width, inputs: width });
    return { type, heads };
  }
  if (type === 'residual') {
    const layer = raw as ResidualLayerConfig;
    checkKeys(at, layer, ['type', 'layers']);
    if (first || state.image) throw new InvalidArgumentError(`${at}: a residual block takes vectors or token rows from a layer below it`);
    if (!Array.isArray(layer.layers) || layer.layers.length === 0)
      throw new InvalidArgumentError(`${at}: layers must be a non-empty array`);
    const width = state.width;
    const start = plan.native.length;
    plan.native.push({ type: 'residualStart', width, tokens });
    const inner = layer.layers.map((l, j) => planLayer(`${at} inner layer ${j}`, l, state, plan));
    if (state.width !== width || state.tokens !== tokens || state.image)
      throw new InvalidArgumentError(`${at}: its layers must give back their input's shape (width ${width}), not width ${state.width}`);
    plan.native.push({ type: 'residualEnd', width, tokens, start });
    state.previous = type;
    return { type, layers: inner };
  }
  if (type === 'dropout') {
    const layer = raw as DropoutLayerConfig;
    checkKeys(at, layer, ['type', 'rate', 'seed']);
    if (first || state.image) throw new InvalidArgumentError(`${at}: dropout takes vectors or token rows from a layer below it`);
    const rate = checkNumber(at, 'rate', layer.rate, NaN, { min: 0, max: 0.999 });
    const seed = checkNumber(at, 'seed', layer.seed, 0, { min: 0, max: MAX_WIDTH, integer: true });
    plan.native.push({ type: 'dropout', width: state.width, tokens, rate, seed });
    return { type, rate, seed };
  }
  if (tokens) throw new InvalidArgumentError(`${at}: ${type} takes images, not token rows`);
  let { image } = state;
  if (type === 'conv2d') {
    const layer = raw as Conv2dLayerConfig;
    checkKeys(at, layer, ['type', 'filters', 'kernel', 'stride', 'padding', 'bias', 'activation']);
    if (!image) {
      throw new InvalidArgumentError(first
        ? `${at}: conv2d needs an image input: give the model inputShape [channels, height, width]`
        : `${at}: conv2d can only follow the input or another conv2d layer`);
    }
    const filters = checkNumber(at, 'filters', layer.filters, NaN, { min: 1, max: MAX_WIDTH, integer: true });
    const [kernelH, kernelW] = pair(at, 'kernel', layer.kernel);
    const stride = square(at, 'stride', layer.stride, 1, 1);
    let padding: number;
    if (layer.padding === 'same') {
      if (stride !== 1 || kernelH % 2 === 0 || kernelW % 2 === 0)
        throw new InvalidArgumentError(`${at}: padding 'same' needs stride 1 and an odd kernel; give a number instead`);
      if (kernelH !== kernelW) throw new InvalidArgumentError(`${at}: padding 'same' needs a square kernel; give a number instead`);
      padding = (kernelH - 1) / 2;
    } else {
      padding = layer.padding === 'valid' ? 0 : square(at, 'padding', layer.padding, 0, 0);
    }
    const bias = checkBoolean(at, 'bias', layer.bias, true);
    const activation = checkChoice(at, 'activation', layer.activation, 'linear', ACTIVATIONS);
    const [channels, height, widthPx] = image;
    // whether the kernel fits, and the output's size: the engine's rule (native/core/layers/kinds.h)
    const [outH, outW] = native(() => addon.convGeometry(at, image!, kernelH, kernelW, stride, padding));
    const inputs = kernelH * kernelW * channels;
    if (inputs > MAX_WIDTH) throw new InvalidArgumentError(`${at}: a kernel window of ${inputs} values is too large`);
    plan.native.push({ type: 'conv2d', out: filters, activation, channels, height, width: widthPx, kernelH, kernelW, stride, padding, bias });
    plan.weights.push({ units: filters, inputs });
    state.image = [filters, outH, outW];
    state.width = filters * outH * outW;
    return { type: 'conv2d', filters, kernel: [kernelH, kernelW], stride, padding, bias, activation };
  }
  if (type === 'flatten') {
    checkKeys(at, raw as object, ['type']);
    plan.native.push({ type: 'flatten', size: state.width });
    state.image = undefined;
    return { type: 'flatten' };
  }
  const global = type === 'globalAvgPool2d';
  checkKeys(at, raw as object, global ? ['type'] : ['type', 'pool', 'stride']);
  if (!afterConv || !image)
    throw new InvalidArgumentError(`${at}: ${type} must come right after a conv2d layer (one pooling layer per conv2d)`);
  const [channels, height, widthPx] = image;
  const layer = raw as Pool2dLayerConfig;
  const [sizeH, sizeW] = global ? [height, widthPx] : pair(at, 'pool', layer.pool);
  const [strideH, strideW] = global || layer.stride === undefined ? [sizeH, sizeW] : pair(at, 'stride', layer.stride);
  const [outH, outW] = native(() => addon.poolGeometry(at, image!, sizeH, sizeW, strideH, strideW));
  plan.native.push(global ? { type, channels, height, width: widthPx }
    : { type: 'pool2d', kind: type === 'maxPool2d' ? 'max' : 'average', channels, height, width: widthPx, sizeH, sizeW, strideH, strideW });
  image = global ? undefined : [channels, outH, outW];
  state.image = image;
  state.width = channels * outH * outW;
  return global ? { type } : { type, pool: [sizeH, sizeW], stride: [strideH, strideW] };
}
