/** kbfgs-native: the public API. */
export { Sequential, Autoencoder, ACTIVATIONS, LOSSES } from './model';
export type {
  ActivationName, AutoencoderConfig, BatchLogs, DenseLayerConfig, EpochLogs, FitOptions, History, LayerWeights,
  LossName, SequentialConfig,
} from './model';
export { Optimizer, SGD, Adam, RMSprop, KBFGS, KBFGSL, KFAC } from './optimizers';
export type { AdamOptions, KBFGSOptions, KBFGSLOptions, KFACOptions, Protocol, RMSpropOptions, SGDOptions } from './optimizers';
export { matrix } from './data';
export type { LabeledData, Matrix, TrainingData } from './data';
export { parseIdx, readIdx, readIdxImages, IdxFormatError } from './idx';
export type { IdxArray } from './idx';
export {
  KbfgsError, AbortError, BusyError, DisposedError, InvalidArgumentError, InvalidDataError, NotPositiveDefiniteError,
  NumericalError, OutOfMemoryError, ShapeError,
} from './errors';
export { addon as _native } from './binding';
