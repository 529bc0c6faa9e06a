/**
 * The records of a training run, as fit() and the callbacks see them: the logs of a step and of an epoch, the
 * epoch diagnostics, the History that fit() returns (and AbortError carries) and a layer's weights. Types and
 * the helpers that build them only, so that errors and callbacks can name them without importing the models.
 */
import type { Optimizer } from './optimizers';

export interface BatchLogs {
  /** Mean data loss of the minibatch before the step. */
  loss: number;
  epoch: number;
  batches: number;
  /** Steps of this model so far, this one included. */
  step: number;
  /** The learning rate this step used. */
  lr: number;
}

export interface EpochLogs {
  /** Regularised training loss over the training set (or fit's trainingLossRows of it): data loss + (τ/2)‖θ‖² (algorithm.md §2). */
  loss: number;
  /** Mean of the epoch's minibatch losses. */
  batchLoss: number;
  /** Mean data loss of validationData, when given. */
  valLoss?: number;
  /** Share of training rows predicted right (softmax cross-entropy: argmax; one sigmoid output: its sign). */
  accuracy?: number;
  /** The same over validationData. */
  valAccuracy?: number;
  /** The learning rate of the epoch's last step (the epoch callbacks' changes apply from the next epoch). */
  lr: number;
  /** The damping λ of the epoch's last step (second-order methods). */
  damping?: number;
  /** Cumulative training wall time of this model in seconds (warm start included, evaluation excluded). */
  seconds: number;
  /** Optimizer steps taken so far. */
  steps: number;
  /** Set when the epoch ended before its last batch: a budget or `stopTraining` ended training in it. */
  partial?: true;
  /** Set on the epoch after which a budget of fit() ends training: which one. */
  stoppedBy?: 'timeBudget' | 'maxSteps';
  /**
   * Counters and phase timings of the epoch. Curvature counters (curvatureUpdates, hgSkipped, haSkipped,
   * powellDamping, lmDamping, inversions) are summed over layers and steps; `replayedSteps` counts the steps a
   * GPU replayed from a recorded graph; `rejectedSteps`, `maxLossRatio` and `maxLossBound` (the largest loss
   * ratio it allowed: 1.25, or more where the minibatch noise is wider) are the divergence safeguard's;
   * `skippedSteps` the onNonFinite 'skip' mode's; the `...Seconds` entries are phase times; distributed fits add
   * `summedBytes`, `broadcastBytes` and `collectiveCalls` of the epoch's steps.
   */
  diagnostics: Diagnostics;
}

/** The names of EpochLogs.diagnostics; which appear depends on the method and the options. */
export type DiagnosticName =
  | 'forwardSeconds' | 'backwardSeconds' | 'skippedSteps' | 'rejectedSteps' | 'maxLossRatio' | 'maxLossBound'
  | 'curvatureUpdates' | 'hgSkipped' | 'haSkipped' | 'powellDamping' | 'lmDamping' | 'directionSeconds'
  | 'secondPassSeconds' | 'curvatureSeconds' | 'replayedSteps' | 'inversions' | 'sampledSeconds'
  | 'factorSeconds' | 'inverseSeconds' | 'summedBytes' | 'broadcastBytes' | 'collectiveCalls' | 'clippedSteps';
export type Diagnostics = Partial<Record<DiagnosticName, number>> & Record<string, number>;

/** Shaped like TensorFlow.js's History: one array per logged quantity, indexed like `epoch`. */
export interface History {
  epoch: number[];
  history: {
    loss: number[]; batchLoss: number[]; seconds: number[]; lr: number[]; valLoss?: number[]; accuracy?: number[];
    valAccuracy?: number[]; damping?: number[];
  };
  /** `steps`: batches per epoch (fit's stepsPerEpoch, else one pass of the data). */
  params: { epochs: number; batchSize: number; steps: number; samples: number; optimizer: ReturnType<Optimizer['toJSON']> };
}

export interface LayerWeights {
  /** units x inputs, row-major. */
  weight: Float32Array;
  bias: Float32Array;
}

/** Appends an epoch's logs to the history (a quantity's array appears with its first value). */
export function record(history: History, epoch: number, logs: EpochLogs): void {
  const h = history.history;
  history.epoch.push(epoch);
  h.loss.push(logs.loss);
  h.batchLoss.push(logs.batchLoss);
  h.seconds.push(logs.seconds);
  h.lr.push(logs.lr);
  for (const key of ['valLoss', 'accuracy', 'valAccuracy', 'damping'] as const)
    if (logs[key] !== undefined) (h[key] ??= []).push(logs[key]!);
}
