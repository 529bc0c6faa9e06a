/** The one shape every loader returns: named splits, each a row-major Float32Array matrix `fit` takes as is. */
import type { Matrix } from '../data';

export type SplitName = 'train' | 'validation' | 'test';

export interface Split extends Matrix {
  readonly name: SplitName;
}

export interface Dataset {
  /** 'mnist', 'curves-synth', 'faces-synth', 'curves', 'faces', or the name a caller gave. */
  readonly name: string;
  readonly train: Split;
  readonly test: Split;
  readonly validation?: Split;
}

/** A split of a classification dataset: images, their one-hot targets and the class of each row. */
export interface LabeledSplit {
  readonly name: SplitName;
  readonly x: Matrix;
  /** One row per image, 1 in the column of its class (targets for softmaxCrossEntropy). */
  readonly y: Matrix;
  /** The class of each row, 0 to classes - 1. */
  readonly labels: Uint8Array;
}

export interface ClassificationDataset {
  /** 'mnist' or 'fashion-mnist'. */
  readonly name: string;
  readonly classes: number;
  /** What each class is, indexed by label. */
  readonly classNames: readonly string[];
  /** [channels, height, width] of each row, channel-major: the `inputShape` of a convolutional model. */
  readonly imageShape: readonly [number, number, number];
  readonly train: LabeledSplit;
  readonly test: LabeledSplit;
}

/** Called with the fraction of the work done, from 0 to 1. */
export type ProgressCallback = (fraction: number) => void;

export function split(name: SplitName, data: Float32Array, rows: number, cols: number): Split {
  return { name, data, rows, cols };
}
