// Every Backend operation against a naive float64 loop (the ggml-style op harness).
import { addon } from '../lib/binding';
import { maxAbsDiff, naiveGemm, randomArray, seeded, spd } from './helpers';
import { symmetricEigen } from './reference/spec-reference';

const be = addon.backend;
const rnd = seeded(42);

describe(`backend '${be.name}'`, () => {
  test.each([
    [false, false], [true, false], [false, true], [true, true],
  ])('gemm transA=%s transB=%s with alpha, beta and leading dimensions', (ta, tb) => {
    const m = 7, n = 5, k = 9, pad = 3;
    const lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    const a = randomArray((ta ? k : m) * lda, rnd), b = randomArray((tb ? n : k) * ldb, rnd);
    const c = randomArray(m * ldc, rnd);
    const c0 = Float32Array.from(c);
    be.gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc);
    const ab = naiveGemm(ta, tb, m, n, k, a, lda, b, ldb);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) expect(c[i * ldc + j]).toBeCloseTo(0.5 * ab[i * n + j] + 2 * c0[i * ldc + j], 4);
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j]).toBe(c0[i * ldc + j]);  // padding untouched
    }
  });

  // n = 587: ten 64-row bands of the mirrored triangle, copied by two threads.
  test.each([[false, 6], [true, 6], [true, 587]])('syrk trans=%s n=%i fills both triangles', (trans, n) => {
    const k = 11;
    const a = randomArray(n * k, rnd);
    const c = randomArray(n * n, rnd);
    const c0 = Float32Array.from(c);
    be.syrk(trans, n, k, 0.25, a, trans ? n : k, 0.5, c, n);
    // trans: C = A^T A with A k x n; else C = A A^T with A n x k.
    const ref = trans ? naiveGemm(true, false, n, n, k, a, n, a, n) : naiveGemm(false, true, n, n, k, a, k, a, k);
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        // beta scales the triangle SYRK reads (lower); the mirrored upper equals the lower.
        const lower = Math.max(i, j) * n + Math.min(i, j);
        worst = Math.max(worst, Math.abs(c[i * n + j] - (0.25 * ref[i * n + j] + 0.5 * c0[lower])));
      }
    expect(worst).toBeLessThan(1e-4);
  });

  test.each([false, true])('gemv trans=%s', (trans) => {
    const m = 5, n = 8;
    const a = randomArray(m * n, rnd), x = randomArray(trans ? m : n, rnd), y = randomArray(trans ? n : m, rnd);
    const y0 = Float32Array.from(y);
    be.gemv(trans, m, n, 2, a, n, x, -1, y);
    const ref = naiveGemm(trans, false, trans ? n : m, 1, trans ? m : n, a, n, x, 1);
    expect(maxAbsDiff(y, ref.map((v, i) => 2 * v - y0[i]))).toBeLessThan(1e-5);
  });

  test('ger adds alpha x y^T', () => {
    const m = 4, n = 6;
    const x = randomArray(m, rnd), y = randomArray(n, rnd), a = randomArray(m * n, rnd);
    const a0 = Float32Array.from(a);
    be.ger(m, n, 3, x, y, a, n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expect(a[i * n + j]).toBeCloseTo(a0[i * n + j] + 3 * x[i] * y[j], 5);
  });

  test('potrf gives L with L L^T = A, potri the inverse, potrs solves', () => {
    const n = 9, nrhs = 3;
    const a = spd(n, rnd);
    const l = Float32Array.from(a);
    expect(be.potrf(n, l)).toBe(0);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) l[i * n + j] = 0;  // keep the lower factor
    const llt = naiveGemm(false, true, n, n, n, l, n, l, n);
    expect(maxAbsDiff(llt, a)).toBeLessThan(1e-3);

    const inv = Float32Array.from(a);
    expect(be.potrf(n, inv)).toBe(0);
    expect(be.potri(n, inv)).toBe(0);
    const eye = naiveGemm(false, false, n, n, n, a, n, inv, n);
    expect(maxAbsDiff(eye, Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)))).toBeLessThan(1e-4);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(inv[i * n + j]).toBe(inv[j * n + i]);

    const b = randomArray(n * nrhs, rnd);
    const x = Float32Array.from(b);
    expect(be.potrs(n, nrhs, l, x)).toBe(0);
    expect(maxAbsDiff(naiveGemm(false, false, n, nrhs, n, a, n, x, nrhs), b)).toBeLessThan(1e-4);
  });

  test('potrf reports a matrix that is not positive definite', () => {
    const a = new Float32Array([1, 2, 2, 1]);  // eigenvalues 3 and -1
    expect(be.potrf(2, a)).toBe(2);
  });

  // Symmetric eigendecomposition (Shampoo's roots, SOAP's bases; algorithm.md §17.2): A = Eᵀ diag(w) E with
  // orthonormal rows E, w ascending and equal to the float64 reference's. Indefinite, rank-deficient (a zero
  // eigenvalue repeated seven times) and larger (more Jacobi sweeps on WebAssembly).
  test.each([['indefinite', 12, 0], ['rank 3 of 10', 10, 3], ['positive definite', 150, 0]] as const)(
    'symmetricEigen: %s, n = %i', (_kind, n, rank) => {
      const own = seeded(17 + n);
      let a: Float32Array;
      if (rank > 0) {
        const g = randomArray(n * rank, own);
        a = Float32Array.from(naiveGemm(false, true, n, n, rank, g, rank, g, rank));
      } else if (n > 100) {
        a = spd(n, own);
      } else {
        const r = randomArray(n * n, own);
        a = Float32Array.from({ length: n * n }, (_, i) => r[i] + r[(i % n) * n + Math.floor(i / n)]);
      }
      const e = Float32Array.from(a), w = new Float32Array(n);
      expect(be.symmetricEigen(n, e, w)).toBe(0);
      const scale = Math.max(...Array.from(w, Math.abs));
      for (let i = 1; i < n; i++) expect(w[i]).toBeGreaterThanOrEqual(w[i - 1]);
      const ete = naiveGemm(false, true, n, n, n, e, n, e, n);  // E Eᵀ = I
      expect(maxAbsDiff(ete, Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)))).toBeLessThan(1e-5 * Math.sqrt(n));
      const scaled = Float64Array.from(e, (v, i) => v * w[Math.floor(i / n)]);
      const back = naiveGemm(true, false, n, n, n, e, n, scaled, n);  // Eᵀ diag(w) E = A
      expect(maxAbsDiff(back, a)).toBeLessThan(1e-5 * scale * Math.sqrt(n));
      const want = symmetricEigen({ rows: n, cols: n, a: Float64Array.from(a) }).values;
      expect(maxAbsDiff(w, want)).toBeLessThan(1e-6 * scale);
      if (rank > 0) expect(Math.max(...Array.from(w.slice(0, n - rank), Math.abs))).toBeLessThan(1e-6 * scale);
    });

  const activations: Array<[number, string, (h: number) => number, (h: number) => number]> = [
    [0, 'linear', (h) => h, () => 1],
    [1, 'relu', (h) => Math.max(h, 0), (h) => (h > 0 ? 1 : 0)],
    [2, 'sigmoid', (h) => 1 / (1 + Math.exp(-h)), (h) => { const s = 1 / (1 + Math.exp(-h)); return s * (1 - s); }],
    [3, 'tanh', Math.tanh, (h) => 1 - Math.tanh(h) ** 2],
    // GELU's tanh form (algorithm.md §18.3), with u = √(2/π)(h + 0.044715 h³)
    [4, 'gelu', (h) => 0.5 * h * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (h + 0.044715 * h ** 3))), (h) => {
      const t = Math.tanh(Math.sqrt(2 / Math.PI) * (h + 0.044715 * h ** 3));
      return 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * h * h);
    }],
  ];
  test.each(activations)('activation %s (%s) forward and backward', (act, _name, f, df) => {
    const m = 3, d = 7;
    const h = randomArray(m * d, rnd, 4);
    const out = new Float32Array(m * d);
    be.activationForward(act, h, m, d, out);
    const g = randomArray(m * d, rnd);
    const g0 = Float32Array.from(g);
    be.activationBackward(act, h, m, d, g);
    expect(maxAbsDiff(out, Array.from(h, f))).toBeLessThan(1e-6);
    expect(maxAbsDiff(g, Array.from(h, (v, i) => g0[i] * df(v)))).toBeLessThan(1e-6);
  });

  test('losses and their output gradients', () => {
    const m = 4, d = 5;
    const z = randomArray(m * d, rnd, 5);
    const t = Float32Array.from({ length: m * d }, () => rnd());
    const grad = new Float32Array(m * d);
    // sigmoid cross-entropy on logits
    let ref = 0;
    for (let i = 0; i < m * d; i++) ref += -(t[i] * Math.log(1 / (1 + Math.exp(-z[i]))) + (1 - t[i]) * Math.log(1 - 1 / (1 + Math.exp(-z[i]))));
    expect(be.loss(0, z, t, m, d, grad)).toBeCloseTo(ref, 4);
    expect(maxAbsDiff(grad, Array.from(z, (v, i) => 1 / (1 + Math.exp(-v)) - t[i]))).toBeLessThan(1e-6);
    // half squared error
    ref = 0;
    for (let i = 0; i < m * d; i++) ref += 0.5 * (z[i] - t[i]) ** 2;
    expect(be.loss(1, z, t, m, d, grad)).toBeCloseTo(ref, 4);
    expect(maxAbsDiff(grad, Array.from(z, (v, i) => v - t[i]))).toBeLessThan(1e-6);
    // softmax cross-entropy with one-hot targets
    const onehot = new Float32Array(m * d);
    for (let i = 0; i < m; i++) onehot[i * d + (i % d)] = 1;
    ref = 0;
    const p = new Float64Array(m * d);
    for (let i = 0; i < m; i++) {
      const row = Array.from(z.subarray(i * d, (i + 1) * d));
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      ref += lse - row[i % d];
      row.forEach((v, j) => (p[i * d + j] = Math.exp(v - lse)));
    }
    expect(be.loss(2, z, onehot, m, d, grad)).toBeCloseTo(ref, 4);
    expect(maxAbsDiff(grad, Array.from(p, (v, i) => v - onehot[i]))).toBeLessThan(1e-6);
  });

  test('lossSquareSum: the sum of the squared per-sample losses (algorithm.md §11.2)', () => {
    const m = 7, d = 3;
    const z = randomArray(m * d, rnd, 5);
    const t = Float32Array.from({ length: m * d }, () => rnd());
    const rowLosses = Array.from({ length: m }, (_, i) => {
      let row = 0;
      for (let j = i * d; j < (i + 1) * d; j++) row += 0.5 * (z[j] - t[j]) ** 2;
      return row;
    });
    const expected = rowLosses.reduce((s, v) => s + v * v, 0);
    expect(be.lossSquareSum(1, z, t, m, d)).toBeCloseTo(expected, 3);
    // not the square of the summed loss: the rows are squared one by one
    expect(Math.abs(be.lossSquareSum(1, z, t, m, d) - rowLosses.reduce((s, v) => s + v, 0) ** 2)).toBeGreaterThan(1);
  });

  test('columnMean', () => {
    const m = 6, cols = 4;
    const a = randomArray(m * cols, rnd);
    const out = new Float32Array(cols);
    be.columnMean(a, m, cols, out);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += a[i * cols + j];
      expect(out[j]).toBeCloseTo(s / m, 6);
    }
  });

  describe('image ops against naive loops (algorithm.md §12.1)', () => {
    // The value of image i at (c, y, x) in either layout.
    const at = (shape: { channels: number; height: number; width: number; channelsFirst: boolean }, c: number, y: number, x: number) =>
      shape.channelsFirst ? (c * shape.height + y) * shape.width + x : (y * shape.width + x) * shape.channels + c;
    const shapes = [
      { channels: 3, height: 5, width: 6, channelsFirst: true, kernelH: 3, kernelW: 2, stride: 2, padding: 1, bias: true },
      { channels: 4, height: 6, width: 5, channelsFirst: false, kernelH: 3, kernelW: 3, stride: 1, padding: 1, bias: false },
      { channels: 1, height: 7, width: 7, channelsFirst: true, kernelH: 5, kernelW: 5, stride: 1, padding: 2, bias: true },
    ];
    test.each(shapes)('im2col and its adjoint col2im, %o', (shape) => {
      const m = 2, C = shape.channels, size = C * shape.height * shape.width;
      const oh = Math.floor((shape.height + 2 * shape.padding - shape.kernelH) / shape.stride) + 1;
      const ow = Math.floor((shape.width + 2 * shape.padding - shape.kernelW) / shape.stride) + 1;
      const K = shape.kernelH * shape.kernelW * C, T = oh * ow;
      const x = randomArray(m * size, rnd);
      const patches = new Float32Array(m * T * (K + 1));
      be.im2col(shape, x, m, patches);
      const want = new Float32Array(m * T * (K + 1));
      for (let i = 0; i < m; i++) for (let t = 0; t < T; t++) {
        const row = (i * T + t) * (K + 1);
        for (let ky = 0; ky < shape.kernelH; ky++) for (let kx = 0; kx < shape.kernelW; kx++) for (let c = 0; c < C; c++) {
          const y = Math.floor(t / ow) * shape.stride - shape.padding + ky, xx = (t % ow) * shape.stride - shape.padding + kx;
          const inside = y >= 0 && y < shape.height && xx >= 0 && xx < shape.width;
          want[row + (ky * shape.kernelW + kx) * C + c] = inside ? x[i * size + at(shape, c, y, xx)] : 0;
        }
        want[row + K] = shape.bias ? 1 : 0;
      }
      expect(patches).toEqual(want);
      // col2im is im2col's adjoint: <im2col(x), P> = <x, col2im(P)> for the patch columns
      const ld = K + 3, dp = randomArray(m * T * ld, rnd), dx = new Float32Array(m * size);
      be.col2im(shape, dp, ld, m, dx);
      let lhs = 0, rhs = 0;
      for (let r = 0; r < m * T; r++) for (let j = 0; j < K; j++) lhs += want[r * (K + 1) + j] * dp[r * ld + j];
      x.forEach((v, i) => (rhs += v * dx[i]));
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    });

    // The runs with KBFGS_ONEDNN=all (package.json's test) must have reached oneDNN's kernels (scripts/setup.sh
    // installs libdnnl2), or the conv tests below would check the patch path twice.
    test('the convolutions\' direct kernels: oneDNN where asked for, none where turned off (§12.7)', () => {
      const used = addon.blasKernels().convolutions;
      if (process.env.KBFGS_ONEDNN === 'all') expect(used).toMatch(/^oneDNN 2\.\d+\.\d+/);
      else if (process.env.KBFGS_ONEDNN === 'off') expect(used).toMatch(/^off/);
      else expect(used.length).toBeGreaterThan(0);
    });

    // Five images: the passes cut the batch into chunks (at most half of it each), so each chunk's offsets count.
    test.each(shapes)('the convolution passes against im2col, col2im and naive products (§12.6), %o', (shape) => {
      const m = 5, d = 3, size = shape.channels * shape.height * shape.width;
      const oh = Math.floor((shape.height + 2 * shape.padding - shape.kernelH) / shape.stride) + 1;
      const ow = Math.floor((shape.width + 2 * shape.padding - shape.kernelW) / shape.stride) + 1;
      const n = shape.kernelH * shape.kernelW * shape.channels + 1, rows = m * oh * ow;
      const x = randomArray(m * size, rnd), w = randomArray(d * n, rnd), g = randomArray(rows * d, rnd);
      const wantPatches = new Float32Array(rows * n);
      be.im2col(shape, x, m, wantPatches);
      const patches = new Float32Array(rows * n), h = new Float32Array(rows * d);
      be.convForward(shape, x, m, w, d, patches, h);
      expect(patches).toEqual(wantPatches);
      expect(maxAbsDiff(h, Array.from(naiveGemm(false, true, rows, d, n, wantPatches, n, w, n)))).toBeLessThan(1e-5);
      const dw = new Float32Array(d * n);
      be.convBackwardWeights(shape, g, patches, m, d, 0.5, dw);
      const wantDw = Array.from(naiveGemm(true, false, d, n, rows, g, d, wantPatches, n), (v) => 0.5 * v);
      expect(maxAbsDiff(dw, wantDw)).toBeLessThan(1e-5);
      // Kept patches and the images: a direct kernel reads the images where one is chosen (§12.7)
      const dwKept = new Float32Array(d * n);
      be.convBackwardWeights(shape, g, patches, m, d, 0.5, dwKept, x);
      expect(maxAbsDiff(dwKept, wantDw)).toBeLessThan(1e-5);
      const h2 = new Float32Array(rows * d), dw2 = new Float32Array(d * n);
      // No patches kept: formed in a scratch and dropped, or none at all where oneDNN's kernel runs (§12.7)
      be.convForward(shape, x, m, w, d, null, h2);
      expect(maxAbsDiff(h2, Array.from(naiveGemm(false, true, rows, d, n, wantPatches, n, w, n)))).toBeLessThan(1e-5);
      be.convBackwardWeightsFromImages(shape, g, x, m, d, 0.5, dw2);
      expect(maxAbsDiff(dw2, wantDw)).toBeLessThan(1e-5);
      const dx = new Float32Array(m * size), wantDx = new Float32Array(m * size);
      be.convBackwardData(shape, g, m, w, d, dx);
      be.col2im(shape, Float32Array.from(naiveGemm(false, false, rows, n, d, g, d, w, n)), n, m, wantDx);
      expect(maxAbsDiff(dx, Array.from(wantDx))).toBeLessThan(1e-5);
    });

    test.each([[1, 2, 2, 2, 2], [1, 3, 2, 2, 1], [2, 2, 3, 2, 3], [2, 3, 3, 1, 1], [0, 1, 1, 1, 1]])(
      'pooling kind %i, window %ix%i, stride %ix%i, and its adjoint', (kind, sizeH, sizeW, strideH, strideW) => {
        const m = 2, C = 3, H = 7, W = 6, shape = { kind, channels: C, height: H, width: W, sizeH, sizeW, strideH, strideW };
        const oh = kind ? Math.floor((H - sizeH) / strideH) + 1 : H, ow = kind ? Math.floor((W - sizeW) / strideW) + 1 : W;
        const out = C * oh * ow, ldy = out + 2, x = randomArray(m * C * H * W, rnd);
        const y = new Float32Array(m * ldy);
        be.poolForward(shape, x, m, y, ldy);
        const dy = randomArray(m * ldy, rnd), dx = new Float32Array(m * C * H * W);
        be.poolBackward(shape, x, dy, ldy, m, dx);
        const wantDx = new Float64Array(dx.length);
        for (let i = 0; i < m; i++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let c = 0; c < C; c++) {
          const cells: number[] = [];
          for (let wy = 0; wy < (kind ? sizeH : 1); wy++) for (let wx = 0; wx < (kind ? sizeW : 1); wx++)
            cells.push(i * C * H * W + (((kind ? oy * strideH : oy) + wy) * W + (kind ? ox * strideW : ox) + wx) * C + c);
          const values = cells.map((e) => x[e]);
          const o = i * ldy + (oy * ow + ox) * C + c;
          const want = kind === 2 ? values.reduce((a, b) => a + b, 0) / values.length : Math.max(...values);
          expect(y[o]).toBeCloseTo(want, 6);
          if (kind === 2) cells.forEach((e) => (wantDx[e] += dy[o] / cells.length));
          else wantDx[cells[values.indexOf(Math.max(...values))]] += dy[o];
        }
        expect(maxAbsDiff(dx, Array.from(wantDx))).toBeLessThan(1e-6);
      });

    // Windows that tile the image (no input outside them), 70 channels (more than one block of the CPU's
    // channel loop), and inputs from {0, 0, 0, 1, 2}: the ties of ReLU outputs, where only the window's first
    // largest input may take the gradient and every other input of the window must get exactly 0.
    test.each([[2, 2], [3, 1]])('max pooling %ix%i with ties: the gradient to the first largest input only', (size, stride) => {
      const m = 3, C = 70, H = 6, W = 6, shape = { kind: 1, channels: C, height: H, width: W, sizeH: size, sizeW: size, strideH: stride, strideW: stride };
      const oh = Math.floor((H - size) / stride) + 1, ow = Math.floor((W - size) / stride) + 1, out = C * oh * ow;
      const x = Float32Array.from({ length: m * C * H * W }, () => [0, 0, 0, 1, 2][Math.floor(rnd() * 5)]);
      const dy = randomArray(m * out, rnd), dx = randomArray(x.length, rnd);  // stale values must be overwritten
      be.poolBackward(shape, x, dy, out, m, dx);
      const wantDx = new Float64Array(dx.length);
      for (let i = 0; i < m; i++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let c = 0; c < C; c++) {
        let best = -1, bestValue = -Infinity;
        for (let wy = 0; wy < size; wy++) for (let wx = 0; wx < size; wx++) {
          const e = i * C * H * W + ((oy * stride + wy) * W + ox * stride + wx) * C + c;
          if (x[e] > bestValue) { best = e; bestValue = x[e]; }
        }
        wantDx[best] += dy[i * out + (oy * ow + ox) * C + c];
      }
      expect(maxAbsDiff(dx, Array.from(wantDx))).toBeLessThan(1e-6);  // overlapping windows: float sums
    });
  });

  describe('first-order updates against the formulas', () => {
    const n = 16;
    const setup = () => ({
      theta: randomArray(n, rnd), grad: randomArray(n, rnd), m: randomArray(n, rnd, 0.1),
      v: Float32Array.from({ length: n }, () => rnd() * 0.1),
    });
    const run = (settings: Parameters<typeof be.firstOrderUpdate>[0]) => {
      const s = setup();
      const before = { theta: Float32Array.from(s.theta), m: Float32Array.from(s.m), v: Float32Array.from(s.v) };
      be.firstOrderUpdate(settings, s.theta, s.grad, s.m, s.v);
      return { s, before };
    };

    test('paper Adam: bias-corrected momentum squared, beta2 0.9, eps outside the sqrt (algorithm.md §6)', () => {
      const lr = 0.01, tau = 1e-3, eps = 1e-4, step = 3;
      const { s, before } = run({ kind: 1, paper: true, lr, momentum: 0.9, squareDecay: 0.9, eps, weightDecay: tau, step });
      for (let i = 0; i < n; i++) {
        const M = 0.9 * before.m[i] + 0.1 * (s.grad[i] + tau * before.theta[i]);
        const mhat = M / (1 - 0.9 ** step);
        const v = 0.9 * before.v[i] + 0.1 * mhat * mhat;
        const step_ = mhat / (Math.sqrt(v / (1 - 0.9 ** step)) + eps);
        expect(s.m[i]).toBeCloseTo(M, 6);
        expect(s.v[i]).toBeCloseTo(v, 6);
        expect(s.theta[i]).toBeCloseTo(before.theta[i] - lr * step_, 5);
      }
    });

    test('paper RMSprop squares the momentum', () => {
      const { s, before } = run({ kind: 2, paper: true, lr: 0.01, momentum: 0.9, squareDecay: 0.9, eps: 1e-4, weightDecay: 0 });
      for (let i = 0; i < n; i++) {
        const M = 0.9 * before.m[i] + 0.1 * s.grad[i];
        const v = 0.9 * before.v[i] + 0.1 * M * M;
        expect(s.theta[i]).toBeCloseTo(before.theta[i] - 0.01 * M / (Math.sqrt(v) + 1e-4), 5);
      }
    });

    test('paper SGD steps along the EMA momentum', () => {
      const { s, before } = run({ kind: 0, paper: true, lr: 0.5, momentum: 0.9, weightDecay: 0.01 });
      for (let i = 0; i < n; i++) {
        const M = 0.9 * before.m[i] + 0.1 * (s.grad[i] + 0.01 * before.theta[i]);
        expect(s.theta[i]).toBeCloseTo(before.theta[i] - 0.5 * M, 5);
      }
    });

    test('PyTorch Adam with bias corrections', () => {
      const step = 2;
      const { s, before } = run({ kind: 1, lr: 1e-3, beta1: 0.9, squareDecay: 0.999, eps: 1e-8, weightDecay: 0.1, step });
      for (let i = 0; i < n; i++) {
        const g = s.grad[i] + 0.1 * before.theta[i];
        const m = 0.9 * before.m[i] + 0.1 * g, v = 0.999 * before.v[i] + 0.001 * g * g;
        const upd = (m / (1 - 0.9 ** step)) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** step) + 1e-8);
        expect(s.theta[i]).toBeCloseTo(before.theta[i] - 1e-3 * upd, 6);
      }
    });

    test('PyTorch AdamW: θ shrinks by lr·λ, the moments see the gradient alone (algorithm.md §15.1)', () => {
      const step = 2, lr = 1e-2, wd = 0.1;
      const { s, before } = run({ kind: 1, decoupled: true, lr, beta1: 0.9, squareDecay: 0.999, eps: 1e-8, weightDecay: wd, step });
      for (let i = 0; i < n; i++) {
        const g = s.grad[i];
        const m = 0.9 * before.m[i] + 0.1 * g, v = 0.999 * before.v[i] + 0.001 * g * g;
        expect(s.m[i]).toBeCloseTo(m, 6);
        expect(s.v[i]).toBeCloseTo(v, 6);
        const upd = (m / (1 - 0.9 ** step)) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** step) + 1e-8);
        expect(s.theta[i]).toBeCloseTo(before.theta[i] * (1 - lr * wd) - lr * upd, 6);
      }
    });

    test('PyTorch SGD: first step copies the gradient into the buffer, then heavy ball, Nesterov', () => {
      let r = run({ kind: 0, lr: 0.1, momentum: 0.9, firstStep: true });
      for (let i = 0; i < n; i++) expect(r.s.m[i]).toBeCloseTo(r.s.grad[i], 6);
      r = run({ kind: 0, lr: 0.1, momentum: 0.9, nesterov: true });
      for (let i = 0; i < n; i++) {
        const buf = 0.9 * r.before.m[i] + r.s.grad[i];
        expect(r.s.theta[i]).toBeCloseTo(r.before.theta[i] - 0.1 * (r.s.grad[i] + 0.9 * buf), 5);
      }
    });

    test('PyTorch RMSprop with and without momentum', () => {
      let r = run({ kind: 2, lr: 0.01, squareDecay: 0.99, eps: 1e-8 });
      for (let i = 0; i < n; i++) {
        const v = 0.99 * r.before.v[i] + 0.01 * r.s.grad[i] ** 2;
        expect(r.s.theta[i]).toBeCloseTo(r.before.theta[i] - 0.01 * r.s.grad[i] / (Math.sqrt(v) + 1e-8), 5);
      }
      r = run({ kind: 2, lr: 0.01, squareDecay: 0.99, eps: 1e-8, momentum: 0.5 });
      for (let i = 0; i < n; i++) {
        const v = 0.99 * r.before.v[i] + 0.01 * r.s.grad[i] ** 2;
        const buf = 0.5 * r.before.m[i] + r.s.grad[i] / (Math.sqrt(v) + 1e-8);
        expect(r.s.theta[i]).toBeCloseTo(r.before.theta[i] - 0.01 * buf, 5);
      }
    });
  });

  // KFAC's Fisher for sigmoid cross-entropy draws t ~ Bernoulli(sigmoid(z)): checked here against sigmoid
  // computed in float64, not against the sampler's own formula. 200,000 draws per logit give a standard error
  // of at most 0.0011 in the frequency; the bound is 5 of them, while P(t = 1) = 1 − sigmoid(z), a draw against
  // a sigmoid of the wrong sign or scale, or correlated neighbours are off by 0.1 or more.
  test.each([[0, 'sampleTargets'], [0, 'sampledGradient']] as const)('Bernoulli draws (%s, %s) have frequency sigmoid(z)', (kind, op) => {
    const logits = [-3, -1, -0.25, 0, 0.5, 2, 4], draws = 200_000, d = logits.length;
    const z = new Float32Array(draws * d).map((_, i) => logits[i % d]);
    const targets = new Float32Array(draws * d), grad = new Float32Array(draws * d);
    if (op === 'sampleTargets') be.sampleTargets(kind, z, draws, d, 1234, targets);
    else be.sampledGradient(kind, z, draws, d, 1234, targets, grad);
    logits.forEach((v, j) => {
      let ones = 0, pairs = 0;
      for (let i = 0; i < draws; i++) {
        ones += targets[i * d + j];
        if (j + 1 < d) pairs += targets[i * d + j] * targets[i * d + j + 1];
      }
      const p = 1 / (1 + Math.exp(-v));
      expect(Math.abs(ones / draws - p)).toBeLessThan(5 * Math.sqrt(p * (1 - p) / draws) + 1e-9);
      if (j + 1 < d) {  // neighbouring outputs are independent: P(both) = p_j p_{j+1}
        const q = 1 / (1 + Math.exp(-logits[j + 1]));
        expect(Math.abs(pairs / draws - p * q)).toBeLessThan(5 * Math.sqrt(p * q * (1 - p * q) / draws) + 1e-9);
      }
    });
  });

  test.each([[0, 37], [1, 37], [2, 10]])('sampledGradient (loss %i) is sampleTargets then lossGradient, bit for bit', (kind, d) => {
    const m = 50, z = randomArray(m * d, rnd, 4);
    const fused = new Float32Array(m * d), grad = new Float32Array(m * d);
    const targets = new Float32Array(m * d), expected = new Float32Array(m * d);
    be.sampledGradient(kind, z, m, d, 99, fused, grad);
    be.sampleTargets(kind, z, m, d, 99, targets);
    be.lossGradient(kind, z, targets, m, d, expected);
    expect(fused).toEqual(targets);
    expect(grad).toEqual(expected);
    if (kind === 0) {  // Bernoulli draws: some of each
      const ones = fused.reduce((a, b) => a + b, 0);
      expect(ones).toBeGreaterThan(0.2 * m * d);
      expect(ones).toBeLessThan(0.8 * m * d);
    }
  });

  // KFAC's draws on a recorded GPU step take their seed from a counter in backend memory (rules/rng.h): the seed is
  // splitmix64(c), c the counter's 64 bits (low word first), and c advances by one per draw. The Bernoulli
  // targets are checked against uniform_at computed here in BigInt: t = 1 exactly when u < sigmoid(z).
  test('sampledGradientCounted draws with seed splitmix64(c) and advances the counter c', () => {
    const mask = (1n << 64n) - 1n;
    const mix = (z: bigint) => {
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
      return z ^ (z >> 31n);
    };
    const uniformAt = (seed: bigint, i: bigint) => Number(mix((seed + (i + 1n) * 0x9e3779b97f4a7c15n) & mask) >> 11n) * 2 ** -53;
    const m = 40, d = 9, z = randomArray(m * d, rnd, 3);
    const counter = new Float32Array(2), words = new Uint32Array(counter.buffer);
    words.set([0xfffffffe, 7]);  // c = 7·2³² + 2³² − 2: the next draw carries into the high word
    for (const c of [(7n << 32n) + 0xfffffffen, (7n << 32n) + 0xffffffffn]) {
      const targets = new Float32Array(m * d), grad = new Float32Array(m * d), expected = new Float32Array(m * d);
      be.sampledGradientCounted(0, z, m, d, counter, targets, grad);
      const seed = mix(c);
      const draws = Float32Array.from(z, (v, i) => (uniformAt(seed, 2n * BigInt(i)) < 1 / (1 + Math.exp(-v)) ? 1 : 0));
      expect(targets).toEqual(draws);
      be.lossGradient(0, z, targets, m, d, expected);
      expect(grad).toEqual(expected);
    }
    expect(Array.from(words)).toEqual([0, 8]);
  });

  // K-BFGS(L)'s memory, decided where the vectors live (algorithm.md §4): keep (s, y) when yᵀs > threshold·sᵀs·‖ref‖
  // and sᵀs is finite, as the next row, the oldest row dropped when all `memory` rows are held.
  test('lbfgsAppend keeps pairs by the rule, drops the oldest when full, counts the pairs it does not keep', () => {
    const d = 6, memory = 3, S = new Float32Array(memory * d), Y = new Float32Array(memory * d);
    const size = new Float32Array(1), skipped = new Float32Array(1), ref = Float32Array.of(3, 4);  // ‖ref‖ = 5
    const pair = (scale: number) => {
      const s = randomArray(d, rnd);
      return { s, y: Float32Array.from(s, (v) => scale * v) };  // yᵀs = scale·sᵀs
    };
    const append = (p: { s: Float32Array; y: Float32Array }, gate: Float32Array | null = null) =>
      be.lbfgsAppend(d, memory, S, Y, p.s, p.y, ref, 0.1, gate, size, skipped);  // kept when scale > 0.1·5
    const kept = [pair(0.6), pair(2), pair(0.7), pair(1.5)];
    append(kept[0]);
    append(kept[1]);
    expect([size[0], skipped[0]]).toEqual([2, 0]);
    expect(Array.from(S.subarray(0, 2 * d))).toEqual([...kept[0].s, ...kept[1].s]);
    expect(Array.from(Y.subarray(d, 2 * d))).toEqual(Array.from(kept[1].y));
    expect(Array.from(S.subarray(2 * d))).toEqual(new Array(d).fill(0));
    append(pair(0.4));  // below 0.5 = threshold·‖ref‖
    append(pair(-1));
    const bad = pair(1);
    bad.s[2] = NaN;
    append(bad);
    append(pair(3), Float32Array.of(1));  // gated: damping found the pair degenerate
    expect([size[0], skipped[0]]).toEqual([2, 4]);
    append(kept[2]);
    append(kept[3]);
    expect([size[0], skipped[0]]).toEqual([3, 4]);
    expect(Array.from(S)).toEqual([...kept[1].s, ...kept[2].s, ...kept[3].s]);
    expect(Array.from(Y)).toEqual([...kept[1].y, ...kept[2].y, ...kept[3].y]);
  });

  test('padDiagonal sets the diagonal from count[0] on', () => {
    const n = 5, lda = 6, a = randomArray(n * lda, rnd), want = Float32Array.from(a);
    for (let i = 2; i < n; i++) want[i * lda + i] = 1;
    be.padDiagonal(a, n, lda, Float32Array.of(2), 1);
    expect(a).toEqual(want);
  });

  test('trace sums the diagonal in double and reads nothing else', () => {
    const n = 7, lda = 9, a = randomArray(n * lda, rnd);
    let want = 0;
    for (let i = 0; i < n; i++) want += a[i * lda + i];
    expect(be.trace(a, n, lda)).toBe(want);  // the same sum in the same order: exact
    a.fill(NaN, n * lda - (lda - n));  // the last row's padding is not the diagonal's
    expect(be.trace(a, n, lda)).toBe(want);
    expect(be.trace(a, 0, lda)).toBe(0);
  });

  test('a call with a too-short array throws instead of reading out of bounds', () => {
    expect(() => be.gemm(false, false, 4, 4, 4, 1, new Float32Array(3), 4, new Float32Array(16), 4, 0, new Float32Array(16), 4))
      .toThrow(/needs 16/);
    expect(() => be.potrf(3, new Float32Array(4))).toThrow(/needs 9/);
  });
});
