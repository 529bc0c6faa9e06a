// Budgets and epoch lengths of fit (algorithm.md §2.2): a time budget ends training after the first step past it,
// in mid-epoch too; maxSteps after so many steps; stepsPerEpoch cuts the one data stream into epochs of that
// many steps, on the same trajectory as one long epoch, through checkpoints too; trainingLossRows evaluates the
// epoch's training loss on rows spread over the data. Time passes by callbacks that wait, not by training speed.
import { Adam, InvalidArgumentError, KBFGS, Sequential, type EpochLogs, type FitOptions, type LayerWeights } from '../lib';
import { randomArray, seeded } from './helpers';

// 40 rows in batches of 4: 10 steps per pass of the data.
const rows = 40, batchSize = 4;
const x = { data: randomArray(rows * 3, seeded(5)), rows, cols: 3 };
const data = { x, y: x };
const tiny = () => new Sequential({ inputDim: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 3 }], loss: 'halfSquaredError', seed: 2 });
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const flat = (weights: LayerWeights[]) => weights.flatMap((w) => [...w.weight, ...w.bias]);

/** Trains a fresh model; returns its epoch logs, the batch events' (epoch, batch, batches) and losses, and the final weights. */
async function run(options: Partial<FitOptions> & { waitMs?: number }, model = tiny()) {
  const epochs: EpochLogs[] = [], batches: number[][] = [], batchLosses: number[] = [];
  const { waitMs, ...fitOptions } = options;
  const history = await model.fit(data, {
    optimizer: new Adam({ lr: 0.01 }), batchSize, threads: 1, seed: 3, ...fitOptions,
    onEpochEnd: (_, logs) => { epochs.push(logs); },
    onBatchEnd: async (batch, logs) => {
      batches.push([logs.epoch, batch, logs.batches]);
      batchLosses.push(logs.loss);
      if (waitMs !== undefined) await wait(waitMs);
    },
  });
  const weights = flat(model.getWeights());
  const steps = model.steps;
  model.dispose();
  return { epochs, batches, batchLosses, weights, steps, history };
}

describe('timeBudget', () => {
  test('a step that ends past the budget ends training in mid-epoch; the cut epoch is reported as partial', async () => {
    // Every step's callback waits 60 ms, past the 50 ms budget: the first step ends past it.
    const { epochs, steps, history } = await run({ epochs: 3, timeBudget: 0.05, waitMs: 60 });
    expect(steps).toBe(1);
    expect(epochs).toHaveLength(1);
    expect(epochs[0]).toMatchObject({ steps: 1, partial: true, stoppedBy: 'timeBudget' });
    expect(epochs[0].seconds).toBeGreaterThanOrEqual(0.05);
    expect(Number.isFinite(epochs[0].loss)).toBe(true);  // the cut epoch is evaluated as usual
    expect(history.epoch).toEqual([0]);
  });

  test('a budget spent at an epoch end stops there: a whole epoch, not partial', async () => {
    const { epochs, steps } = await run({ epochs: 5, stepsPerEpoch: 1, timeBudget: 0.05, waitMs: 60 });
    expect(steps).toBe(1);
    expect(epochs).toHaveLength(1);
    expect(epochs[0].partial).toBeUndefined();
    expect(epochs[0].stoppedBy).toBe('timeBudget');
  });

  test('a budget not reached changes nothing: the epochs run out first, no stoppedBy', async () => {
    const budgeted = await run({ epochs: 2, timeBudget: 1e6 });
    const free = await run({ epochs: 2 });
    expect(budgeted.steps).toBe(20);
    expect(budgeted.epochs.map((l) => [l.partial, l.stoppedBy])).toEqual([[undefined, undefined], [undefined, undefined]]);
    expect(budgeted.weights).toEqual(free.weights);
  });
});

describe('maxSteps', () => {
  test('stops after so many steps of the fit, in mid-epoch or at an epoch end', async () => {
    const mid = await run({ epochs: 5, maxSteps: 13 });
    expect(mid.steps).toBe(13);
    expect(mid.epochs.map((l) => [l.steps, l.partial, l.stoppedBy])).toEqual([[10, undefined, undefined], [13, true, 'maxSteps']]);
    const atEnd = await run({ epochs: 5, maxSteps: 20 });
    expect(atEnd.epochs.map((l) => [l.steps, l.partial, l.stoppedBy])).toEqual([[10, undefined, undefined], [20, undefined, 'maxSteps']]);
  });

  test("counts this fit's steps, not the model's", async () => {
    const model = tiny();
    const optimizer = new Adam({ lr: 0.01 });
    await model.fit(data, { optimizer, batchSize, epochs: 1, threads: 1 });
    await model.fit(data, { optimizer, batchSize, epochs: 5, maxSteps: 3, threads: 1 });
    expect(model.steps).toBe(13);
    model.dispose();
  });
});

describe('stepsPerEpoch', () => {
  test('epochs of that many steps: epoch and batch events and the history follow it', async () => {
    const { epochs, batches, steps, history } = await run({ epochs: 4, stepsPerEpoch: 7 });
    expect(steps).toBe(28);
    expect(epochs.map((l) => l.steps)).toEqual([7, 14, 21, 28]);
    expect(batches).toEqual([0, 1, 2, 3].flatMap((e) => Array.from({ length: 7 }, (_, b) => [e, b, 7])));
    expect(history.params).toMatchObject({ epochs: 4, steps: 7 });
  });

  test('the data stream goes on across epochs: the same trajectory as one epoch of all the steps, shuffled or not', async () => {
    for (const shuffle of [true, false]) {
      const short = await run({ epochs: 4, stepsPerEpoch: 7, shuffle });
      const long = await run({ epochs: 1, stepsPerEpoch: 28, shuffle });
      expect(short.weights).toEqual(long.weights);
      // one pass per epoch (10 steps) is the same stream cut elsewhere
      const passes = await run({ epochs: 2, shuffle });
      const fives = await run({ epochs: 4, stepsPerEpoch: 5, shuffle });
      expect(fives.weights).toEqual(passes.weights);
      expect(fives.weights).not.toEqual(short.weights);
    }
  });

  test('resumes from a checkpoint on the uninterrupted stream, from an epoch end and from a budget cut in mid-epoch', async () => {
    const straight = await run({ epochs: 4, stepsPerEpoch: 7 });
    for (const first of [{ epochs: 2 }, { epochs: 4, maxSteps: 9 }]) {
      const model = tiny();
      await model.fit(data, { optimizer: new Adam({ lr: 0.01 }), batchSize, threads: 1, seed: 3, stepsPerEpoch: 7, ...first });
      const restored = Sequential.fromCheckpoint(model.toCheckpoint());
      model.dispose();
      const done = restored.steps;
      const rest = await run({ optimizer: restored.optimizer!, epochs: 4, stepsPerEpoch: 7, maxSteps: 28 - done }, restored);
      expect(rest.steps).toBe(28);
      expect(rest.weights).toEqual(straight.weights);
    }
  });

  test('with K-BFGS (warm start, safeguard) the epochs are stepsPerEpoch steps too', async () => {
    const { epochs } = await run({ optimizer: new KBFGS({ lr: 0.1, damping: 0.3 }), epochs: 3, stepsPerEpoch: 4 });
    expect(epochs.map((l) => l.steps)).toEqual([4, 8, 12]);
  });
});

test('trainingLossRows: the epoch loss over rows spread evenly over the data', async () => {
  const model = tiny();
  const logs: EpochLogs[] = [];
  await model.fit(data, { optimizer: new Adam({ lr: 0.01 }), batchSize, epochs: 1, threads: 1, trainingLossRows: 7,
    onEpochEnd: (_, l) => { logs.push(l); } });
  const picked = Array.from({ length: 7 }, (_, i) => Math.floor((i * rows) / 7));
  const subset = { data: Float32Array.from(picked.flatMap((r) => [...x.data.subarray(3 * r, 3 * r + 3)])), rows: 7, cols: 3 };
  expect(logs[0].loss).toBeCloseTo(await model.evaluate({ x: subset, y: subset }), 6);
  expect(logs[0].loss).not.toBeCloseTo(await model.evaluate(data), 6);
  model.dispose();
  // as many rows as the data has, or more: all of them
  const all = await run({ epochs: 1 }), more = await run({ epochs: 1, trainingLossRows: 1000 });
  expect(more.epochs[0].loss).toBe(all.epochs[0].loss);
});

test('warmStartBatches: the warm start takes that many batches of the stream, at most a pass', async () => {
  // In stored order the first step's batch follows the warm start's batches; its loss is taken before the step,
  // at the initial weights, which the warm start leaves alone.
  const firstLoss = async (warmStartBatches?: number) =>
    (await run({ optimizer: new KBFGS({ lr: 0.1, damping: 0.3 }), epochs: 1, maxSteps: 1, shuffle: false, warmStartBatches })).batchLosses[0];
  const initialLoss = (first: number) => {
    const model = tiny();
    const rows4 = { data: x.data.slice(3 * first, 3 * (first + 4)), rows: 4, cols: 3 };
    const { loss } = model.computeGradients({ x: rows4, y: rows4 });
    model.dispose();
    return loss;
  };
  expect(await firstLoss(3)).toBeCloseTo(initialLoss(12), 6);
  // one pass (the default, or more batches than a pass holds): the stream starts over at row 0
  expect(await firstLoss()).toBeCloseTo(initialLoss(0), 6);
  expect(await firstLoss(1000)).toBeCloseTo(initialLoss(0), 6);
  expect(initialLoss(12)).not.toBeCloseTo(initialLoss(0), 6);
});

test('stopTraining in mid-epoch marks the epoch partial, with no budget named', async () => {
  const model = tiny();
  const logs: EpochLogs[] = [];
  await model.fit(data, { optimizer: new Adam(), batchSize, epochs: 3, threads: 1,
    onBatchEnd: (_, l) => { if (l.step === 4) model.stopTraining = true; }, onEpochEnd: (_, l) => { logs.push(l); } });
  expect(logs.map((l) => [l.steps, l.partial, l.stoppedBy])).toEqual([[4, true, undefined]]);
  model.dispose();
});

test.each([
  ['stepsPerEpoch', 0], ['stepsPerEpoch', 2.5], ['stepsPerEpoch', -3], ['stepsPerEpoch', '7'], ['stepsPerEpoch', 2 ** 31],
  ['maxSteps', 0], ['maxSteps', 1.5], ['maxSteps', NaN], ['trainingLossRows', 0], ['trainingLossRows', Infinity],
  ['warmStartBatches', 0], ['warmStartBatches', -1],
])('%s %p is an InvalidArgumentError naming it, before any step', async (name, value) => {
  const model = tiny();
  const error = await model.fit(data, { optimizer: new Adam(), batchSize, [name]: value } as never).then(() => null, (e) => e);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error.message).toMatch(new RegExp(`fit: ${name} must be`));
  expect(model.steps).toBe(0);
  model.dispose();
});
