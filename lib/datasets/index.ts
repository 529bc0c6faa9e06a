/**
 * The datasets of the paper's three problems: `datasets.mnist()`, `datasets.curvesSynth()`,
 * `datasets.facesSynth()`, and `datasets.curves({ file })` / `datasets.faces({ file })` for users who have the
 * original MAT files. All return a Dataset whose splits `fit` takes directly. `datasets.text({ file, context })`
 * returns token sequences for a language model instead (see text.ts).
 */
import { InvalidArgumentError } from '../errors';
import { checkKeys } from '../options';
import { curvesSynth } from './curves-synth';
import { split, type Dataset } from './dataset';
import { facesSynth } from './faces-synth';
import { MatFormatError, matVariableRows, readMat, type MatVariable } from './mat';
import { fashionMnist, mnist } from './mnist';
import { cifar10 } from './cifar10';
import { text } from './text';

function checkFileOption(where: string, options: unknown): string {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options { file } are required (the path of the MAT file)`);
  checkKeys(where, options, ['file']);
  const { file } = options as { file?: unknown };
  if (typeof file !== 'string' || file === '') throw new InvalidArgumentError(`${where}: file must be the path of the MAT file`);
  return file;
}

function variable(variables: Map<string, MatVariable>, file: string, name: string) {
  const v = variables.get(name);
  if (!v) throw new MatFormatError(`${file}: no numeric variable '${name}'`);
  return v;
}

/** The original CURVES from digs3pts_1.mat: `bdata` (20,000 x 784) train, `bdatatest` (10,000 x 784) test. */
export function curves(options: { file: string }): Dataset {
  const file = checkFileOption('curves', options);
  const variables = readMat(file);
  const train = matVariableRows(variable(variables, file, 'bdata'), 'rows');
  const test = matVariableRows(variable(variables, file, 'bdatatest'), 'rows');
  if (train.cols !== test.cols)
    throw new MatFormatError(`${file}: 'bdata' has ${train.cols} columns but 'bdatatest' has ${test.cols}`);
  return { name: 'curves', train: split('train', train.data, train.rows, train.cols), test: split('test', test.data, test.rows, test.cols) };
}

/** The original FACES from newfaces_rot_single.mat (`newfaces_single`, 625 x 165,600): the first 103,500
 * images train, the last 41,400 test, the 20,700 between them validation (algorithm.md §7.1). */
export function faces(options: { file: string }): Dataset {
  const file = checkFileOption('faces', options);
  const all = matVariableRows(variable(readMat(file), file, 'newfaces_single'), 'columns');
  const train = 103_500, test = 41_400;
  if (all.rows < train + test) throw new MatFormatError(`${file}: ${all.rows} images, expected 165,600`);
  const d = all.cols;
  return {
    name: 'faces',
    train: split('train', all.data.subarray(0, train * d), train, d),
    validation: split('validation', all.data.subarray(train * d, (all.rows - test) * d), all.rows - test - train, d),
    test: split('test', all.data.subarray((all.rows - test) * d), test, d),
  };
}

export { mnist, fashionMnist, curvesSynth, facesSynth, cifar10, text };
