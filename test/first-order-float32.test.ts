// The CPU backend's first-order update is one loop per method and protocol, vectorized by the compiler
// (algorithm.md §9.1). Vectorized or not, each element must round as the rule written in
// rules/first_order_rule.h: here Adam's element equals the same formula evaluated in float32 (Math.fround after
// every operation: IEEE float arithmetic without fused multiply-adds, as the engine is compiled), bit for bit,
// over a length that leaves a tail after any vector width. backend.test.ts checks the formulas of every method
// at float tolerances, which an algebraically equal rewrite that rounds otherwise would pass.
import { addon } from '../lib/binding';
import { randomArray, seeded } from './helpers';

const be = addon.backend;
const N = 4099;
const f = Math.fround;

type Settings = Parameters<typeof be.firstOrderUpdate>[0];
interface State { theta: Float32Array; grad: Float32Array; m: Float32Array; v: Float32Array }

function state(seed: number): State {
  const rnd = seeded(seed);
  return {
    theta: randomArray(N, rnd), grad: randomArray(N, rnd), m: randomArray(N, rnd, 0.1),
    v: Float32Array.from({ length: N }, () => rnd() * 0.1),
  };
}

// How many elements differ in their bits.
function differing(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  expect(x.length).toBe(y.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) count++;
  return count;
}

function updated(settings: Settings): State {
  const s = state(7);
  be.firstOrderUpdate(settings, s.theta, s.grad, s.m, s.v);
  return s;
}

// β's powers are exact in float32 (0.5² and 0.75²), so the bias corrections need no powf to reproduce.
const STEP = 2, BIAS1 = f(1 - 0.5 ** STEP), BIAS2 = f(1 - 0.75 ** STEP);
const ADAM: [string, Settings, boolean, boolean][] = [
  ['PyTorch Adam', { kind: 1, lr: 1e-2, beta1: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 0.1, step: STEP }, false, false],
  ['PyTorch AdamW', { kind: 1, decoupled: true, lr: 1e-2, beta1: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 0.1, step: STEP }, false, true],
  ['paper Adam', { kind: 1, paper: true, lr: 1e-2, momentum: 0.5, squareDecay: 0.75, eps: 1e-4, weightDecay: 1e-3, step: STEP }, true, false],
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

describe('the first-order update rounds as its rule', () => {
  test.each(ADAM)('%s equals the rule in float32, element by element', (_name, settings, paper, decoupled) => {
    const s = state(7), out = updated(settings);
    const want = { theta: new Float32Array(N), m: new Float32Array(N), v: new Float32Array(N) };
    for (let i = 0; i < N; i++) {
      const e = adamElement(paper, decoupled, s.theta[i], s.grad[i], s.m[i], s.v[i]);
      want.theta[i] = e.theta, want.m[i] = e.m, want.v[i] = e.v;
    }
    expect(differing(out.theta, want.theta)).toBe(0);
    expect(differing(out.m, want.m)).toBe(0);
    expect(differing(out.v, want.v)).toBe(0);
  });
});
