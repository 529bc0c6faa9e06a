/**
 * CIFAR-10 in its binary version (Krizhevsky 2009): `data_batch_1.bin` … `data_batch_5.bin` (50,000 training
 * images) and `test_batch.bin` (10,000), usually in a folder `cifar-10-batches-bin`. Users bring the files.
 * Each record is 3073 bytes: the label (0-9), then the 1024 red, 1024 green and 1024 blue bytes of a 32 × 32
 * image, each plane row by row. An image becomes one row of 3072 values x/255 in [0, 1] in that same
 * channel-major order ([3, 32, 32]), so a file of n records is an n × 3072 matrix with n labels.
 */
import * as path from 'path';
import { datasetArray, oneHot } from '../data';
import { KbfgsError } from '../errors';
import { readRegularFile } from '../files';
import { checkBoolean, checkKeys, checkNumber } from '../options';
import { split, type ClassificationDataset, type Dataset } from './dataset';

/** A missing, truncated or malformed CIFAR-10 file: names the file and the problem. */
export class CifarFormatError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_CIFAR_FORMAT');
    this.name = 'CifarFormatError';
  }
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const PIXELS = 3 * 32 * 32, RECORD = PIXELS + 1;

export interface CifarBatch {
  /** rows × 3072, channel-major [3, 32, 32], values in [0, 1]. */
  images: { data: Float32Array; rows: number; cols: number };
  labels: Uint8Array;
}

/** A length that holds whole records: what readCifar10 checks from the file's size before reading it. */
function checkLength(length: number, name: string): void {
  if (length === 0 || length % RECORD !== 0)
    throw new CifarFormatError(`${name}: ${length} bytes is not a whole number of ${RECORD}-byte CIFAR-10 records`);
}

/** Parses the records of one CIFAR-10 binary file. */
export function parseCifar10(bytes: Uint8Array, name = 'buffer'): CifarBatch {
  if (!(bytes instanceof Uint8Array)) throw new CifarFormatError(`${name}: expected the file's bytes as a Uint8Array`);
  checkLength(bytes.length, name);
  const rows = bytes.length / RECORD;
  const data = datasetArray(rows * PIXELS);
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const label = bytes[r * RECORD];
    if (label >= CIFAR10_CLASSES.length) throw new CifarFormatError(`${name}: record ${r} has label ${label}, not a class 0 to 9`);
    labels[r] = label;
    const pixels = bytes.subarray(r * RECORD + 1, (r + 1) * RECORD);
    for (let j = 0; j < PIXELS; j++) data[r * PIXELS + j] = pixels[j] / 255;
  }
  return { images: { data, rows, cols: PIXELS }, labels };
}

/** Reads one CIFAR-10 binary file (regular files only, at most `maxBytes`, default 2^30). */
export function readCifar10(file: string, options: { maxBytes?: number } = {}): CifarBatch {
  checkKeys('readCifar10', options, ['maxBytes']);
  const maxBytes = checkNumber('readCifar10', 'maxBytes', options.maxBytes, 2 ** 30, { min: 1, integer: true });
  return parseCifar10(readRegularFile(file, (message) => new CifarFormatError(message),
    { maxBytes, checkSize: (size) => checkLength(size, file) }), file);
}

export interface Cifar10Options {
  /** The folder holding data_batch_1.bin … data_batch_5.bin and test_batch.bin. */
  dir: string;
  /** Each split becomes { x, y (one-hot, 10 columns), labels }. Default false: the images alone. */
  labels?: boolean;
}

/** The CIFAR-10 training (the five batches, in order) and test splits. */
export function cifar10(options: Cifar10Options & { labels: true }): ClassificationDataset;
export function cifar10(options: Cifar10Options): Dataset;
export function cifar10(options: Cifar10Options): Dataset | ClassificationDataset {
  checkKeys('cifar10', options, ['dir', 'labels']);
  if (typeof options?.dir !== 'string') throw new CifarFormatError('cifar10: { dir } must name the folder of the binary files');
  const withLabels = checkBoolean('cifar10', 'labels', options.labels, false);
  const batches = [1, 2, 3, 4, 5].map((i) => readCifar10(path.join(options.dir, `data_batch_${i}.bin`)));
  const rows = batches.reduce((n, b) => n + b.images.rows, 0);
  const data = datasetArray(rows * PIXELS), labels = new Uint8Array(rows);
  let row = 0;
  for (const b of batches) {
    data.set(b.images.data, row * PIXELS);
    labels.set(b.labels, row);
    row += b.images.rows;
  }
  const test = readCifar10(path.join(options.dir, 'test_batch.bin'));
  const train = { data, rows, cols: PIXELS };
  if (!withLabels) return { name: 'cifar10', train: split('train', data, rows, PIXELS), test: split('test', test.images.data, test.images.rows, PIXELS) };
  const classes = CIFAR10_CLASSES.length;
  return {
    name: 'cifar10', classes, classNames: [...CIFAR10_CLASSES], imageShape: [3, 32, 32],
    train: { name: 'train', x: train, y: oneHot(labels, classes), labels },
    test: { name: 'test', x: test.images, y: oneHot(test.labels, classes), labels: test.labels },
  };
}
