// The algebra of the curvature updates: BFGS (algorithm.md §3.5), double damping (§3.4), L-BFGS (§4).
import { addon } from '../lib/binding';
import { maxAbsDiff, naiveGemm, randomArray, seeded, spd } from './helpers';
import { bfgs, doubleDamping, matrix, twoLoop, type Mat } from './reference/spec-reference';

const cv = addon.curvature;
const rnd = seeded(99);
const toMat = (a: Float32Array, n: number): Mat => { const m = matrix(n, n); m.a.set(a); return m; };
const matvec = (h: ArrayLike<number>, n: number, v: ArrayLike<number>) => Array.from(naiveGemm(false, false, n, 1, n, h, n, v, 1));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
const isPositiveDefinite = (h: Float32Array, n: number) => addon.backend.potrf(n, Float32Array.from(h)) === 0;

describe('BFGS inverse update', () => {
  test('satisfies the secant equation H⁺y = s and stays symmetric positive definite', () => {
    const n = 8;
    for (let trial = 0; trial < 5; trial++) {
      const h = spd(n, rnd).map((v) => v / n);
      const s = randomArray(n, rnd);
      const B = spd(n, rnd);  // y = B s gives sᵀy > 0
      const y = Float32Array.from(matvec(B, n, s));
      expect(cv.bfgsUpdate(h, n, s, y, 1)).toBe(true);
      expect(maxAbsDiff(matvec(h, n, y), s)).toBeLessThan(1e-3 * Math.max(...s.map(Math.abs)));
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(Math.abs(h[i * n + j] - h[j * n + i])).toBeLessThan(1e-5);
      expect(isPositiveDefinite(h, n)).toBe(true);
    }
  });

  test('matches the float64 formula of algorithm.md §3.5', () => {
    const n = 6;
    const h = spd(n, rnd).map((v) => v / n);
    const s = randomArray(n, rnd), y = Float32Array.from(matvec(spd(n, rnd), n, s));
    const want = bfgs(toMat(h, n), Float64Array.from(s), Float64Array.from(y), 1).H;
    cv.bfgsUpdate(h, n, s, y, 1);
    expect(maxAbsDiff(h, want.a)).toBeLessThan(1e-4);
  });

  test('skips when sᵀy ≤ 0 or sᵀy ≤ 1e-4·sᵀs·‖ref‖, leaving H unchanged', () => {
    const n = 4;
    const h = spd(n, rnd);
    const before = Float32Array.from(h);
    const s = new Float32Array([1, 0, 0, 0]);
    expect(cv.bfgsUpdate(h, n, s, new Float32Array([-1, 0, 0, 0]), 1)).toBe(false);
    expect(cv.bfgsUpdate(h, n, s, new Float32Array([0, 1, 0, 0]), 1)).toBe(false);       // sᵀy = 0
    expect(cv.bfgsUpdate(h, n, s, new Float32Array([1e-3, 0, 0, 0]), 100)).toBe(false);  // 1e-3 ≤ 1e-4·1·100
    expect(Array.from(h)).toEqual(Array.from(before));
    expect(cv.bfgsUpdate(h, n, s, new Float32Array([1e-3, 0, 0, 0]), 1)).toBe(true);     // 1e-3 > 1e-4
    expect(Array.from(h)).not.toEqual(Array.from(before));
  });
});

describe('double damping', () => {
  const d = 7;
  const setup = (flip: boolean) => {
    const h = spd(d, rnd).map((v) => v / d);
    const s = randomArray(d, rnd);
    let y = randomArray(d, rnd);
    if ((dot(s, y) > 0) === flip) y = y.map((v) => -v);  // flip: make sᵀy < 0 so Powell must fire
    return { h, s, y };
  };

  test.each([0.3, 1, Math.sqrt(3)])('μ₂ = %f: Powell makes sᵀy = 0.2·yᵀHy, then LM gives sᵀy = μ₂·sᵀs', (mu2) => {
    for (let trial = 0; trial < 5; trial++) {
      const { h, s, y } = setup(true);
      const want = doubleDamping((v) => Float64Array.from(matvec(h, d, v)), Float64Array.from(s), Float64Array.from(y), mu2);
      const s0 = Float32Array.from(s), y0 = Float32Array.from(y);
      const r = cv.doubleDamping(h, d, s, y, mu2);
      expect(r.powell).toBe(true);
      expect(r.degenerate).toBe(false);
      expect(maxAbsDiff(s, want.s)).toBeLessThan(1e-4);
      expect(maxAbsDiff(y, want.y)).toBeLessThan(1e-4 * Math.max(1, ...Array.from(want.y, Math.abs)));
      // After step 1 alone (damped s, original y): sᵀy = μ₁ yᵀHy.
      expect(dot(s, y0)).toBeCloseTo(0.2 * dot(y0, matvec(h, d, y0)), 3);
      // After step 2: sᵀy = μ₂ sᵀs if LM fired, else sᵀy > μ₂ sᵀs; either way sᵀy > 0.
      const sy = dot(s, y), ss = dot(s, s);
      if (r.lm) expect(sy).toBeCloseTo(mu2 * ss, 3);
      else expect(sy).toBeGreaterThan(mu2 * ss);
      expect(sy).toBeGreaterThan(0);
      expect(s0).not.toEqual(s);
    }
  });

  test('a pair that already satisfies both tests is left alone', () => {
    const h = new Float32Array(d * d);
    for (let i = 0; i < d; i++) h[i * d + i] = 1;
    const s = randomArray(d, rnd), y = Float32Array.from(s, (v) => 2 * v);  // sᵀy/yᵀHy = 0.5, sᵀy/sᵀs = 2
    const s0 = Float32Array.from(s), y0 = Float32Array.from(y);
    expect(cv.doubleDamping(h, d, s, y, 1)).toEqual({ powell: false, lm: false, degenerate: false });
    expect(s).toEqual(s0);
    expect(y).toEqual(y0);
  });

  test('with μ₂ > 1 the Powell ratio is not rechecked and may fall below μ₁ (algorithm.md §3.4)', () => {
    let below = 0;
    for (let trial = 0; trial < 40; trial++) {
      const { h, s, y } = setup(true);
      cv.doubleDamping(h, d, s, y, Math.sqrt(3));
      if (dot(s, y) / dot(y, matvec(h, d, y)) < 0.2 - 1e-6) below++;
    }
    expect(below).toBeGreaterThan(0);
  });
});

// Both shapes of the products: over the pairs held (the CPU), and over every row of the memory with the unused
// ones padded (a GPU, optim/lbfgs.h), which must give the same operator.
describe.each([false, true])('L-BFGS operator (fixed shape %s)', (fixedShape) => {
  const d = 9, ncols = 4;
  const pairs = (k: number) => {
    const B = spd(d, rnd);
    const S = randomArray(k * d, rnd);
    const Y = new Float32Array(k * d);
    for (let i = 0; i < k; i++) Y.set(matvec(B, d, S.subarray(i * d, (i + 1) * d)), i * d);
    return { S, Y };
  };
  // Dense BFGS from H = I through the given pairs, in float64, applied to V.
  const denseBfgs = (S: Float32Array, Y: Float32Array, from: number, to: number, V: Float32Array) => {
    let H = matrix(d, d);
    for (let i = 0; i < d; i++) H.a[i * d + i] = 1;
    for (let i = from; i < to; i++) H = bfgs(H, Float64Array.from(S.subarray(i * d, (i + 1) * d)), Float64Array.from(Y.subarray(i * d, (i + 1) * d)), 0).H;
    return naiveGemm(false, false, d, ncols, d, H.a, d, V, ncols);
  };

  test('the compact form equals dense BFGS from I while the memory holds every pair', () => {
    const k = 6, { S, Y } = pairs(k), V = randomArray(d * ncols, rnd);
    const { out, size } = cv.lbfgsApply(d, 10, S, Y, k, 0, V, ncols, fixedShape);
    expect(size).toBe(k);
    const want = denseBfgs(S, Y, 0, k, V);
    expect(maxAbsDiff(out, want)).toBeLessThan(1e-3 * Math.max(...Array.from(want, Math.abs)));
  });

  test('when full, the oldest pairs drop: memory 3 after 5 pairs equals BFGS over the last 3', () => {
    const { S, Y } = pairs(5), V = randomArray(d * ncols, rnd);
    const { out, size } = cv.lbfgsApply(d, 3, S, Y, 5, 0, V, ncols, fixedShape);
    expect(size).toBe(3);
    const want = denseBfgs(S, Y, 2, 5, V);
    expect(maxAbsDiff(out, want)).toBeLessThan(1e-3 * Math.max(...Array.from(want, Math.abs)));
    const all = denseBfgs(S, Y, 0, 5, V);
    expect(maxAbsDiff(out, all)).toBeGreaterThan(1e-2);  // differs from keeping all five
  });

  test('an empty memory is the identity; a pair failing yᵀs > 1e-4·sᵀs·‖ref‖ is not stored', () => {
    const V = randomArray(d, rnd);
    expect(Array.from(cv.lbfgsApply(d, 5, new Float32Array(0), new Float32Array(0), 0, 0, V, 1, fixedShape).out)).toEqual(Array.from(V));
    const s = randomArray(d, rnd), y = Float32Array.from(s, (v) => -v);
    expect(cv.lbfgsApply(d, 5, s, y, 1, 1, V, 1, fixedShape).size).toBe(0);
  });

  test('agrees with the two-loop recursion of the reference', () => {
    const k = 4, { S, Y } = pairs(k), v = randomArray(d, rnd);
    const list = Array.from({ length: k }, (_, i) => ({ s: Float64Array.from(S.subarray(i * d, (i + 1) * d)), y: Float64Array.from(Y.subarray(i * d, (i + 1) * d)) }));
    const want = twoLoop(list, Float64Array.from(v));
    const { out } = cv.lbfgsApply(d, 10, S, Y, k, 0, v, 1, fixedShape);
    expect(maxAbsDiff(out, want)).toBeLessThan(1e-3 * Math.max(...Array.from(want, Math.abs)));
  });
});
