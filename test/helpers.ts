/** Small shared helpers for the tests: a seeded generator and naive reference math in float64. */
export function seeded(seed: number): () => number {
  // mulberry32: deterministic test data
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, rnd: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rnd() - 1) * scale;
  return a;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** C = op(A) op(B), row-major, float64. */
export function naiveGemm(ta: boolean, tb: boolean, m: number, n: number, k: number, a: ArrayLike<number>, lda: number,
  b: ArrayLike<number>, ldb: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * n + j] = s;
    }
  return c;
}

/** A well-conditioned symmetric positive definite n x n matrix. */
export function spd(n: number, rnd: () => number): Float32Array {
  const r = randomArray(n * n, rnd);
  const a = naiveGemm(false, true, n, n, n, r, n, r, n);
  for (let i = 0; i < n; i++) a[i * n + i] += n;
  return Float32Array.from(a);
}
