// The CPU backend's element-wise passes (axpby, the first-order updates, the gradient momentum, the non-finite
// scan, KFAC's sampled gradient) split a long array over the engine's threads
// in fixed blocks (cpu/parallel_rows.h, parallel_elements): every element is computed by the same operations
// whatever the thread count. At 1 and 2 threads each pass must write the same bits, equal to the rule in float32
// where the rule is one line, over a length that splits into two ranges with a partial last block.
import { addon } from '../lib/binding';
import { randomArray, seeded } from './helpers';

const be = addon.backend;
const N = 300_007;  // more than 2 x 65,536 values (two threads take part) and not a multiple of the block
const f = Math.fround;

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Runs fn at 1 and at 2 threads; returns both results. */
function atOneAndTwo<T>(fn: () => T): [T, T] {
  const before = addon.threads();
  try {
    addon.threads(1);
    const one = fn();
    addon.threads(2);
    return [one, fn()];
  } finally {
    addon.threads(before);
  }
}

test('axpby writes alpha x + beta y in float32 at every element, at 1 and 2 threads alike', () => {
  const rnd = seeded(1);
  const x = randomArray(N, rnd), y0 = randomArray(N, rnd);
  const [one, two] = atOneAndTwo(() => { const y = y0.slice(); be.axpby(N, 0.3, x, -1.7, y); return y; });
  const expected = y0.map((v, i) => f(f(f(0.3) * x[i]) + f(f(-1.7) * v)));
  expect(bitsEqual(one, expected)).toBe(true);
  expect(bitsEqual(two, expected)).toBe(true);
});

test('the gradient momentum rho m + (1 - rho)(g + tau theta) at every element, at 1 and 2 threads alike', () => {
  const rnd = seeded(2);
  const theta = randomArray(N, rnd), grad = randomArray(N, rnd), m0 = randomArray(N, rnd, 0.1);
  const [one, two] = atOneAndTwo(() => { const m = m0.slice(); be.gradientMomentum(0.9, 1e-3, theta, grad, m); return m; });
  const rho = f(0.9), tau = f(1e-3);
  const expected = m0.map((m, i) => f(f(rho * m) + f(f(1 - rho) * f(grad[i] + f(tau * theta[i])))));
  expect(bitsEqual(one, expected)).toBe(true);
  expect(bitsEqual(two, expected)).toBe(true);
});

test('Adam, RMSprop and SGD updates write the same bits at 1 and 2 threads over every element', () => {
  const rnd = seeded(3);
  const start = { theta: randomArray(N, rnd), grad: randomArray(N, rnd), m: randomArray(N, rnd, 0.1),
    v: Float32Array.from({ length: N }, () => rnd() * 0.1) };
  const settings = [
    { kind: 1, lr: 1e-2, beta1: 0.9, squareDecay: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 },
    { kind: 2, lr: 1e-3, squareDecay: 0.9, eps: 1e-6, momentum: 0.5, step: 3 },
    { kind: 0, lr: 0.1, momentum: 0.9, nesterov: true, step: 3 },
  ];
  for (const s of settings) {
    const [one, two] = atOneAndTwo(() => {
      const st = { theta: start.theta.slice(), grad: start.grad, m: start.m.slice(), v: start.v.slice() };
      be.firstOrderUpdate(s, st.theta, st.grad, st.m, st.v);
      return st;
    });
    expect(bitsEqual(one.theta, two.theta)).toBe(true);
    expect(bitsEqual(one.m, two.m)).toBe(true);
    expect(bitsEqual(one.v, two.v)).toBe(true);
    // the elements moved, the last block's too: no block was left out by either split (a few may not move
    // where the step rounds away against theta)
    expect(one.theta.filter((v, i) => v === start.theta[i]).length).toBeLessThan(N / 1000);
    expect(one.theta.subarray(N - 100).filter((v, i) => v === start.theta[N - 100 + i]).length).toBeLessThan(5);
  }
});

test('copies (one thread: bound by memory bandwidth) are exact at either thread count, overlapping ranges as memmove', () => {
  const rnd = seeded(4);
  const x0 = randomArray(2 * N + 10, rnd);
  const [one, two] = atOneAndTwo(() => { const x = x0.slice(); be.copyWithin(x, N + 10, 0, N); return x; });
  const expected = x0.slice();
  expected.copyWithin(N + 10, 0, N);
  expect(bitsEqual(one, expected)).toBe(true);
  expect(bitsEqual(two, expected)).toBe(true);
  for (const [dst, src] of [[5, 0], [0, 5]]) {  // overlapping either way
    const [a, b] = atOneAndTwo(() => { const x = x0.slice(); be.copyWithin(x, dst, src, N); return x; });
    const want = x0.slice();
    want.copyWithin(dst, src, src + N);
    expect(bitsEqual(a, want)).toBe(true);
    expect(bitsEqual(b, want)).toBe(true);
  }
});

test('the non-finite scan finds one NaN or infinity wherever it lies, at 1 and 2 threads', () => {
  const x = randomArray(N, seeded(5));
  for (const at of [0, 16_383, 150_000, N - 1]) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const y = x.slice();
      y[at] = bad;
      const [one, two] = atOneAndTwo(() => { const flag = new Float32Array(1); be.markNonFinite(y, flag); return flag[0]; });
      expect([one, two]).toEqual([1, 1]);
    }
  }
  const [one, two] = atOneAndTwo(() => { const flag = new Float32Array(1); be.markNonFinite(x, flag); return flag[0]; });
  expect([one, two]).toEqual([0, 0]);
});

test("KFAC's sampled targets and gradient are the same draws at 1 and 2 threads", () => {
  const m = 401, d = 751;  // 301,151 values
  const z = randomArray(m * d, seeded(6), 3);
  const [one, two] = atOneAndTwo(() => {
    const out = new Float32Array(m * d), grad = new Float32Array(m * d);
    be.sampledGradient(0, z, m, d, 11, out, grad);
    return { out, grad };
  });
  expect(bitsEqual(one.out, two.out)).toBe(true);
  expect(bitsEqual(one.grad, two.grad)).toBe(true);
  // targets are 0/1 draws and the gradient is sigmoid(z) - t
  expect(one.out.every((t) => t === 0 || t === 1)).toBe(true);
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  expect(Math.max(...Array.from({ length: 1000 }, (_, k) => {
    const i = k * 301;
    return Math.abs(one.grad[i] - (sigmoid(z[i]) - one.out[i]));
  }))).toBeLessThan(1e-6);
});
