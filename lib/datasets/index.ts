/**
 * The datasets of the paper's three problems: `datasets.mnist()`, `datasets.curvesSynth()`,
 * `datasets.facesSynth()`, and `datasets.curves({ file })` / `datasets.faces({ file })` for users who have the
 * original MAT files. All return a Dataset whose splits `fit` takes directly.
 */
import { InvalidArgumentError } from '../errors';
import { checkKeys } from '../options';
import { curvesSynth } from './curves-synth';
import { split, type Dataset } from './dataset';
import { facesSynth } from './faces-synth';
import { matVariableRows, readMat } from './mat';
import { mnist } from './mnist';

function variable(file: unknown, name: string) {
  if (typeof file !== 'string' || file === '') throw new InvalidArgumentError('file must be the path of the MAT file');
  const v = readMat(file).get(name);
  if (!v) throw new InvalidArgumentError(`${file}: no numeric variable '${name}'`);
  return v;
}

/** The original CURVES from digs3pts_1.mat: `bdata` (20,000 x 784) train, `bdatatest` (10,000 x 784) test. */
export function curves(options: { file: string }): Dataset {
  checkKeys('curves', options, ['file']);
  const train = matVariableRows(variable(options.file, 'bdata'), 'rows');
  const test = matVariableRows(variable(options.file, 'bdatatest'), 'rows');
  return { name: 'curves', train: split('train', train.data, train.rows, train.cols), test: split('test', test.data, test.rows, test.cols) };
}

/** The original FACES from newfaces_rot_single.mat (`newfaces_single`, 625 x 165,600): the first 103,500
 * images train, the last 41,400 test, the 20,700 between them validation (spec §7.1). */
export function faces(options: { file: string }): Dataset {
  checkKeys('faces', options, ['file']);
  const all = matVariableRows(variable(options.file, 'newfaces_single'), 'columns');
  const train = 103_500, test = 41_400;
  if (all.rows < train + test) throw new InvalidArgumentError(`${options.file}: ${all.rows} images, expected 165,600`);
  const d = all.cols;
  return {
    name: 'faces',
    train: split('train', all.data.subarray(0, train * d), train, d),
    validation: split('validation', all.data.subarray(train * d, (all.rows - test) * d), all.rows - test - train, d),
    test: split('test', all.data.subarray((all.rows - test) * d), test, d),
  };
}

export { mnist, curvesSynth, facesSynth };
