/** The benchmark problems: the paper's three autoencoders, dense and convolutional MNIST / Fashion-MNIST
 * classifiers, and a small GPT on text (a byte-level language model). */
import { datasets, Autoencoder, Sequential } from '../index';
import type { ClassificationDataset, Dataset, LabeledSplit, Split } from '../datasets/dataset';
import type { TrainingData } from '../data';
import type { TokenData } from '../tokens';
import type { TokenSequences } from '../datasets/text';
import { InvalidArgumentError } from '../errors';
import type { DeviceName } from '../devices';

export const PROBLEMS = ['mnist', 'curves-synth', 'faces-synth', 'curves', 'faces', 'mnist-classifier', 'fashion-mnist-classifier',
  'mnist-cnn', 'fashion-mnist-cnn', 'text'] as const;
export type ProblemName = (typeof PROBLEMS)[number];

export interface ProblemOptions {
  /** The original MAT file, for 'curves' and 'faces'; a UTF-8 text file instead of the fortunes, for 'text'. */
  file?: string;
  /** The GPT of 'text' (default: {@link TEXT_GPT}). */
  gpt?: Partial<TextGpt>;
  /** A directory of MNIST-layout IDX files, for the MNIST and Fashion-MNIST problems. */
  dir?: string;
  /** Use only the first rows of each split (quick runs). */
  trainSize?: number;
  testSize?: number;
  onProgress?: (fraction: number) => void;
}

export interface Problem {
  name: ProblemName;
  train: TrainingData | TokenData;
  test: TrainingData | TokenData;
  /** Rows and columns of the training inputs. */
  trainRows: number;
  inputDim: number;
  /** A classifier reports accuracy. */
  classifier: boolean;
  model: (seed: number, device?: DeviceName) => Sequential;
  /** A language model: tokens per character of the test (validation) text, to give its loss in bits per character. */
  testTokensPerCharacter?: number;
  /** The epoch's training loss over so many training rows spread over the set (fit's trainingLossRows); default all. */
  trainingLossRows?: number;
  /** Batches of a method's warm start (fit's warmStartBatches); default one pass. */
  warmStartBatches?: number;
  /**
   * What `tune` ranks settings by: the final training loss (the paper's rule, algorithm.md §7.3), or the test
   * (validation) loss, for the language model, whose training is for text it has not seen.
   */
  tuneScore: 'trainLoss' | 'testLoss';
}

/**
 * Rows of the text problem's epoch-end training loss, and of its validation text when `tune` scores a setting:
 * a pass over all ~18,000 training sequences of the GPT costs about a third of an epoch of steps (minutes),
 * 256 sequences (32,768 characters) a few steps' time.
 */
export const TEXT_EVALUATION_ROWS = 256;

/**
 * Batches of the text problem's warm start (K-BFGS, KFAC, the paper's RMSprop): a pass over the training text is
 * ~566 batches of 32 sequences, minutes of forward passes before the first step; 20 batches give the means over
 * 81,920 token rows.
 */
export const TEXT_WARM_START_BATCHES = 20;

/**
 * Batches of the CNN problems' warm start: a pass over Fashion-MNIST's 60,000 images is 469 batches of 128, which
 * took K-BFGS(L) longer than one of Adam's passes, while 20 batches reach 91 % test accuracy as soon in passes
 * (bench/RESULTS.md, "Time to 90 % and 91 %").
 */
export const CNN_WARM_START_BATCHES = 20;

/** The GPT of the 'text' problem. */
export interface TextGpt {
  context: number;
  width: number;
  heads: number;
  blocks: number;
}

/** The small GPT: 4 pre-norm blocks of width 128 with 4 heads, context 128 (875,648 parameters). */
export const TEXT_GPT: TextGpt = { context: 128, width: 128, heads: 4, blocks: 4 };

/** The first rows of a token split. */
function headTokens(s: TokenSequences, rows: number | undefined): TokenData {
  if (rows === undefined || rows >= s.rows) return s;
  const cut = (data: Int32Array) => ({ data: data.subarray(0, rows * s.context), rows, cols: s.context });
  return { x: cut(s.inputs), y: cut(s.targets) };
}

function head(s: Split, rows: number | undefined): Split {
  if (rows === undefined || rows >= s.rows) return s;
  return { ...s, rows, data: s.data.subarray(0, rows * s.cols) };
}

function headLabeled(s: LabeledSplit, rows: number | undefined): LabeledSplit {
  if (rows === undefined || rows >= s.x.rows) return s;
  const cut = <T extends { data: Float32Array; cols: number }>(m: T) => ({ ...m, rows, data: m.data.subarray(0, rows * m.cols) });
  return { ...s, x: cut(s.x), y: cut(s.y), labels: s.labels.subarray(0, rows) };
}

/** The dense classifier of the benchmark: 784-1000-500-10, ReLU, softmax cross-entropy (1,290,510 parameters). */
export function denseClassifier(seed: number, device?: DeviceName): Sequential {
  return new Sequential({ inputDim: 784, layers: [{ units: 1000, activation: 'relu' }, { units: 500, activation: 'relu' }, { units: 10 }],
    loss: 'softmaxCrossEntropy', seed, device });
}

/**
 * The convolutional classifier of the benchmark, for 1x28x28 images: two blocks of a 5x5 convolution (padding 2,
 * ReLU) and 2x2 max pooling (32, then 64 filters), a dense layer of 128 ReLU units, 10 softmax outputs
 * (454,922 parameters).
 */
export function cnnClassifier(seed: number, device?: DeviceName): Sequential {
  return new Sequential({
    inputShape: [1, 28, 28],
    layers: [
      { type: 'conv2d', filters: 32, kernel: 5, padding: 2, activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
      { type: 'conv2d', filters: 64, kernel: 5, padding: 2, activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
      { type: 'flatten' }, { units: 128, activation: 'relu' }, { units: 10 },
    ],
    loss: 'softmaxCrossEntropy', seed, device,
  });
}

export async function loadProblem(name: ProblemName, options: ProblemOptions = {}): Promise<Problem> {
  if (name === 'text') {
    const gpt = { ...TEXT_GPT, ...options.gpt };
    const d = datasets.text({ file: options.file, context: gpt.context });
    const train = headTokens(d.train, options.trainSize), test = headTokens(d.validation, options.testSize);
    return {
      name, train, test, trainRows: train.x.rows, inputDim: gpt.context, classifier: false,
      testTokensPerCharacter: d.validation.tokens.length / d.validation.characters,
      trainingLossRows: TEXT_EVALUATION_ROWS, warmStartBatches: TEXT_WARM_START_BATCHES, tuneScore: 'testLoss',
      model: (seed, device) => Sequential.gpt({ ...gpt, seed, device }),
    };
  }
  if (name.includes('classifier') || name.endsWith('-cnn')) {
    const d: ClassificationDataset = name.startsWith('mnist')
      ? await datasets.mnist({ dir: options.dir, labels: true }) : await datasets.fashionMnist({ dir: options.dir, labels: true });
    const train = headLabeled(d.train, options.trainSize), test = headLabeled(d.test, options.testSize);
    const model = name.endsWith('-cnn') ? cnnClassifier : denseClassifier;
    return { name, train, test, trainRows: train.x.rows, inputDim: train.x.cols, classifier: true, model, tuneScore: 'trainLoss',
      ...(name.endsWith('-cnn') ? { warmStartBatches: CNN_WARM_START_BATCHES } : {}) };
  }
  let data: Dataset;
  switch (name) {
    case 'mnist': data = await datasets.mnist({ dir: options.dir }); break;
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
  const train = head(data.train, options.trainSize), test = head(data.test, options.testSize);
  const model = name === 'mnist' ? Autoencoder.mnist : name.startsWith('faces') ? Autoencoder.faces : Autoencoder.curves;
  return { name, train, test, trainRows: train.rows, inputDim: train.cols, classifier: false, model: (seed, device) => model({ seed, device }),
    tuneScore: 'trainLoss' };
}
