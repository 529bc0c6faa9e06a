/**
 * faces-synth: 165,600 25x25 images regenerated from the 400 Olivetti faces (64x64,
 * AT&T Laboratories Cambridge) by a grid of 46 rotations (−90° to 90° in steps of 4°) and 9 scales (1.40 to
 * 1.80 in steps of 0.05) with bilinear sampling, then centred per pixel and scaled so the average pixel
 * variance is 1. Split by person: 25 train, 5 validation, 10 test. A stand-in for newfaces_rot_single.mat,
 * calibrated to its PCA-30 error; not the same data.
 */
import * as path from 'path';
import { readIdx } from './idx';
import { datasetArray } from '../data';
import { InvalidArgumentError } from '../errors';
import { checkChoice, checkKeys } from '../options';
import { split, type Dataset, type ProgressCallback } from './dataset';

/** [degrees, cos, sin]: a literal table so every implementation samples the same angles (cos ±90° = 0). */
const ANGLES: ReadonlyArray<readonly [number, number, number]> = [
  [-90, 0, -1],
  [-86, 0.069756473744125455, -0.99756405025982420],
  [-82, 0.13917310096006569, -0.99026806874157025],
  [-78, 0.20791169081775945, -0.97814760073380558],
  [-74, 0.27563735581699916, -0.96126169593831889],
  [-70, 0.34202014332566882, -0.93969262078590832],
  [-66, 0.40673664307580021, -0.91354545764260087],
  [-62, 0.46947156278589086, -0.88294759285892688],
  [-58, 0.52991926423320490, -0.84804809615642607],
  [-54, 0.58778525229247314, -0.80901699437494745],
  [-50, 0.64278760968653936, -0.76604444311897801],
  [-46, 0.69465837045899737, -0.71933980033865108],
  [-42, 0.74314482547739424, -0.66913060635885824],
  [-38, 0.78801075360672201, -0.61566147532565818],
  [-34, 0.82903757255504162, -0.55919290347074690],
  [-30, 0.86602540378443871, -0.49999999999999994],
  [-26, 0.89879404629916704, -0.43837114678907740],
  [-22, 0.92718385456678742, -0.37460659341591201],
  [-18, 0.95105651629515353, -0.30901699437494740],
  [-14, 0.97029572627599647, -0.24192189559966773],
  [-10, 0.98480775301220802, -0.17364817766693033],
  [-6, 0.99452189536827329, -0.10452846326765346],
  [-2, 0.99939082701909576, -0.034899496702500969],
  [2, 0.99939082701909576, 0.034899496702500969],
  [6, 0.99452189536827329, 0.10452846326765346],
  [10, 0.98480775301220802, 0.17364817766693033],
  [14, 0.97029572627599647, 0.24192189559966773],
  [18, 0.95105651629515353, 0.30901699437494740],
  [22, 0.92718385456678742, 0.37460659341591201],
  [26, 0.89879404629916704, 0.43837114678907740],
  [30, 0.86602540378443871, 0.49999999999999994],
  [34, 0.82903757255504162, 0.55919290347074690],
  [38, 0.78801075360672201, 0.61566147532565818],
  [42, 0.74314482547739424, 0.66913060635885824],
  [46, 0.69465837045899737, 0.71933980033865108],
  [50, 0.64278760968653936, 0.76604444311897801],
  [54, 0.58778525229247314, 0.80901699437494745],
  [58, 0.52991926423320490, 0.84804809615642607],
  [62, 0.46947156278589086, 0.88294759285892688],
  [66, 0.40673664307580021, 0.91354545764260087],
  [70, 0.34202014332566882, 0.93969262078590832],
  [74, 0.27563735581699916, 0.96126169593831889],
  [78, 0.20791169081775945, 0.97814760073380558],
  [82, 0.13917310096006569, 0.99026806874157025],
  [86, 0.069756473744125455, 0.99756405025982420],
  [90, 0, 1],
];
const SCALES = Array.from({ length: 9 }, (_, j) => (140 + 5 * j) / 100);
const SOURCE = 64, OUT = 25, WINDOW = 56, PER_FACE = ANGLES.length * SCALES.length;  // 414
const PEOPLE_TRAIN = 25, PEOPLE_VALIDATION = 5, FACES_PER_PERSON = 10;

export const FACES_SYNTH_TRANSFORMS = PER_FACE;

/** The shipped Olivetti faces: 400 x 64 x 64 uint8, ten images per person. */
export const OLIVETTI_FILE = path.join(__dirname, '..', '..', 'data', 'olivetti-images-idx3-ubyte');

/** Writes the raw (unnormalised) 625 pixels of transform t (angle-major, then scale) of one 64x64 face. */
export function facesSynthRawImage(face: Uint8Array, transform: number, out: Float64Array | Float32Array, offset = 0): void {
  const [, cos, sin] = ANGLES[Math.floor(transform / SCALES.length)];
  const step = WINDOW / SCALES[transform % SCALES.length] / OUT;
  for (let r = 0; r < OUT; r++) {
    const v = r - 12;
    for (let c = 0; c < OUT; c++) {
      const u = c - 12;
      const x = Math.min(Math.max(31.5 + step * (cos * u - sin * v), 0), SOURCE - 1);
      const y = Math.min(Math.max(31.5 + step * (sin * u + cos * v), 0), SOURCE - 1);
      const c0 = Math.min(Math.floor(x), SOURCE - 2), r0 = Math.min(Math.floor(y), SOURCE - 2);
      const fx = x - c0, fy = y - r0;
      const p = r0 * SOURCE + c0;
      out[offset + r * OUT + c] = (1 - fy) * ((1 - fx) * face[p] + fx * face[p + 1]) +
        fy * ((1 - fx) * face[p + SOURCE] + fx * face[p + SOURCE + 1]);
    }
  }
}

export interface FacesSynthOptions {
  /** An Olivetti-layout IDX file (N x 64 x 64 uint8, ten faces per person). Default: the shipped one. */
  file?: string;
  /** Pixel statistics over 'all' images (default, as in the original) or over the 'train' people only. */
  normalizeOn?: 'all' | 'train';
  /** Called with the fraction done while generating. */
  onProgress?: ProgressCallback;
}

export interface FacesSynthDataset extends Dataset {
  /** The mean of all raw pixels and the single scale factor of the normalisation. */
  readonly stats: { rawMean: number; scale: number };
}

/**
 * Generates faces-synth in one Float32Array (165,600 x 625, 414 MB for the full set); the splits are views
 * into it, in person order.
 */
export function facesSynth(options: FacesSynthOptions = {}): FacesSynthDataset {
  const where = 'facesSynth';
  checkKeys(where, options, ['file', 'normalizeOn', 'onProgress']);
  const normalizeOn = checkChoice(where, 'normalizeOn', options.normalizeOn, 'all', ['all', 'train'] as const);
  const idx = readIdx(options.file ?? OLIVETTI_FILE);
  if (idx.type !== 'uint8' || idx.dims.length !== 3 || idx.dims[1] !== SOURCE || idx.dims[2] !== SOURCE)
    throw new InvalidArgumentError(`${where}: expected N x 64 x 64 uint8 faces, got ${idx.type} ${idx.dims.join(' x ')}`);
  const faces = idx.dims[0];
  if (faces % FACES_PER_PERSON !== 0) throw new InvalidArgumentError(`${where}: ${faces} faces is not ten per person`);
  const dim = OUT * OUT, rows = faces * PER_FACE;
  const data = datasetArray(rows * dim);
  const image = new Float64Array(dim);
  // Per-pixel sums over the rows the statistics cover (all, or the first 25 people).
  const people = faces / FACES_PER_PERSON;
  const trainRows = Math.min(people, PEOPLE_TRAIN) * FACES_PER_PERSON * PER_FACE;
  const statRows = normalizeOn === 'all' ? rows : trainRows;
  const sum = new Float64Array(dim), sumSq = new Float64Array(dim);
  for (let f = 0; f < faces; f++) {
    const face = idx.bytes.subarray(f * SOURCE * SOURCE, (f + 1) * SOURCE * SOURCE);
    for (let t = 0; t < PER_FACE; t++) {
      const row = f * PER_FACE + t;
      facesSynthRawImage(face, t, image);
      if (row < statRows) for (let p = 0; p < dim; p++) { sum[p] += image[p]; sumSq[p] += image[p] * image[p]; }
      data.set(image, row * dim);
    }
    if (options.onProgress && (f + 1) % 20 === 0) options.onProgress((0.9 * (f + 1)) / faces);
  }
  // x <- (x - mean_p) / sqrt(mean over pixels of the per-pixel variance)
  const mean = sum.map((s) => s / statRows);
  let variance = 0;
  for (let p = 0; p < dim; p++) variance += sumSq[p] / statRows - mean[p] * mean[p];
  const scale = Math.sqrt(variance / dim);
  for (let row = 0; row < rows; row++) {
    const o = row * dim;
    for (let p = 0; p < dim; p++) data[o + p] = (data[o + p] - mean[p]) / scale;
  }
  options.onProgress?.(1);
  const validationRows = Math.max(0, Math.min(people - PEOPLE_TRAIN, PEOPLE_VALIDATION)) * FACES_PER_PERSON * PER_FACE;
  const testStart = trainRows + validationRows;
  return {
    name: 'faces-synth',
    train: split('train', data.subarray(0, trainRows * dim), trainRows, dim),
    validation: validationRows > 0 ? split('validation', data.subarray(trainRows * dim, testStart * dim), validationRows, dim) : undefined,
    test: split('test', data.subarray(testStart * dim), rows - testStart, dim),
    stats: { rawMean: mean.reduce((a, b) => a + b, 0) / dim, scale },
  };
}
