// What callbacks may do to fit: throw or reject with anything (fit rejects and says what it got), abort or stop
// from onTrainBegin (no step is taken), or be malformed (checked before any hook runs or any step is taken).
// The last part builds random callback and option objects from a seeded generator and checks that fit either
// trains or rejects with a typed error before the first step, never leaving a rejection unhandled.
import {
  AbortError, Adam, CallbackError, EarlyStopping, InvalidArgumentError, KbfgsError, LearningRateScheduler, Sequential,
  ShapeError, type Callback, type FitOptions,
} from '../lib';
import { seeded } from './helpers';

const rows = 12;
const data = { data: Float32Array.from({ length: rows * 3 }, (_, i) => Math.sin(i)), rows, cols: 3 };
const tiny = () => new Sequential({ inputDim: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 3 }], loss: 'halfSquaredError', seed: 1 });
const base = () => ({ optimizer: new Adam(), batchSize: 4, threads: 1 });

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; rejected: boolean }> {
  return promise.then((value) => ({ value, rejected: false }), (error) => ({ error, rejected: true }));
}

describe('a callback that throws or rejects with what is not an Error', () => {
  test.each([
    ['rejects with undefined in the last epoch', { onEpochEnd: (e: number) => (e === 2 ? Promise.reject(undefined) : undefined) }, 3, /onEpochEnd of callbacks\[0\] \(Object\) failed with undefined/],
    ['rejects with undefined in the first epoch', { onEpochEnd: () => Promise.reject(undefined) }, 1, /onEpochEnd of callbacks\[0\] \(Object\) failed with undefined/],
    ['throws a string from onBatchEnd', { onBatchEnd: () => { throw 'batch trouble'; } }, 0, /onBatchEnd of callbacks\[0\] \(Object\) failed with 'batch trouble'/],
    ['throws null from onTrainBegin', { onTrainBegin: () => { throw null; } }, 0, /onTrainBegin of callbacks\[0\] \(Object\) failed with null/],
    ['rejects with a number from onTrainEnd', { onTrainEnd: async () => { throw 42; } }, 3, /onTrainEnd of callbacks\[0\] \(Object\) failed with 42/],
  ])('one that %s: fit rejects with CallbackError saying what it got', async (_, callback, epochs, message) => {
    const model = tiny();
    const r = await settle(model.fit(data, { ...base(), epochs: 3, callbacks: [callback as Callback] }));
    expect(r.rejected).toBe(true);
    expect(r.error).toBeInstanceOf(CallbackError);
    expect(r.error).not.toBeInstanceOf(AbortError);
    expect((r.error as Error).message).toMatch(message);
    expect((r.error as Error).message).toMatch(/which is not an Error$/);
    expect(model.epochsTrained).toBe(epochs);
    await expect(model.evaluate(data)).resolves.toBeGreaterThan(0);  // still usable
    model.dispose();
  });

  test('the onEpochEnd option rejecting with undefined is named as the option; its value is kept', async () => {
    const model = tiny();
    const r = await settle(model.fit(data, { ...base(), epochs: 2, onEpochEnd: () => Promise.reject(undefined) }));
    expect(r.error).toBeInstanceOf(CallbackError);
    expect((r.error as Error).message).toBe('fit: the onEpochEnd option failed with undefined, which is not an Error');
    const thrown = { reason: 'mine' };
    const r2 = await settle(model.fit(data, { ...base(), epochs: 2, onBatchEnd: () => { throw thrown; } }));
    expect((r2.error as CallbackError).value).toBe(thrown);
    expect((r2.error as Error).message).toMatch(/the onBatchEnd option failed with \{ reason: 'mine' \}/);
    model.dispose();
  });

  test('an Error is passed on as it is', async () => {
    const model = tiny();
    const mine = new RangeError('mine');
    const r = await settle(model.fit(data, { ...base(), epochs: 2, callbacks: [{ onTrainEnd: () => { throw mine; } }] }));
    expect(r.error).toBe(mine);
    model.dispose();
  });
});

describe('onTrainBegin stops or aborts before the first step', () => {
  test.each([
    ['synchronously', (c: AbortController) => () => { c.abort(); }],
    ['asynchronously', (c: AbortController) => async () => { await new Promise((r) => setTimeout(r, 5)); c.abort(); }],
  ])('an abort signalled in onTrainBegin %s: AbortError, no step taken', async (_, hook) => {
    const model = tiny();
    const controller = new AbortController();
    const r = await settle(model.fit(data, { ...base(), epochs: 5, signal: controller.signal, callbacks: [{ onTrainBegin: hook(controller) }] }));
    expect(r.error).toBeInstanceOf(AbortError);
    expect((r.error as AbortError).history!.epoch).toEqual([]);
    expect(model.steps).toBe(0);
    model.dispose();
  });

  test('an abort in one callback\'s onTrainBegin: the next one\'s onTrainBegin does not run', async () => {
    const model = tiny();
    const controller = new AbortController();
    const seen: string[] = [];
    const r = await settle(model.fit(data, { ...base(), signal: controller.signal, callbacks: [
      { onTrainBegin: () => { seen.push('first'); controller.abort(); } },
      { onTrainBegin: () => { seen.push('second'); } },
    ] }));
    expect(r.error).toBeInstanceOf(AbortError);
    expect(seen).toEqual(['first']);
    model.dispose();
  });

  test.each([
    ['with no other hook', (model: Sequential): Callback => ({ onTrainBegin: () => { model.stopTraining = true; } })],
    ['with an epoch hook too', (model: Sequential): Callback => ({ onTrainBegin: () => { model.stopTraining = true; }, onEpochEnd: () => {} })],
    ['async, with a batch hook too', (model: Sequential): Callback => ({ onTrainBegin: async () => { model.stopTraining = true; }, onBatchEnd: () => {} })],
  ])('stopTraining set in onTrainBegin %s: fit resolves without a step, onTrainEnd runs', async (_, make) => {
    const model = tiny();
    const ended: number[][] = [];
    const history = await model.fit(data, { ...base(), epochs: 5, callbacks: [make(model), { onTrainEnd: (h) => { ended.push(h.epoch); } }] });
    expect(history.epoch).toEqual([]);
    expect(model.steps).toBe(0);
    expect(ended).toEqual([[]]);
    model.stopTraining = false;
    await model.fit(data, { ...base(), epochs: 1 });  // the next fit trains
    expect(model.steps).toBe(rows / 4);
    model.dispose();
  });
});

describe('callback objects are checked before training', () => {
  test.each([
    ['onEpochEnd: 5', { onEpochEnd: 5 }, /fit: callbacks\[1\] \(Object\): onEpochEnd must be a function, got 5/],
    ['onTrainEnd: a string', { onTrainEnd: 'later' }, /fit: callbacks\[1\] \(Object\): onTrainEnd must be a function, got 'later'/],
    ['onBatchEnd: null', { onBatchEnd: null }, /callbacks\[1\] \(Object\): onBatchEnd must be a function, got null/],
    ['onTrainBegin: an object', { onTrainBegin: { call() {} } }, /callbacks\[1\] \(Object\): onTrainBegin must be a function/],
    ['a hook this package does not call', { onEpochBegin() {} }, /callbacks\[1\] \(Object\): unknown hook 'onEpochBegin' \(fit calls onTrainBegin, onEpochEnd, onBatchEnd, onTrainEnd\)/],
    ['a misspelt hook', { onEpochEnds() {} }, /callbacks\[1\] \(Object\): unknown hook 'onEpochEnds' \(did you mean 'onEpochEnd'\?\)/],
    ['a class whose prototype has a bad hook', new (class Mine { get onTrainEnd() { return 7; } })(), /callbacks\[1\] \(Mine\): onTrainEnd must be a function, got 7/],
    ['an array', [], /callbacks\[1\] must be a callback object, got an array/],
    ['a function', () => {}, /callbacks\[1\] must be a callback object, got a function/],
  ])('%s: InvalidArgumentError naming the callback and the hook; no hook ran, no step was taken', async (_, bad, message) => {
    const model = tiny();
    const seen: string[] = [];
    const good: Callback = { onTrainBegin: () => { seen.push('begin'); }, onEpochEnd: () => { seen.push('epoch'); }, onTrainEnd: () => { seen.push('end'); } };
    const r = await settle(model.fit(data, { ...base(), epochs: 2, callbacks: [good, bad as never] }));
    expect(r.error).toBeInstanceOf(InvalidArgumentError);
    expect((r.error as Error).message).toMatch(message);
    expect(seen).toEqual([]);
    expect(model.steps).toBe(0);
    model.dispose();
  });

  test('callbacks: null is not "no callbacks"', async () => {
    const model = tiny();
    await expect(model.fit(data, { ...base(), callbacks: null as never })).rejects.toThrow(/fit: callbacks must be an array of callback objects/);
    model.dispose();
  });

  test('the built-in callbacks pass the check, an epoch schedule without a batch hook included', async () => {
    const model = tiny();
    const history = await model.fit(data, { ...base(), epochs: 2, callbacks: [new EarlyStopping({ monitor: 'loss', patience: 5 }), new LearningRateScheduler((_, lr) => lr)] });
    expect(history.epoch).toEqual([0, 1]);
    model.dispose();
  });
});

// Random callback and option objects. Each value is drawn either valid or invalid, so the test knows which
// calls must train and which must be refused, and by which error class.
describe('random callbacks and options', () => {
  type Draw = { value: unknown; valid: boolean };
  const everyType = (rnd: () => number): unknown[] => [
    undefined, null, true, false, 0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 40, '', 'x', '3', Symbol('s'), 10n, {}, [], [1],
    { valueOf: () => 2 }, () => 1, new Date(0), new Map(), /re/, new Float32Array(2), Object.create(null), rnd,
  ];
  const pick = <T,>(rnd: () => number, items: readonly T[]): T => items[Math.floor(rnd() * items.length)];

  const HOOKS = ['onTrainBegin', 'onEpochEnd', 'onBatchEnd', 'onTrainEnd'] as const;
  const EXTRA = ['onEpochBegin', 'onBatchBegin', 'onTrainStart', 'onEpochEnds'];

  /** A hook that does nothing harmful, returning a random value of any type (its result is awaited and ignored). */
  const benign = (rnd: () => number, calls: string[], name: string) => {
    const result = pick(rnd, everyType(rnd));
    const asynchronous = rnd() < 0.5;
    return asynchronous ? async () => { calls.push(name); return result; } : () => { calls.push(name); return result; };
  };

  function drawCallback(rnd: () => number, calls: string[]): Draw {
    const roll = rnd();
    if (roll < 0.03) {
      const value = pick(rnd, [null, undefined, 3, 'cb', true, [], () => {}, Symbol('cb'), 5n]);
      return { value, valid: false };
    }
    const callback: Record<string, unknown> = {};
    let valid = true;
    for (const hook of HOOKS) {
      const r = rnd();
      if (r < 0.45) continue;  // missing
      if (r < 0.95) callback[hook] = benign(rnd, calls, hook);
      else {
        const value = pick(rnd, everyType(rnd).filter((v) => typeof v !== 'function' && v !== undefined));
        callback[hook] = value;
        valid = false;
      }
    }
    if (rnd() < 0.04) {
      callback[pick(rnd, EXTRA)] = () => {};
      valid = false;
    }
    if (rnd() < 0.3) callback.notAHook = pick(rnd, everyType(rnd));  // other properties are the callback's own business
    return { value: callback, valid };
  }

  /** Each option: undefined (the default) or a valid value, or now and then one of every other type. */
  function drawOptions(rnd: () => number, calls: string[]): { options: Record<string, unknown>; valid: boolean; aborted: boolean; shape: boolean } {
    const options: Record<string, unknown> = { optimizer: new Adam() };
    let valid = true, aborted = false, shape = false;
    const bad = (name: string, values: unknown[], good: (v: unknown) => boolean) => {
      const value = pick(rnd, values);
      options[name] = value;
      if (!good(value)) valid = false;
    };
    const isInt = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
    const rare = () => rnd() < 0.07;
    const all = everyType(rnd);
    if (rare()) bad('epochs', all, (v) => v === undefined || isInt(v, 0, 2 ** 31 - 1)); else options.epochs = pick(rnd, [undefined, 0, 1, 2]);
    if (rare()) bad('batchSize', all, (v) => v === undefined || isInt(v, 1, 2 ** 31 - 1));
    else {
      options.batchSize = pick(rnd, [undefined, 1, 4, 4, 12, 12, 13]);
      if (options.batchSize === 13) shape = true;  // more than the rows: a ShapeError
    }
    // Counts (algorithm.md §2.2): undefined or a positive integer.
    for (const [name, values] of [['stepsPerEpoch', [1, 5]], ['maxSteps', [3]], ['trainingLossRows', [2]], ['warmStartBatches', [2]]] as const) {
      if (rare()) bad(name, all, (v) => v === undefined || isInt(v, 1, name === 'maxSteps' ? Number.MAX_SAFE_INTEGER : 2 ** 31 - 1));
      else options[name] = pick(rnd, [undefined, undefined, ...values]);
    }
    if (rare()) bad('timeBudget', all, (v) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= 0));
    if (rare()) bad('shuffle', all, (v) => v === undefined || typeof v === 'boolean'); else options.shuffle = pick(rnd, [undefined, true, false]);
    if (rare()) bad('seed', all, (v) => v === undefined || isInt(v, 0, Number.MAX_SAFE_INTEGER)); else options.seed = pick(rnd, [undefined, 0, 7]);
    if (rare()) bad('threads', all, (v) => v === undefined || isInt(v, 1, 1024)); else options.threads = 1;
    if (rare()) bad('onNonFinite', [...all, 'stop', 'skip', 'Stop'], (v) => v === undefined || v === 'stop' || v === 'skip');
    if (rare()) bad('validationData', [...all, data], (v) => v === undefined || v === data);
    // true and an empty plain object are valid and would start MPI: not drawn
    const emptyPlain = (v: unknown) => typeof v === 'object' && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v)) && Object.keys(v).length === 0;
    if (rare()) bad('distributed', [...all.filter((v) => v !== true && !emptyPlain(v)), false, { curvature: 'x' }, { timeout: -1 }, { engine: 10n }, { extra: 1 }],
      (v) => v === undefined || v === false);
    if (rare()) {
      const controller = new AbortController();
      const which = pick(rnd, ['aborted', 'live', ...all.map((_, i) => i)]);
      if (which === 'aborted') {
        controller.abort();
        options.signal = controller.signal;
        aborted = true;
      } else if (which === 'live') options.signal = controller.signal;
      else bad('signal', [all[which as number]], (v) => v === undefined);
    }
    for (const name of ['onEpochEnd', 'onBatchEnd'] as const) {
      const r = rnd();
      if (r < 0.2) options[name] = benign(rnd, calls, `${name} option`);
      else if (r < 0.28) bad(name, all.filter((v) => typeof v !== 'function'), (v) => v === undefined);
    }
    if (rnd() < 0.05) {
      options[pick(rnd, ['epoch', 'callback', 'batch_size', 'onTrainBegin'])] = 1;
      valid = false;
    }
    const callbackCount = Math.floor(rnd() * 4);
    if (rnd() < 0.06) {
      bad('callbacks', [null, {}, 'cbs', 3, new Set()], () => false);
    } else if (callbackCount > 0 || rnd() < 0.5) {
      const list: unknown[] = [];
      for (let i = 0; i < callbackCount; i++) {
        const c = drawCallback(rnd, calls);
        list.push(c.value);
        if (!c.valid) valid = false;
      }
      options.callbacks = list;
    }
    return { options, valid, aborted, shape };
  }

  test('fit trains, or rejects with a typed error before any hook or step; no rejection is left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    const rnd = seeded(20250601);
    const counts = { trained: 0, refused: 0 };
    try {
      const model = tiny();
      for (let trial = 0; trial < 600; trial++) {
        const calls: string[] = [];
        const { options, valid, aborted, shape } = drawOptions(rnd, calls);
        const stepsBefore = model.steps;  // a refused fit leaves it; a fit with a new optimizer counts from 0
        const r = await settle(model.fit(data, options as unknown as FitOptions));
        const what = `trial ${trial}: ${describeOptions(options)}`;
        if (valid && !aborted && !shape) {
          if (r.rejected) throw new Error(`${what} was refused: ${String(r.error)}`);
          const batches = (options.stepsPerEpoch ?? Math.floor(rows / ((options.batchSize ?? rows) as number))) as number;
          const steps = Math.min(((options.epochs ?? 1) as number) * batches, (options.maxSteps ?? Infinity) as number);
          expect(r.value!.epoch).toHaveLength(Math.ceil(steps / batches));
          if (model.steps !== steps) throw new Error(`${what}: ${model.steps} steps, expected ${steps}`);
          counts.trained++;
        } else {
          if (!r.rejected) throw new Error(`${what} trained but should have been refused`);
          expect(r.error).toBeInstanceOf(KbfgsError);
          const allowed: Function[] = [];
          if (!valid) allowed.push(InvalidArgumentError);
          if (shape) allowed.push(ShapeError);
          if (aborted) allowed.push(AbortError);
          if (!allowed.some((type) => r.error instanceof type)) throw new Error(`${what}: ${String(r.error)} is not one of the expected types`);
          expect(calls).toEqual([]);
          expect(model.steps).toBe(stepsBefore);
          counts.refused++;
        }
      }
      model.dispose();
      await new Promise((resolve) => setTimeout(resolve, 20));  // let any stray rejection surface
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(counts.trained).toBeGreaterThan(100);
    expect(counts.refused).toBeGreaterThan(100);
  });

  test('hooks that throw or reject with anything, anywhere: fit rejects with that Error or a CallbackError holding the value', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    const rnd = seeded(7);
    try {
      const model = tiny();
      for (let trial = 0; trial < 150; trial++) {
        const thrown = pick(rnd, [...everyType(rnd), new Error('an Error'), new TypeError('a TypeError')]);
        const hook = pick(rnd, HOOKS);
        const at = Math.floor(rnd() * 3);  // which call of that hook fails
        const asynchronous = rnd() < 0.5;
        let calls = 0;
        const failing = asynchronous
          ? async () => { if (calls++ === at) throw thrown; }
          : () => { if (calls++ === at) throw thrown; };
        const callbacks: Callback[] = [{ [hook]: failing }, { onEpochEnd: () => {} }];
        const r = await settle(model.fit(data, { optimizer: new Adam(), epochs: 3, batchSize: 4, threads: 1, callbacks }));
        const reached = hook === 'onTrainBegin' || hook === 'onTrainEnd' ? at === 0 : at < (hook === 'onEpochEnd' ? 3 : 9);
        const what = `trial ${trial}: ${hook} call ${at} throws ${describeOptions({ thrown })}`;
        if (!reached) {
          if (r.rejected) throw new Error(`${what}: rejected though the hook never threw: ${String(r.error)}`);
          continue;
        }
        if (!r.rejected) throw new Error(`${what}: fit resolved`);
        if (thrown instanceof Error) expect(r.error).toBe(thrown);
        else {
          expect(r.error).toBeInstanceOf(CallbackError);
          expect(Object.is((r.error as CallbackError).value, thrown)).toBe(true);
          expect((r.error as Error).message).toMatch(new RegExp(`^fit: ${hook} of callbacks\\[0\\] \\(Object\\) failed with `));
        }
      }
      await expect(model.evaluate(data)).resolves.toBeGreaterThan(0);
      model.dispose();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  function describeOptions(options: Record<string, unknown>): string {
    return require('util').inspect({ ...options, optimizer: 'Adam' }, { depth: 3, breakLength: Infinity });
  }
});
