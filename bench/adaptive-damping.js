#!/usr/bin/env node
// Adaptive damping (algorithm.md §19) against a fixed λ, per seed: the MNIST autoencoder (batch 1000) and the
// Fashion-MNIST CNN (batch 128), K-BFGS and KFAC, each at the step size `bench` uses for the problem
// (lib/cli/methods.ts), once with `damping: 'adaptive'` (no other tuning: K-BFGS's λ starts at its default,
// KFAC's at its scaled start, algorithm.md §19.7) and once with the fixed λ given by --fixed (default: the
// bench's λ for the problem); --runs fixed or --runs adaptive runs only one of the two. Seed s sets the
// initialisation, the data order and KFAC's sampling. One JSON line per run (appended; runs already in the
// log are not repeated), then a markdown table per seed of the whole log.
//   node bench/adaptive-damping.js --log bench/results/adaptive-damping.jsonl [--problems mnist,fashion-mnist-cnn]
//     [--methods kbfgs,kfac] [--seeds 1-10] [--epochs 3] [--train-size N] [--every 5] [--threads 2]
//     [--fixed mnist:kbfgs=0.3,mnist:kfac=3] [--runs fixed,adaptive]
//   node bench/adaptive-damping.js --table bench/results/adaptive-damping.jsonl
const { parseArgs } = require('util');
const lib = require('../dist');
const { loadProblem } = require('../dist/cli/problems');
const { settingsFor, makeOptimizer } = require('../dist/cli/methods');
const { appendRecord, readLog, seedList } = require('./sweep-log');

const { values } = parseArgs({
  options: {
    problems: { type: 'string', default: 'mnist,fashion-mnist-cnn' },
    methods: { type: 'string', default: 'kbfgs,kfac' },
    seeds: { type: 'string', default: '1-10' },
    epochs: { type: 'string', default: '3' },
    'train-size': { type: 'string' },
    every: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    fixed: { type: 'string', default: '' },
    runs: { type: 'string', default: 'fixed,adaptive' },
    log: { type: 'string' },
    table: { type: 'string' },
  },
});

const BATCH = { mnist: 1000, 'fashion-mnist-cnn': 128 };

/** "--fixed mnist:kbfgs=0.3,fashion-mnist-cnn:kfac=0.03" overrides the bench's λ per problem and method. */
function fixedDamping(problem, method) {
  for (const part of values.fixed.split(',').filter(Boolean)) {
    const [key, value] = part.split('=');
    if (key === `${problem}:${method}`) return Number(value);
  }
  return settingsFor(problem, method).damping;
}

function optimizer(problem, method, damping, seed) {
  const { lr } = settingsFor(problem, method);
  if (damping !== 'adaptive') return makeOptimizer(method, { lr, damping }, seed);
  const adaptive = { damping: 'adaptive', adaptiveDamping: { every: Number(values.every) } };
  return method === 'kfac' ? new lib.KFAC({ lr, seed, ...adaptive }) : new lib.KBFGS({ lr, ...adaptive });
}

async function run(data, problem, method, damping, seed) {
  const model = data.model(seed);
  const opt = optimizer(problem, method, damping, seed);
  const record = { problem, method, damping, seed, every: damping === 'adaptive' ? Number(values.every) : null,
    trainRows: data.trainRows, epochsRequested: Number(values.epochs), threads: Number(values.threads), epochs: [], status: 'converged' };
  try {
    await model.fit(data.train, {
      optimizer: opt, epochs: Number(values.epochs), batchSize: BATCH[problem], seed, threads: Number(values.threads),
      onEpochEnd: (epoch, logs) => {
        const d = logs.diagnostics;
        record.epochs.push({
          epoch: epoch + 1, loss: logs.loss, seconds: logs.seconds, damping: opt.settings.damping,
          rejectedSteps: d.rejectedSteps ?? 0, judged: d.dampingJudged ?? null, raised: d.dampingRaised ?? null,
          lowered: d.dampingLowered ?? null, withoutRatio: d.dampingWithoutRatio ?? null, reductionRatio: d.reductionRatio ?? null,
          modelStepLength: d.modelStepLength ?? null,
        });
      },
    });
  } catch (error) {
    record.status = `${error.name}: ${error.message}`;
  } finally {
    model.dispose();
  }
  return record;
}

const key = (r) => `${r.problem}/${r.method}/${r.damping}/${r.seed}/${r.trainRows}/${r.epochsRequested}`;
const last = (r) => r.epochs[r.epochs.length - 1];
const diverged = (r) => r.status !== 'converged' || !r.epochs.length || !Number.isFinite(last(r).loss);

function table(file) {
  const runs = readLog(file);
  const rows = ['| problem | method | seed | fixed λ | final loss, fixed λ | final loss, adaptive | adaptive / fixed | λ at the end (adaptive) | λ raised / lowered | mean ρ (over epochs) | mean α* (last epoch) | undone steps (fixed / adaptive) | diverged (fixed / adaptive) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  const fixedRuns = runs.filter((r) => r.damping !== 'adaptive');
  for (const a of runs.filter((r) => r.damping === 'adaptive')) {
    const f = fixedRuns.find((r) => r.problem === a.problem && r.method === a.method && r.seed === a.seed && r.trainRows === a.trainRows);
    const loss = (r) => (r && r.epochs.length ? last(r).loss.toFixed(3) : '-');
    const sum = (field) => a.epochs.reduce((s, e) => s + (e[field] ?? 0), 0);
    const rhos = a.epochs.map((e) => e.reductionRatio).filter(Number.isFinite);  // epochs whose judged steps had a ρ
    const rho = rhos.length ? (rhos.reduce((s, v) => s + v, 0) / rhos.length).toFixed(2) : '-';
    const ratio = f && f.epochs.length && a.epochs.length ? (last(a).loss / last(f).loss).toFixed(3) : '-';
    const undone = (r) => (r ? r.epochs.reduce((s, e) => s + e.rejectedSteps, 0) : '-');
    rows.push(`| ${a.problem} | ${a.method} | ${a.seed} | ${f ? f.damping : '-'} | ${loss(f)} | ${loss(a)} | ${ratio} | ${a.epochs.length ? last(a).damping.toPrecision(3) : '-'} | ${sum('raised')} / ${sum('lowered')} | ${rho} | ${a.epochs.length && Number.isFinite(last(a).modelStepLength) ? last(a).modelStepLength.toFixed(2) : '-'} | ${undone(f)} / ${undone(a)} | ${f ? (diverged(f) ? 'yes' : 'no') : '-'} / ${diverged(a) ? 'yes' : 'no'} |`);
  }
  return rows.join('\n');
}

async function main() {
  if (values.table) return console.log(table(values.table));
  if (!values.log) throw new Error('--log <file.jsonl> is required');
  const trainSize = values['train-size'] ? Number(values['train-size']) : undefined;
  const done = new Set(readLog(values.log).map(key));
  for (const problem of values.problems.split(',')) {
    if (!BATCH[problem]) throw new Error(`unknown problem '${problem}' (mnist, fashion-mnist-cnn)`);
    const data = await loadProblem(problem, { trainSize, testSize: 1 });
    for (const method of values.methods.split(',')) {
      for (const seed of seedList(values.seeds)) {
        const runs = values.runs.split(',');
        for (const damping of [runs.includes('fixed') && fixedDamping(problem, method), runs.includes('adaptive') && 'adaptive']) {
          if (damping === false) continue;
          const probe = { problem, method, damping, seed, trainRows: data.trainRows, epochsRequested: Number(values.epochs) };
          if (done.has(key(probe))) continue;
          const record = await run(data, problem, method, damping, seed);
          appendRecord(values.log, record);
          const e = last(record);
          console.log(`${problem} ${method} λ ${damping} seed ${seed}: ${record.status}, loss ${record.epochs.map((x) => x.loss.toFixed(3)).join(' / ')}` +
            (damping === 'adaptive' && e ? `, λ → ${e.damping.toPrecision(3)}` : '') + (e ? `, ${e.seconds.toFixed(1)} s` : ''));
        }
      }
    }
  }
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
