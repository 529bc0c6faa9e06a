// Data-parallel training over Open MPI (docs/algorithm.md §13), with the real mpirun: two ranks on small
// problems follow the single-process trajectory (only the summation order differs), hold identical weights,
// split the curvature work by layer to the same result, resume checkpoints at another rank count, and end with
// an error, never a hang, when a rank dies or stops taking part. CI installs Open MPI (scripts/setup.sh).
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InvalidArgumentError, SGD, Sequential, devices, matrix } from '../dist';

const worker = path.join(__dirname, 'distributed', 'worker.js');
const mpirun = ['--allow-run-as-root', '--oversubscribe', '--mca', 'btl', 'self,vader', '-np'];
// kbfgs-every-3, kfac-every-3: K-BFGS and KFAC with curvatureEvery 3 (the steps between curvature steps sum no
// means or factors); *-rules: AdamW and K-BFGS with clipping by global norm and a schedule (algorithm.md §15).
const METHODS = ['kbfgs', 'kbfgs-every-3', 'kbfgs-l', 'kfac', 'kfac-every-3', 'sgd', 'adam', 'rmsprop', 'adamw-rules', 'kbfgs-rules', 'shampoo', 'soap'];

interface Line {
  rank: number; epoch: number; loss: number; batchLoss: number; steps: number; weights: string; bytes?: number; clipped?: number;
  partial?: boolean; stoppedBy?: string;
  error?: string; code?: string; message?: string;
}

function parse(run: SpawnSyncReturns<string>): Line[] {
  return run.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function single(settings: object): Line[] {
  const run = spawnSync(process.execPath, [worker, JSON.stringify(settings)], { encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return parse(run);
}

function ranks(n: number, settings: object, env: NodeJS.ProcessEnv = {}): { lines: Line[]; run: SpawnSyncReturns<string>; seconds: number } {
  const start = Date.now();
  const run = spawnSync('mpirun', [...mpirun, String(n), process.execPath, worker, JSON.stringify({ distributed: true, ...settings })],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  if (run.error) throw new Error(`mpirun could not run (${run.error.message}); install Open MPI: bash scripts/setup.sh`);
  return { lines: parse(run), run, seconds: (Date.now() - start) / 1000 };
}

function expectSameTrajectory(one: Line[], many: Line[], tolerance = 1e-5) {
  expect(many.map((l) => l.epoch)).toEqual(one.map((l) => l.epoch));
  one.forEach((line, i) => {
    expect(many[i].steps).toBe(line.steps);
    for (const key of ['loss', 'batchLoss'] as const)
      expect(Math.abs(many[i][key] - line[key]) / Math.abs(line[key])).toBeLessThan(tolerance);
  });
}

// Every rank's epoch lines, grouped by epoch: the same weights on all ranks at every epoch end.
function expectIdenticalRanks(lines: Line[], n: number) {
  const byEpoch = new Map<number, Line[]>();
  for (const l of lines) byEpoch.set(l.epoch, [...(byEpoch.get(l.epoch) ?? []), l]);
  for (const group of byEpoch.values()) {
    expect(group.map((l) => l.rank).sort()).toEqual([...Array(n).keys()]);
    expect(new Set(group.map((l) => l.weights)).size).toBe(1);
    expect(new Set(group.map((l) => l.loss)).size).toBe(1);
  }
}

describe.each(['dense', 'cnn'])('%s problem', (problem) => {
  test.each(METHODS)('%s: 2 ranks follow the single-process trajectory with identical weights on both', (method) => {
    const one = single({ method, problem });
    const { lines, run } = ranks(2, { method, problem, allRanks: true });
    expect(run.status).toBe(0);
    expectIdenticalRanks(lines, 2);
    expectSameTrajectory(one, lines.filter((l) => l.rank === 0));
    expect(one[one.length - 1].loss).toBeLessThan(one[0].loss);  // the runs compared are training runs
    expect(lines[lines.length - 1].bytes).toBeGreaterThan(0);
    // the whole batch's norm on every rank: the same steps clipped as in one process, and not all of them
    if (method.endsWith('-rules')) {
      const clipped = (run: Line[]) => run.reduce((sum, l) => sum + (l.clipped ?? 0), 0);
      expect(clipped(lines.filter((l) => l.rank === 1))).toBe(clipped(one));
      expect(clipped(one)).toBeGreaterThan(0);
      expect(clipped(one)).toBeLessThan(one[one.length - 1].steps);
    }
  });
});

// A token model (algorithm.md §18): the per-token means and factors over every rank's token rows (§18.6), the
// sampled targets and the dropout masks numbered by the row's place in the whole batch.
test.each(['kbfgs', 'kfac', 'kfac-trace', 'adamw-rules'])('%s on a token model: 2 ranks follow the single-process trajectory with identical weights on both', (method) => {
  const one = single({ method, problem: 'tokens' });
  const { lines, run } = ranks(2, { method, problem: 'tokens', allRanks: true });
  expect(run.status).toBe(0);
  expectIdenticalRanks(lines, 2);
  expectSameTrajectory(one, lines.filter((l) => l.rank === 0));
  expect(one[one.length - 1].loss).toBeLessThan(one[0].loss);
  expect(lines[lines.length - 1].bytes).toBeGreaterThan(0);
});

test.each([
  ['kbfgs', 'dense'], ['kbfgs-l', 'dense'], ['kfac', 'dense'], ['kbfgs', 'cnn'], ['kfac', 'cnn'], ['kbfgs', 'tokens'], ['kfac-trace', 'tokens'],
])("%s on the %s problem: curvature split by layer gives the replicated run's weights bit for bit", (method, problem) => {
  const replicated = ranks(2, { method, problem });
  const split = ranks(2, { method, problem, curvature: 'layer', allRanks: true });
  expect(split.run.status).toBe(0);
  expectIdenticalRanks(split.lines, 2);
  expect(split.lines.filter((l) => l.rank === 0).map(({ loss, weights }) => ({ loss, weights })))
    .toEqual(replicated.lines.map(({ loss, weights }) => ({ loss, weights })));
});

test('three ranks with uneven shares (32 rows over 3) follow the single-process trajectory', () => {
  const one = single({ method: 'kbfgs' });
  const { lines, run } = ranks(3, { method: 'kbfgs', allRanks: true });
  expect(run.status).toBe(0);
  expectIdenticalRanks(lines, 3);
  expectSameTrajectory(one, lines.filter((l) => l.rank === 0));
});

describe('checkpoints', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-dist-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(['kbfgs', 'kfac'])('%s: written by rank 0, resumed at another rank count, on the uninterrupted trajectory', (method) => {
    const straight = single({ method, epochs: 4 });
    const fromTwo = path.join(dir, `${method}-2.safetensors`), fromOne = path.join(dir, `${method}-1.safetensors`);
    expect(ranks(2, { method, epochs: 2, save: fromTwo }).run.status).toBe(0);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);  // written atomically, by one rank
    const resumedAlone = single({ method, epochs: 2, load: fromTwo });
    expectSameTrajectory(straight.slice(2), resumedAlone);
    single({ method, epochs: 2, save: fromOne });
    const resumedOnTwo = ranks(2, { method, epochs: 2, load: fromOne, allRanks: true });
    expectIdenticalRanks(resumedOnTwo.lines, 2);
    expectSameTrajectory(straight.slice(2), resumedOnTwo.lines.filter((l) => l.rank === 0));
  });

  test("a checkpoint saved by rank 0's batch callback in mid-epoch holds the whole state: it resumes on the single-process trajectory", () => {
    const fromTwo = path.join(dir, 'mid-2.safetensors'), fromOne = path.join(dir, 'mid-1.safetensors');
    expect(ranks(2, { method: 'kbfgs', epochs: 2, save: fromTwo, saveAtStep: 12 }).run.status).toBe(0);
    single({ method: 'kbfgs', epochs: 2, save: fromOne, saveAtStep: 12 });
    expect(Sequential.load(fromTwo).steps).toBe(12);
    // Resumed alone, both checkpoints continue alike: K-BFGS's A was saved whole, not as rank 0's share.
    expectSameTrajectory(single({ method: 'kbfgs', epochs: 2, load: fromOne }), single({ method: 'kbfgs', epochs: 2, load: fromTwo }));
  });

  test('a killed rank ends the job with an error within seconds; the last checkpoint loads and resumes', () => {
    const file = path.join(dir, 'killed.safetensors');
    const { lines, run, seconds } = ranks(2, { method: 'kbfgs', epochs: 1000, save: file, killRank: 1, killEpoch: 2, allRanks: true });
    expect(run.status).not.toBe(0);
    expect(seconds).toBeLessThan(30);
    expect(run.stderr).toMatch(/rank 1 .*(exited on signal 9|Killed)/s);
    expect(run.stderr).toMatch(/rank 0 of 2 was stopped by the MPI launcher \(SIGTERM\): another rank ended/);
    expect(Math.max(...lines.map((l) => l.epoch))).toBeLessThan(10);
    const model = Sequential.load(file);
    // Rank 0 saved after epoch 2 unless the launcher stopped it first: then epoch 1's checkpoint is the last.
    expect([16, 24]).toContain(model.steps);
    const resumed = single({ method: 'kbfgs', epochs: 1, load: file });
    expect(resumed[0].steps).toBe(model.steps + 8);
  });
});

test("one rank's callback stopping training stops every rank after the same step, weights identical", () => {
  const { lines, run } = ranks(2, { method: 'kbfgs', epochs: 4, stopRank: 1, atStep: 11, allRanks: true });
  expect(run.status).toBe(0);
  expectIdenticalRanks(lines, 2);
  // The epoch in progress ends after step 11 and is reported; no further epoch runs.
  expect(lines.map((l) => [l.epoch, l.steps])).toEqual(expect.arrayContaining([[0, 8], [1, 11]]));
  expect(lines).toHaveLength(4);
});

// The time budget is judged on rank 0's clock alone (algorithm.md §2.2), its vote riding on the per-step stop vote.
test("rank 0's time budget stops every rank after the same step in mid-epoch; another rank's budget is not consulted", () => {
  const stopped = ranks(2, { method: 'kbfgs', epochs: 4, budgetRank: 0, allRanks: true });
  expect(stopped.run.status).toBe(0);
  expectIdenticalRanks(stopped.lines, 2);
  expect(stopped.lines.map(({ epoch, steps, partial, stoppedBy }) => ({ epoch, steps, partial, stoppedBy })))
    .toEqual([0, 1].map(() => ({ epoch: 0, steps: 1, partial: true, stoppedBy: 'timeBudget' })));
  const ignored = ranks(2, { method: 'kbfgs', epochs: 2, budgetRank: 1, allRanks: true });
  expect(ignored.run.status).toBe(0);
  expectIdenticalRanks(ignored.lines, 2);
  expect(ignored.lines.filter((l) => l.rank === 1).map((l) => [l.steps, l.partial])).toEqual([[8, undefined], [16, undefined]]);
});

test('with stepsPerEpoch, 2 ranks follow the single-process trajectory', () => {
  const one = single({ method: 'adam', stepsPerEpoch: 5, epochs: 3 });
  expect(one.map((l) => l.steps)).toEqual([5, 10, 15]);
  const { lines, run } = ranks(2, { method: 'adam', stepsPerEpoch: 5, epochs: 3, allRanks: true });
  expect(run.status).toBe(0);
  expectIdenticalRanks(lines, 2);
  expectSameTrajectory(one, lines.filter((l) => l.rank === 0));
});

test("one rank's abort signal makes every rank reject with AbortError at the same step", () => {
  const { lines } = ranks(2, { method: 'adam', epochs: 4, abortRank: 0, atStep: 10, allRanks: true });
  expect(lines.filter((l) => l.error === 'AbortError')).toHaveLength(2);
  expect(lines.filter((l) => l.epoch === 0)).toHaveLength(2);  // epoch 0 finished on both, epoch 1 on neither
  expect(lines.filter((l) => l.epoch === 1)).toHaveLength(0);
});

test('a rank that stops taking part makes the others fail with DistributedError after the timeout', () => {
  const { lines, run, seconds } = ranks(2, { method: 'kbfgs', epochs: 1000, hangRank: 1, hangEpoch: 1, timeout: 3 });
  expect(run.status).not.toBe(0);
  const failure = lines.find((l) => l.error);
  expect(failure).toMatchObject({ error: 'DistributedError', code: 'KBFGS_DISTRIBUTED' });
  expect(failure!.message).toMatch(/rank 0 of 2: no answer from the other ranks .* for 3 s/);
  expect(seconds).toBeGreaterThanOrEqual(3);
  expect(seconds).toBeLessThan(30);
});

test.each([
  [{ seedOfRank1: 99 }, /the ranks do not train the same run: weights \(1 rank\(s\)\) differ from rank 0's/],
  [{ lrOfRank1: 0.01 }, /the ranks do not train the same run: fit settings \(optimizer and its lr .*\(1 rank\(s\)\) differ/],
  [{ clipOfRank1: 0.5 }, /the ranks do not train the same run: fit settings \(optimizer and its lr and damping, clipping .*\(1 rank\(s\)\) differ/],
  [{ stepsPerEpochOfRank1: 3 }, /the ranks do not train the same run: fit settings \(.*stepsPerEpoch.*\(1 rank\(s\)\) differ/],
])('ranks that differ (%j) fail together with DistributedError naming what differs', (differ, message) => {
  const { lines, run } = ranks(2, { method: 'adam', allRanks: true, ...differ });
  expect(run.status).not.toBe(0);
  const errors = lines.filter((l) => l.error);
  expect(errors).toHaveLength(2);
  for (const e of errors) {
    expect(e.code).toBe('KBFGS_DISTRIBUTED');
    expect(e.message).toMatch(message);
  }
});

test('a batch smaller than the number of ranks is an InvalidArgumentError on every rank', () => {
  const { lines } = ranks(3, { method: 'sgd', batchSize: 2, allRanks: true });
  expect(lines.filter((l) => l.error)).toHaveLength(3);
  for (const l of lines) expect(l.message).toMatch(/batchSize 2 is smaller than the 3 ranks/);
});

test('without Open MPI, DistributedError names the file that was tried', () => {
  const { lines } = ranks(1, { method: 'sgd' }, { KBFGS_MPI_LIBRARY: '/nonexistent/libmpi.so.40' });
  expect(lines[0]).toMatchObject({ error: 'DistributedError' });
  expect(lines[0].message).toMatch(/needs Open MPI .*\/nonexistent\/libmpi\.so\.40/s);
});

test('bad distributed options are InvalidArgumentErrors before MPI starts', async () => {
  const model = new Sequential({ inputDim: 2, layers: [{ units: 1 }], loss: 'halfSquaredError' });
  const data = { x: matrix(new Float32Array(8), 4, 2), y: matrix(new Float32Array(4), 4, 1) };
  for (const distributed of [{ curvature: 'rows' }, { timeout: -1 }, { timeout: Infinity }, { ranks: 2 }, { engine: 'nccl' }, { engine: 'gloo' }, 'yes', null])
    await expect(model.fit(data, { optimizer: new SGD(), distributed: distributed as never })).rejects.toThrow(InvalidArgumentError);
});

// NCCL does not allow two ranks on one GPU: on a machine with a GPU a one-rank NCCL world runs every sum and
// broadcast through NCCL and must give the undistributed GPU run's trajectory. Multi-GPU runs are not tested.
(devices().cuda.available ? describe : describe.skip)('NCCL on a GPU', () => {
  test.each(['kbfgs', 'kfac', 'adam'])('%s: a 1-rank NCCL run equals the undistributed GPU run', (method) => {
    const alone = single({ method, device: 'cuda' });
    const { lines, run } = ranks(1, { method, device: 'cuda', engine: 'nccl' });
    expect(run.status).toBe(0);
    expectSameTrajectory(alone, lines, 1e-6);
    expect(lines[0].bytes).toBeUndefined();  // one rank: the trainer reports no traffic
  });
});

test('the CLI: train --distributed under mpirun logs once (rank 0), saves once, and matches the one-process run', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-dist-cli-'));
  try {
    const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
    const args = ['train', '--problem', 'curves-synth', '--train-size', '400', '--test-size', '100', '--optimizer', 'kbfgs', '--lr', '0.1',
      '--epochs', '3', '--batch-size', '100', '--threads', '1', '--device', 'cpu', '--quiet'];
    const alone = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
    const save = path.join(dir, 'cli.safetensors');
    const both = spawnSync('mpirun', [...mpirun, '2', process.execPath, cli, ...args, '--distributed', '--curvature', 'layer', '--save', save],
      { encoding: 'utf8', timeout: 60_000 });
    expect(both.status).toBe(0);
    const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l));
    const one = lines(alone.stdout), two = lines(both.stdout);
    expect(two.map((l) => l.epoch)).toEqual([0, 1, 2]);  // rank 1 prints nothing
    two.forEach((l, i) => expect(Math.abs(l.trainLoss - one[i].trainLoss) / one[i].trainLoss).toBeLessThan(1e-5));
    expect(two[2].diagnostics.summedBytes).toBeGreaterThan(0);
    expect(Sequential.load(save).steps).toBe(two[2].steps);
    expect(fs.readdirSync(dir)).toEqual(['cli.safetensors']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
