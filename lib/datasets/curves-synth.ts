/**
 * curves-synth: seeded 28x28 images of a parabola through three random points,
 * inked by 1024 segments with bilinear splatting, blurred by the binomial kernel [1,4,6,4,1]/16 in both
 * directions, scaled by GAIN = 1.8 and clipped at 1. A stand-in for Hinton & Salakhutdinov's CURVES, which
 * matches it in size, range, loss and PCA-18 error, not in distribution. Only + − * / sqrt floor min on
 * doubles, in a fixed order, so the output is bit-reproducible (golden sha256 in the tests).
 */
import type { Dataset, ProgressCallback } from './dataset';
import { split } from './dataset';
import { checkKeys, checkNumber } from '../options';
import { datasetArray } from '../data';

/** mulberry32: a double in [0, 1) per call. */
export function mulberry32(seed: number): () => number {
  checkNumber('mulberry32', 'seed', seed, NaN, { min: 0, max: 2 ** 32 - 1, integer: true });
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZE = 28, CANVAS = 32, K = 1024, GAIN = 1.8;
const B = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

function median(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
}

/** Writes one image (784 doubles, row-major) into out at offset, drawing from rnd. */
export function curveImage(rnd: () => number, out: Float64Array | Float32Array, offset: number,
  acc: Float64Array = new Float64Array(CANVAS * CANVAS), tmp: Float64Array = new Float64Array(CANVAS * SIZE)): void {
  let x0: number, x1: number, x2: number;
  for (;;) {
    const a = 2 + 24 * rnd(), b = 2 + 24 * rnd(), c = 2 + 24 * rnd();
    // ascending order of three values without allocating
    x0 = Math.min(a, b, c);
    x2 = Math.max(a, b, c);
    x1 = median(a, b, c);
    if (x1 - x0 >= 2 && x2 - x1 >= 2) break;
  }
  const y0 = 2 + 24 * rnd(), y1 = 2 + 24 * rnd(), y2 = 2 + 24 * rnd();
  // the parabola through the three points (spec order of operations; denominators evaluated once)
  const d0 = (x0 - x1) * (x0 - x2), d1 = (x1 - x0) * (x1 - x2), d2 = (x2 - x0) * (x2 - x1);
  const f = (t: number) => y0 * (t - x1) * (t - x2) / d0 + y1 * (t - x0) * (t - x2) / d1 + y2 * (t - x0) * (t - x1) / d2;
  acc.fill(0);
  let px = x0, py = f(x0);
  for (let i = 1; i <= K; i++) {
    const qx = x0 + (x2 - x0) * i / K, qy = f(qx);
    const L = Math.sqrt((qx - px) * (qx - px) + (qy - py) * (qy - py));
    const mx = (px + qx) / 2, my = (py + qy) / 2;
    const c0 = Math.floor(mx), r0 = Math.floor(my), fx = mx - c0, fy = my - r0;
    for (let dr = 0; dr < 2; dr++) {
      const r = r0 + dr;
      if (r < -2 || r >= 30) continue;
      const wr = dr === 0 ? 1 - fy : fy;
      for (let dc = 0; dc < 2; dc++) {
        const c = c0 + dc;
        if (c < -2 || c >= 30) continue;
        const wc = dc === 0 ? 1 - fx : fx;
        acc[(r + 2) * CANVAS + c + 2] += L * wr * wc;
      }
    }
    px = qx;
    py = qy;
  }
  for (let r = 0; r < CANVAS; r++)
    for (let c = 0; c < SIZE; c++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += B[k] * acc[r * CANVAS + c + k];
      tmp[r * SIZE + c] = s;
    }
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += B[k] * tmp[(r + k) * SIZE + c];
      out[offset + r * SIZE + c] = Math.min(GAIN * s, 1);
    }
}

export interface CurvesSynthOptions {
  /** Default 1. */
  seed?: number;
  /** Default 20,000. */
  trainSize?: number;
  /** Default 10,000. */
  testSize?: number;
  /** Called with the fraction done while generating (at most every 5% of the images). */
  onProgress?: ProgressCallback;
}

/** Generates curves-synth: one mulberry32 stream, the first trainSize images train, the next testSize test. */
export function curvesSynth(options: CurvesSynthOptions = {}): Dataset {
  const where = 'curvesSynth';
  checkKeys(where, options, ['seed', 'trainSize', 'testSize', 'onProgress']);
  const seed = checkNumber(where, 'seed', options.seed, 1, { min: 0, max: 2 ** 32 - 1, integer: true });
  const trainSize = checkNumber(where, 'trainSize', options.trainSize, 20_000, { min: 1, integer: true });
  const testSize = checkNumber(where, 'testSize', options.testSize, 10_000, { min: 1, integer: true });
  const total = trainSize + testSize, dim = SIZE * SIZE;
  const data = datasetArray(total * dim);
  const rnd = mulberry32(seed);
  const acc = new Float64Array(CANVAS * CANVAS), tmp = new Float64Array(CANVAS * SIZE);
  const every = Math.max(1, Math.floor(total / 20));
  for (let i = 0; i < total; i++) {
    curveImage(rnd, data, i * dim, acc, tmp);
    if (options.onProgress && (i + 1) % every === 0) options.onProgress((i + 1) / total);
  }
  return {
    name: 'curves-synth',
    train: split('train', data.subarray(0, trainSize * dim), trainSize, dim),
    test: split('test', data.subarray(trainSize * dim), testSize, dim),
  };
}
