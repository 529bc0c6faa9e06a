// The CPU backend's passes over independent elements (the first-order updates, K-BFGS's gradient momentum,
// KFAC's sampled gradient, the numerical guard's copies) go to its threads in blocks (cpu/parallel_rows.h,
// algorithm.md §9.1). At 1 and 2 threads every element must come out bit for bit alike, and the update rules
// equal to the same formulas evaluated per element in float32 (Math.fround after every operation: IEEE float
// arithmetic without fused multiply-adds, as the engine is compiled), so a vectorized loop that rounds otherwise
// fails too. The sizes are the smallest that the passes split: above 2 x 65,536 values, not a whole number of
// 16,384-value blocks.
import { addon } from '../lib/binding';
import { randomArray, seeded } from './helpers';

const be = addon.backend;
const N = 3 * 65_536 + 123;
const f = Math.fround;

type Settings = Parameters<typeof be.firstOrderUpdate>[0];
interface State { theta: Float32Array; grad: Float32Array; m: Float32Array; v: Float32Array }

const made = new Map<number, State>();
// A fresh copy of the state drawn from this seed.
function state(seed: number): State {
  if (!made.has(seed)) {
    const rnd = seeded(seed);
    made.set(seed, {
      theta: randomArray(N, rnd), grad: randomArray(N, rnd), m: randomArray(N, rnd, 0.1),
      v: Float32Array.from({ length: N }, () => rnd() * 0.1),
    });
  }
  const s = made.get(seed)!;
  return { theta: s.theta.slice(), grad: s.grad.slice(), m: s.m.slice(), v: s.v.slice() };
}

// How many elements differ in their bits (jest's toEqual walks 200,000 values far too slowly).
function differing(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  expect(x.length).toBe(y.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) count++;
  return count;
}

function atThreads<T>(threads: number, fn: () => T): T {
  const before = addon.threads();
  addon.threads(threads);
  try {
    return fn();
  } finally {
    addon.threads(before);
  }
}

function updated(settings: Settings, threads: number): State {
  const s = state(7);
  atThreads(threads, () => be.firstOrderUpdate(settings, s.theta, s.grad, s.m, s.v));
  return s;
}

// β's powers are exact in float32 (0.5² and 0.75²), so the bias corrections need no powf to reproduce.
const STEP = 2, BIAS1 = f(1 - 0.5 ** STEP), BIAS2 = f(1 - 0.75 ** STEP);
const METHODS: [string, Settings][] = [
  ['PyTorch Adam', { kind: 1, lr: 1e-2, beta1: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 0.1, step: STEP }],
  ['PyTorch AdamW', { kind: 1, decoupled: true, lr: 1e-2, beta1: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 0.1, step: STEP }],
  ['paper Adam', { kind: 1, paper: true, lr: 1e-2, momentum: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 1e-3, step: STEP }],
  ['PyTorch SGD, Nesterov', { kind: 0, lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
  ['paper SGD', { kind: 0, paper: true, lr: 0.1, momentum: 0.9, weightDecay: 0.01 }],
  ['PyTorch RMSprop with momentum', { kind: 2, lr: 1e-2, squareDecay: 0.75, eps: 1e-4, momentum: 0.5 }],
  ['paper RMSprop', { kind: 2, paper: true, lr: 1e-2, momentum: 0.5, squareDecay: 0.75, eps: 1e-4 }],
];

// Adam's rule per element in float32, in the engine's order of operations (rules/first_order_rule.h).
function adamElement(paper: boolean, decoupled: boolean, theta: number, grad: number, m: number, v: number) {
  const lr = f(1e-2), eps = f(1e-4);
  if (paper) {
    const wd = f(1e-3), rho = f(0.5);
    const mi = f(f(rho * m) + f(f(1 - rho) * f(grad + f(wd * theta))));
    const mhat = f(mi / BIAS1);
    const vi = f(f(f(0.75) * v) + f(f(f(1 - f(0.75)) * mhat) * mhat));
    const step = f(mhat / f(f(Math.sqrt(f(vi / BIAS2))) + eps));
    return { theta: f(theta - f(lr * step)), m: mi, v: vi };
  }
  const wd = f(0.1);
  let t = theta;
  if (decoupled) t = f(t * f(1 - f(lr * wd)));
  const g = decoupled ? grad : f(grad + f(wd * t));
  const mi = f(f(f(0.5) * m) + f(f(1 - f(0.5)) * g));
  const vi = f(f(f(0.75) * v) + f(f(f(1 - f(0.75)) * g) * g));
  const step = f(f(mi / BIAS1) / f(f(f(Math.sqrt(vi)) / f(Math.sqrt(BIAS2))) + eps));
  return { theta: f(t - f(lr * step)), m: mi, v: vi };
}

describe('element-wise passes on the CPU backend\'s threads', () => {
  test.each(METHODS)('%s: the same bits at 1 and 2 threads', (_name, settings) => {
    const one = updated(settings, 1), two = updated(settings, 2), start = state(7);
    expect(differing(two.theta, one.theta)).toBe(0);
    expect(differing(two.m, one.m)).toBe(0);
    expect(differing(two.v, one.v)).toBe(0);
    // every element moved, the last block's included
    for (const i of [0, 16_384, 65_536, 131_072, N - 1]) expect(two.theta[i]).not.toBe(start.theta[i]);
  });

  test.each([['PyTorch Adam', false, false], ['PyTorch AdamW', false, true], ['paper Adam', true, false]] as const)(
    '%s at 2 threads equals the rule in float32, element by element', (name, paper, decoupled) => {
      const settings = METHODS.find(([n]) => n === name)![1];
      const s = state(7), out = updated(settings, 2);
      const want = { theta: new Float32Array(N), m: new Float32Array(N), v: new Float32Array(N) };
      for (let i = 0; i < N; i++) {
        const e = adamElement(paper, decoupled, s.theta[i], s.grad[i], s.m[i], s.v[i]);
        want.theta[i] = e.theta, want.m[i] = e.m, want.v[i] = e.v;
      }
      expect(differing(out.theta, want.theta)).toBe(0);
      expect(differing(out.m, want.m)).toBe(0);
      expect(differing(out.v, want.v)).toBe(0);
    });

  test('K-BFGS\'s gradient momentum: the same bits at 1 and 2 threads, equal to ρm + (1 − ρ)(g + τθ) in float32', () => {
    const run = (threads: number) => {
      const s = state(3);
      atThreads(threads, () => be.gradientMomentum(0.9, 1e-3, s.theta, s.grad, s.m));
      return s.m;
    };
    const one = run(1), two = run(2), s = state(3);
    expect(differing(two, one)).toBe(0);
    const rho = f(0.9), tau = f(1e-3);
    const want = s.m.map((m, i) => f(f(rho * m) + f(f(1 - rho) * f(s.grad[i] + f(tau * s.theta[i])))));
    expect(differing(two, want)).toBe(0);
  });

  test('KFAC\'s sampled gradient: the same draws at 1 and 2 threads as the unsplit sampler', () => {
    const m = 300, d = 784, z = randomArray(m * d, seeded(5), 4);
    const run = (threads: number) => {
      const targets = new Float32Array(m * d), grad = new Float32Array(m * d);
      atThreads(threads, () => be.sampledGradient(0, z, m, d, 31, targets, grad));
      return { targets, grad };
    };
    const one = run(1), two = run(2);
    const targets = new Float32Array(m * d), grad = new Float32Array(m * d);
    be.sampleTargets(0, z, m, d, 31, targets);
    be.lossGradient(0, z, targets, m, d, grad);
    expect(differing(two.targets, targets)).toBe(0);
    expect(differing(two.grad, grad)).toBe(0);
    expect(differing(one.targets, targets)).toBe(0);
    expect(differing(one.grad, grad)).toBe(0);
  });

  test('copies at 2 threads: disjoint ranges by blocks, overlapping ones as memmove', () => {
    const x = randomArray(3 * N, seeded(11)), original = Float32Array.from(x);
    atThreads(2, () => be.copyWithin(x, 2 * N, 0, N));
    expect(differing(x.subarray(2 * N), original.subarray(0, N))).toBe(0);
    expect(differing(x.subarray(0, 2 * N), original.subarray(0, 2 * N))).toBe(0);
    const y = Float32Array.from(original);  // overlapping: shifted by 1,000 values
    atThreads(2, () => be.copyWithin(y, 1000, 0, 2 * N));
    expect(differing(y.subarray(1000, 1000 + 2 * N), original.subarray(0, 2 * N))).toBe(0);
    expect(differing(y.subarray(0, 1000), original.subarray(0, 1000))).toBe(0);
  });
});
