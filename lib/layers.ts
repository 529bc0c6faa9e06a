/**
 * Layer configurations of `Sequential` and how they map onto the native engine (docs/algorithm.md §12).
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

export const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh'] as const;
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

export type LayerConfig = DenseLayerConfig | Conv2dLayerConfig | Pool2dLayerConfig | GlobalAvgPool2dLayerConfig | FlattenLayerConfig;
export type ImageShape = [channels: number, height: number, width: number];

/** A trainable layer's weight shape: `units` rows of `inputs` weights, plus a bias per row. */
export interface WeightShape { units: number; inputs: number }

/**
 * What the native engine builds for each layer config, one native layer per config (native/core/layers/, one
 * file per kind): `maxPool2d` and `avgPool2d` as `pool2d`, the others under their own names. Activations go by
 * name (one of ACTIVATIONS, checked natively).
 */
export type NativeLayer =
  | { type: 'dense'; in: number; out: number; activation: string }
  | {
    type: 'conv2d'; out: number; activation: string; channels: number; height: number; width: number;
    kernelH: number; kernelW: number; stride: number; padding: number; bias: boolean;
  }
  | {
    type: 'pool2d'; kind: 'max' | 'average'; channels: number; height: number; width: number;
    sizeH: number; sizeW: number; strideH: number; strideW: number;
  }
  | { type: 'globalAvgPool2d'; channels: number; height: number; width: number }
  | { type: 'flatten'; size: number };

export interface LayerPlan {
  /** The layers with their defaults filled in. */
  layers: LayerConfig[];
  native: NativeLayer[];
  weights: WeightShape[];
  inputDim: number;
  outputDim: number;
}

const MAX_WIDTH = 1 << 20;

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

/** Checks a layer stack against its input and derives what the engine needs; throws InvalidArgumentError. */
export function planLayers(where: string, inputDim: number, inputShape: ImageShape | undefined, layers: unknown): LayerPlan {
  if (!Array.isArray(layers) || layers.length === 0)
    throw new InvalidArgumentError(`${where}: layers must be a non-empty array`);
  let image: ImageShape | undefined = inputShape && [...inputShape];
  let width = inputDim;  // values per sample of the current (vector or image) tensor
  const plan: LayerPlan = { layers: [], native: [], weights: [], inputDim, outputDim: 0 };
  layers.forEach((raw, i) => {
    const at = `${where} layer ${i}`;
    if (!raw || typeof raw !== 'object') throw new InvalidArgumentError(`${at}: must be a layer object`);
    const type = checkChoice(at, 'type', (raw as { type?: unknown }).type, 'dense',
      ['dense', 'conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool2d', 'flatten'] as const);
    const afterConv = plan.layers[plan.layers.length - 1]?.type === 'conv2d';
    if (type === 'dense') {
      const layer = raw as DenseLayerConfig;
      checkKeys(at, layer, ['type', 'units', 'activation']);
      if (image) throw new InvalidArgumentError(`${at}: a dense layer takes a vector; add { type: 'flatten' } before it`);
      const units = checkNumber(at, 'units', layer.units, NaN, { min: 1, max: MAX_WIDTH, integer: true });
      const activation = checkChoice(at, 'activation', layer.activation, 'linear', ACTIVATIONS);
      plan.layers.push(layer.type === 'dense' ? { type: 'dense', units, activation } : { units, activation });
      plan.native.push({ type: 'dense', in: width, out: units, activation });
      plan.weights.push({ units, inputs: width });
      width = units;
    } else if (type === 'conv2d') {
      const layer = raw as Conv2dLayerConfig;
      checkKeys(at, layer, ['type', 'filters', 'kernel', 'stride', 'padding', 'bias', 'activation']);
      if (!image) {
        throw new InvalidArgumentError(plan.native.length === 0
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
      plan.layers.push({ type: 'conv2d', filters, kernel: [kernelH, kernelW], stride, padding, bias, activation });
      plan.native.push({ type: 'conv2d', out: filters, activation, channels, height, width: widthPx, kernelH, kernelW, stride, padding, bias });
      plan.weights.push({ units: filters, inputs });
      image = [filters, outH, outW];
      width = filters * outH * outW;
    } else if (type === 'flatten') {
      checkKeys(at, raw as object, ['type']);
      plan.layers.push({ type: 'flatten' });
      plan.native.push({ type: 'flatten', size: width });
      image = undefined;
    } else {
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
      plan.layers.push(global ? { type } : { type, pool: [sizeH, sizeW], stride: [strideH, strideW] });
      image = global ? undefined : [channels, outH, outW];
      width = channels * outH * outW;
    }
  });
  const lastConfig = plan.layers[plan.layers.length - 1];
  if (lastConfig.type !== undefined && lastConfig.type !== 'dense')
    throw new InvalidArgumentError(`${where}: the last layer must be dense (it gives the model's outputs)`);
  plan.outputDim = width;
  return plan;
}
