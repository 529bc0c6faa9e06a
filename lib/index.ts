/** kbfgs-native: the public API. */
export { Sequential, Autoencoder, ACTIVATIONS, LOSSES } from './model';
export { EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau } from './callbacks';
export type {
  Callback, EarlyStoppingOptions, ModelCheckpointOptions, Monitor, ReduceLROnPlateauOptions, TrainingRun,
} from './callbacks';
export type {
  ActivationName, AutoencoderConfig, FitOptions, LoadOptions, LossName, PresetOptions, SequentialConfig,
} from './model';
export type { BatchLogs, DiagnosticName, Diagnostics, EpochLogs, History, LayerWeights } from './records';
export type {
  AttentionLayerConfig, Conv2dLayerConfig, DenseLayerConfig, DropoutLayerConfig, EmbeddingLayerConfig, FlattenLayerConfig,
  GlobalAvgPool2dLayerConfig, ImageShape, LayerConfig, LayerNormConfig, Pool2dLayerConfig, ResidualLayerConfig, WeightShape,
} from './layers';
export type { TokenData, TokenMatrix } from './tokens';
export type { GptOptions } from './gpt';
export type { GenerateOptions, Generated } from './generate';
export { Optimizer, SGD, Adam, AdamW, RMSprop, KBFGS, KBFGSL, KFAC, Shampoo, SOAP, optimizerFromJSON } from './optimizers';
export { WarmupCosine } from './schedules';
export type { AdaptiveDampingOptions } from './adaptive-damping';
export type { LrSchedule, ScheduleJSON, WarmupCosineOptions } from './schedules';
export { CheckpointError } from './checkpoint';
export type {
  AdamOptions, AdamWOptions, KBFGSOptions, KBFGSLOptions, KFACOptions, DampingSplit, OptimizerJSON, Protocol, RMSpropOptions, SGDOptions,
  ShampooOptions, SOAPOptions, StepRuleOptions,
} from './optimizers';
export { argmax, matrix, oneHot } from './data';
export type { LabeledData, Matrix, TrainingData } from './data';
export * as datasets from './datasets';
export { parseIdx, readIdx, readIdxImages, IdxFormatError } from './datasets/idx';
export type { IdxArray, IdxReadOptions } from './datasets/idx';
export { parseMat, readMat, MatFormatError } from './datasets/mat';
export { parseCifar10, readCifar10, CifarFormatError, CIFAR10_CLASSES } from './datasets/cifar10';
export type { CifarBatch, Cifar10Options } from './datasets/cifar10';
export { bitsPerCharacter, TextFormatError, FORTUNES_DIR } from './datasets/text';
export type { TextDataset, TextOptions, TokenSequences } from './datasets/text';
export type { MatReadOptions, MatVariable } from './datasets/mat';
export { mulberry32 } from './datasets/curves-synth';
export type { CurvesSynthOptions } from './datasets/curves-synth';
export type { FacesSynthOptions, FacesSynthDataset } from './datasets/faces-synth';
export type { ClassificationDataset, Dataset, LabeledSplit, Split, SplitName, ProgressCallback } from './datasets/dataset';
export type { MnistOptions } from './datasets/mnist';
export {
  KbfgsError, AbortError, BusyError, DisposedError, InvalidArgumentError, InvalidDataError, NotPositiveDefiniteError,
  NumericalError, OutOfMemoryError, ShapeError, DeviceError, DistributedError, InternalError, CallbackError,
  NoFileSystemError,
} from './errors';
export { initDistributed, distributedWorld } from './distributed';
export type { DistributedOptions, World } from './distributed';
export type { ErrorCode } from './errors';
export { devices, cudaLibrarySearchPath, DEVICES } from './devices';
export type { DeviceName, DevicesReport } from './devices';
export type { NativeCudaReport as CudaReport } from './binding';
export { useEngine, ENGINES } from './binding';
export type { EngineChoice, EngineName, EngineReport } from './binding';
