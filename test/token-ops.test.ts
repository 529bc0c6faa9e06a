// The token layers' backend operations (algorithm.md §18.9) against naive float64 loops of §18.1, §18.2, §18.4
// and §18.5, with padded row strides (the padding must stay untouched). The layers built on them are checked
// against finite differences and the float64 oracle in test/transformer.test.ts and the golden suite; the CUDA
// backend's versions against these in test/parity/cuda-parity.js.
import { addon } from '../lib/binding';
import { maxAbsDiff, randomArray, seeded } from './helpers';

const be = addon.backend;
const rnd = seeded(18);
const ids = (n: number, classes: number) => Float32Array.from({ length: n }, () => Math.floor(rnd() * classes));

test('copyRows, addRows and multiplyRows write width values of each row and leave the padding', () => {
  const rows = 5, width = 4, a = randomArray(rows * 6, rnd), b = randomArray(rows * 5, rnd);
  const copied = randomArray(rows * 7, rnd), sum = randomArray(rows * 7, rnd), product = randomArray(rows * 7, rnd);
  const before = [Float32Array.from(copied), Float32Array.from(sum), Float32Array.from(product)];
  be.copyRows(a, 6, copied, 7, rows, width);
  be.addRows(a, 6, b, 5, sum, 7, rows, width);
  be.multiplyRows(a, 6, b, 5, product, 7, rows, width);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < 7; c++) {
      const i = r * 7 + c, x = a[r * 6 + c], y = b[r * 5 + c];
      expect(copied[i]).toBe(c < width ? x : before[0][i]);
      expect(sum[i]).toBe(c < width ? Math.fround(x + y) : before[1][i]);
      expect(product[i]).toBe(c < width ? Math.fround(x * y) : before[2][i]);
    }
});

test('firstBadId finds the first id that is not a whole number in [0, classes); oneHot expands valid ids', () => {
  const x = ids(6 * 5, 9);
  expect(be.firstBadId(x, 6, 4, 5, 9)).toBe(-1);
  x[3 * 5 + 4] = 9;  // in the padding column: not read
  expect(be.firstBadId(x, 6, 4, 5, 9)).toBe(-1);
  for (const [at, bad] of [[4 * 5 + 2, 9], [2 * 5 + 1, 0.5], [1 * 5 + 3, -1], [1 * 5 + 0, NaN]] as const) {
    x[at] = bad;
    expect(be.firstBadId(x, 6, 4, 5, 9)).toBe(Math.floor(at / 5) * 4 + (at % 5));
  }
  const valid = ids(7, 5), out = randomArray(7 * 5, rnd);
  be.oneHot(valid, 5, out);
  expect(Array.from(out)).toEqual(Array.from({ length: 35 }, (_, i) => (i % 5 === valid[Math.floor(i / 5)] ? 1 : 0)));
  expect(() => be.oneHot(Float32Array.of(1, 5), 5, new Float32Array(10))).toThrow(/out of range/);
});

test.each([true, false])('embeddingForward (positional %s): two-hot rows and W\'s columns; the weight gradient scatter-adds', (positional) => {
  const V = 11, T = 4, w = 6, m = 3, n = V + (positional ? T : 0) + 1, ldIds = 5, ldo = 8, ldg = 7;
  const shape = { vocabulary: V, tokens: T, width: w, positional };
  const x = ids(m * ldIds, V), W = randomArray(w * n, rnd);
  const abar = randomArray(m * T * n, rnd), h = randomArray(m * T * w, rnd), out = randomArray(m * T * ldo, rnd);
  be.embeddingForward(shape, x, ldIds, m, W, abar, h, out, ldo);
  const g = randomArray(m * T * ldg, rnd), grad = randomArray(w * n, rnd), expected = new Float64Array(w * n);
  be.embeddingWeightGradient(shape, x, ldIds, m, abar, g, ldg, 0.25, grad);
  for (let r = 0; r < m * T; r++) {
    const t = r % T, v = x[Math.floor(r / T) * ldIds + t];
    const hot = [v, n - 1, ...(positional ? [V + t] : [])];
    expect(Array.from(abar.subarray(r * n, (r + 1) * n))).toEqual(Array.from({ length: n }, (_, j) => (hot.includes(j) ? 1 : 0)));
    for (let c = 0; c < w; c++) {
      const e = hot.reduce((s, j) => s + W[c * n + j], 0);
      expect(Math.abs(h[r * w + c] - e)).toBeLessThan(1e-6);
      expect(out[r * ldo + c]).toBe(h[r * w + c]);
      for (const j of hot) expected[c * n + j] += 0.25 * g[r * ldg + c];
    }
  }
  expect(maxAbsDiff(grad, expected)).toBeLessThan(1e-6);
  const bad = Float32Array.from(x);
  bad[(m - 1) * ldIds + T - 1] = V;
  expect(() => be.embeddingForward(shape, bad, ldIds, m, W, abar, h, out, ldo)).toThrow(/out of range/);
});

test('layerNormForward and layerNormBackward follow §18.2 in float64', () => {
  const rows = 7, width = 9, ldx = 10, ldy = 11, ldg = 12, lddx = 13, batch = 3;
  const x = randomArray(rows * ldx, rnd, 3), W = randomArray(2 * width, rnd);
  const xhat = new Float32Array(rows * width), inv = new Float32Array(rows), y = randomArray(rows * ldy, rnd);
  be.layerNormForward(x, ldx, rows, width, W, xhat, inv, y, ldy);
  const g = randomArray(rows * ldg, rnd), dx = randomArray(rows * lddx, rnd), dW = randomArray(2 * width, rnd);
  be.layerNormBackward(g, ldg, xhat, inv, rows, width, W, batch, dW, dx, lddx);
  const expectedW = new Float64Array(2 * width);
  for (let r = 0; r < rows; r++) {
    const xr = Array.from(x.subarray(r * ldx, r * ldx + width));
    const mean = xr.reduce((s, v) => s + v, 0) / width;
    const invStd = 1 / Math.sqrt(xr.reduce((s, v) => s + (v - mean) ** 2, 0) / width + 1e-5);
    expect(Math.abs(inv[r] - invStd) / invStd).toBeLessThan(1e-6);
    const xh = xr.map((v) => (v - mean) * invStd);
    const d = xh.map((_, c) => W[2 * c] * g[r * ldg + c]);
    const meanD = d.reduce((s, v) => s + v, 0) / width, meanDx = d.reduce((s, v, c) => s + v * xh[c], 0) / width;
    for (let c = 0; c < width; c++) {
      expect(Math.abs(xhat[r * width + c] - xh[c])).toBeLessThan(1e-5);
      expect(Math.abs(y[r * ldy + c] - (W[2 * c] * xh[c] + W[2 * c + 1]))).toBeLessThan(1e-5);
      expect(Math.abs(dx[r * lddx + c] - invStd * (d[c] - meanD - xh[c] * meanDx))).toBeLessThan(1e-4 * invStd);
      expectedW[2 * c] += g[r * ldg + c] * xh[c] / batch;
      expectedW[2 * c + 1] += g[r * ldg + c] / batch;
    }
  }
  expect(maxAbsDiff(dW, expectedW)).toBeLessThan(1e-5);
});

test('attentionForward and attentionBackward: the causal softmax and its gradient (§18.4) in float64', () => {
  const shape = { tokens: 5, heads: 2, headWidth: 3 }, T = 5, H = 2, dh = 3, w = 6, m = 2, ld = 3 * w + 2, ldo = w + 1;
  const qkv = randomArray(m * T * ld, rnd, 2), P = new Float32Array(m * H * T * T), out = randomArray(m * T * ldo, rnd);
  be.attentionForward(shape, qkv, ld, m, P, out, ldo);
  const dout = randomArray(m * T * ldo, rnd), dqkv = randomArray(m * T * ld, rnd);
  be.attentionBackward(shape, qkv, ld, P, dout, ldo, m, dqkv, ld);
  const at = (i: number, t: number, part: number, h: number, d: number) => (i * T + t) * ld + part * w + h * dh + d;
  for (let i = 0; i < m; i++)
    for (let h = 0; h < H; h++) {
      const p = Array.from({ length: T }, () => new Float64Array(T));
      const grad = Array.from({ length: 3 }, () => Array.from({ length: T }, () => new Float64Array(dh)));
      for (let t = 0; t < T; t++) {
        const s = Array.from({ length: t + 1 }, (_, u) => {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += qkv[at(i, t, 0, h, d)] * qkv[at(i, u, 1, h, d)];
          return dot / Math.sqrt(dh);
        });
        const top = Math.max(...s), e = s.map((v) => Math.exp(v - top)), sum = e.reduce((a, b) => a + b, 0);
        e.forEach((v, u) => { p[t][u] = v / sum; });
        for (let u = 0; u < T; u++) expect(Math.abs(P[((i * H + h) * T + t) * T + u] - p[t][u])).toBeLessThan(1e-6);
        for (let d = 0; d < dh; d++) {
          let o = 0;
          for (let u = 0; u <= t; u++) o += p[t][u] * qkv[at(i, u, 2, h, d)];
          expect(Math.abs(out[(i * T + t) * ldo + h * dh + d] - o)).toBeLessThan(1e-5);
        }
        // dv_u += P_tu dout_t; D_tu = dout_t · v_u; dS_tu = P_tu (D_tu − Σ P D) / √dh; dq_t += dS k_u, dk_u += dS q_t
        const go = (d: number) => dout[(i * T + t) * ldo + h * dh + d];
        const D = Array.from({ length: t + 1 }, (_, u) => {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += go(d) * qkv[at(i, u, 2, h, d)];
          return dot;
        });
        const mean = D.reduce((a, v, u) => a + p[t][u] * v, 0);
        for (let u = 0; u <= t; u++) {
          const dS = (p[t][u] * (D[u] - mean)) / Math.sqrt(dh);
          for (let d = 0; d < dh; d++) {
            grad[2][u][d] += p[t][u] * go(d);
            grad[0][t][d] += dS * qkv[at(i, u, 1, h, d)];
            grad[1][u][d] += dS * qkv[at(i, t, 0, h, d)];
          }
        }
      }
      for (let part = 0; part < 3; part++)
        for (let t = 0; t < T; t++)
          for (let d = 0; d < dh; d++) expect(Math.abs(dqkv[at(i, t, part, h, d)] - grad[part][t][d])).toBeLessThan(1e-5);
    }
});

// The mask's pass count comes from a counter in backend memory (§18.5, §18.9): value k of a pass is 0 when
// uniform_at(splitmix64(seed + c·φ), first + k) < rate, else 1/(1 − rate), computed here in BigInt.
test('dropoutMask draws from the pass count in the counter; advanceCounter adds one', () => {
  const bits = (1n << 64n) - 1n, phi = 0x9e3779b97f4a7c15n;
  const mix = (z: bigint) => {
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & bits;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & bits;
    return z ^ (z >> 31n);
  };
  const uniformAt = (seed: bigint, i: bigint) => Number(mix((seed + (i + 1n) * phi) & bits) >> 11n) * 2 ** -53;
  const counter = new Float32Array(2), words = new Uint32Array(counter.buffer);
  words.set([0xffffffff, 2]);
  for (const c of [(2n << 32n) + 0xffffffffn, 3n << 32n]) {
    const mask = new Float32Array(500);
    be.dropoutMask(0.25, 77, counter, 1000, mask);
    const seed = mix((77n + c * phi) & bits);
    expect(Array.from(mask)).toEqual(Array.from(mask, (_, k) => (uniformAt(seed, 1000n + BigInt(k)) < 0.25 ? 0 : Math.fround(1 / 0.75))));
    expect(mask.filter((v) => v === 0).length).toBeGreaterThan(80);
    be.advanceCounter(counter);
  }
  expect(Array.from(words)).toEqual([1, 3]);
});
