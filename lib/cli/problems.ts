/** The benchmark problems of the paper (spec §7.1) and how to load each one. */
import { datasets, Autoencoder } from '../index';
import type { Dataset, Split } from '../datasets/dataset';
import { InvalidArgumentError } from '../errors';
import type { DeviceName } from '../devices';

export const PROBLEMS = ['mnist', 'curves-synth', 'faces-synth', 'curves', 'faces'] as const;
export type ProblemName = (typeof PROBLEMS)[number];

export interface ProblemOptions {
  /** The original MAT file, for 'curves' and 'faces'. */
  file?: string;
  /** Use only the first rows of each split (quick runs). */
  trainSize?: number;
  testSize?: number;
  onProgress?: (fraction: number) => void;
}

export interface Problem {
  name: ProblemName;
  data: Dataset;
  model: (seed: number, device?: DeviceName) => Autoencoder;
}

function head(s: Split, rows: number | undefined): Split {
  if (rows === undefined || rows >= s.rows) return s;
  return { ...s, rows, data: s.data.subarray(0, rows * s.cols) };
}

export async function loadProblem(name: ProblemName, options: ProblemOptions = {}): Promise<Problem> {
  let data: Dataset;
  switch (name) {
    case 'mnist': data = await datasets.mnist(); break;
    case 'curves-synth':
      data = datasets.curvesSynth({ trainSize: options.trainSize, testSize: options.testSize, onProgress: options.onProgress });
      break;
    case 'faces-synth': data = datasets.facesSynth({ onProgress: options.onProgress }); break;
    case 'curves':
    case 'faces':
      if (!options.file) throw new InvalidArgumentError(`problem '${name}' needs --file with the original MAT file`);
      data = name === 'curves' ? datasets.curves({ file: options.file }) : datasets.faces({ file: options.file });
      break;
    default: throw new InvalidArgumentError(`unknown problem '${name}'; choose one of ${PROBLEMS.join(', ')}`);
  }
  data = { ...data, train: head(data.train, options.trainSize), test: head(data.test, options.testSize) };
  const model = name === 'mnist' ? Autoencoder.mnist : name.startsWith('faces') ? Autoencoder.faces : Autoencoder.curves;
  return { name, data, model: (seed, device) => model({ seed, device }) };
}
