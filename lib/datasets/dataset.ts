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

/** Called with the fraction of the work done, from 0 to 1. */
export type ProgressCallback = (fraction: number) => void;

export function split(name: SplitName, data: Float32Array, rows: number, cols: number): Split {
  return { name, data, rows, cols };
}
