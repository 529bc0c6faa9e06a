#!/usr/bin/env node
// Time to a test accuracy on full Fashion-MNIST (issue: CPU speed, "second-order on the clock"): the benchmark CNN
// (algorithm.md §12.5), batch 128, trained by each configuration from each seed, each run in a process of its
// own, the configurations alternated within a seed so that a drift of the machine's speed falls on all of them.
// The test accuracy is measured every --eval-every steps (default 67, seven times per pass over the 60,000
// images), so the time to a target is read to a seventh of an epoch instead of a whole one; the clock is the
// training wall time with evaluation excluded (fit's logs.seconds), the warm-start pass included.
//   node bench/time-to-accuracy.js --configs adam,kbfgs-l-r10-w20 --seeds 1,2,3 --passes 3 --threads 2 --out DIR
//     [--clock cpu] [--parallel 2] [--stop-at-targets] [--eval-every 67] [--targets 0.9,0.91]
//   node bench/time-to-accuracy.js --report --out DIR [--clock cpu]   (tables from the logs already in DIR)
// A configuration is a method with settings (CONFIGS below, or a JSON file of name -> {method, ...settings} given
// as --configs-file). `lrDecay` multiplies α by its value after every pass over the training data (as the
// CLI's per-epoch lrDecay does when an epoch is one pass), whatever --eval-every is; `warmStartBatches` limits a
// second-order method's warm start (fit's option; default one pass).
// --clock cpu reads the process's processor seconds instead (at --threads 1 the measure least disturbed by other
// jobs on the machine; two runs may then share it, --parallel 2).
// Each run writes one JSON line per evaluation to DIR/<config>-seed<seed>.jsonl. --stop-at-targets ends a run at
// the first evaluation past the highest target (its "final accuracy" is then that evaluation's).
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: {
  configs: { type: 'string', default: 'adam,kbfgs-l-r10-w20' }, 'configs-file': { type: 'string' },
  seeds: { type: 'string', default: '1,2,3' }, passes: { type: 'string', default: '3' },
  threads: { type: 'string', default: '2' }, 'eval-every': { type: 'string', default: '67' },
  targets: { type: 'string', default: '0.9,0.91' }, out: { type: 'string' }, report: { type: 'boolean' },
  'stop-at-targets': { type: 'boolean' }, clock: { type: 'string', default: 'wall' }, parallel: { type: 'string', default: '1' },
  child: { type: 'string' },  // internal: run one configuration and seed in this process
} });

const BATCH = 128;
const PASS_STEPS = Math.floor(60000 / BATCH);  // 468 batches make one pass, as the CLI's epoch
const TRAINING_LOSS_ROWS = 2560;  // the logged training loss over 2,560 spread rows: an evaluation is mostly the test set's
// The configurations measured (bench/RESULTS.md, "Time to 90 % and 91 % test accuracy"): Adam and K-BFGS,
// K-BFGS(L) at the settings of the full-data runs with the step decay, KFAC at its tuned ones; "-r10" takes the
// curvature at every 10th step only (curvatureEvery, algorithm.md §12.4, §5.1), "-w20" warm-starts from 20
// batches instead of a pass (algorithm.md §2.2, §3.2).
const ADAM = { method: 'adam', lr: 1e-3, epsilon: 1e-4, lrDecay: 0.5 };
const KBFGS = { method: 'kbfgs', lr: 1, damping: 0.1, lrDecay: 0.5 };
const KBFGS_L = { ...KBFGS, method: 'kbfgs-l' };
const KFAC = { method: 'kfac', lr: 0.3, damping: 0.01, lrDecay: 0.5 };
const R10 = { curvatureEvery: 10 }, W20 = { warmStartBatches: 20 };
const CONFIGS = {
  adam: ADAM,
  kbfgs: KBFGS, 'kbfgs-w20': { ...KBFGS, ...W20 }, 'kbfgs-r10': { ...KBFGS, ...R10 }, 'kbfgs-r10-w20': { ...KBFGS, ...R10, ...W20 },
  'kbfgs-l': KBFGS_L, 'kbfgs-l-w20': { ...KBFGS_L, ...W20 }, 'kbfgs-l-r10': { ...KBFGS_L, ...R10 }, 'kbfgs-l-r10-w20': { ...KBFGS_L, ...R10, ...W20 },
  'kfac-r10': { ...KFAC, ...R10 }, 'kfac-r10-w20': { ...KFAC, ...R10, ...W20 },
};
const configs = values['configs-file'] ? JSON.parse(fs.readFileSync(values['configs-file'], 'utf8')) : CONFIGS;
const names = values.configs.split(',');
for (const name of names) if (!configs[name]) throw new Error(`unknown configuration ${name}; known: ${Object.keys(configs).join(', ')}`);
const targets = values.targets.split(',').map(Number);
const seeds = values.seeds.split(',').map(Number);
if (!values.out) throw new Error('--out DIR is required');
fs.mkdirSync(values.out, { recursive: true });
const logFile = (name, seed) => path.join(values.out, `${name}-seed${seed}.jsonl`);

async function child(name, seed) {
  const lib = require('../dist');
  const { loadProblem } = require('../dist/cli/problems');
  const { makeOptimizer } = require('../dist/cli/methods');
  const { method, lrDecay = 1, warmStartBatches, ...settings } = configs[name];
  const problem = await loadProblem('fashion-mnist-cnn');
  const model = problem.model(seed);
  const optimizer = makeOptimizer(method, settings, seed);
  const evalEvery = Number(values['eval-every']);
  const decay = new lib.LearningRateScheduler((step) => settings.lr * lrDecay ** Math.floor(step / PASS_STEPS), { every: 'step' });
  const log = fs.openSync(logFile(name, seed), 'w');
  // --clock cpu: the process's processor seconds between batch ends, evaluations left out (the warm start falls
  // in the first step's share, as in the wall clock)
  const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  let cpuSeconds = 0, lastCpu = cpuNow();
  const byCpu = values.clock === 'cpu';
  await model.fit(problem.train, {
    ...(byCpu ? { onBatchEnd: () => { const t = cpuNow(); cpuSeconds += t - lastCpu; lastCpu = t; } } : {}),
    optimizer, callbacks: [decay], epochs: Math.ceil(Number(values.passes) * PASS_STEPS / evalEvery), stepsPerEpoch: evalEvery,
    batchSize: BATCH, seed, threads: Number(values.threads), trainingLossRows: TRAINING_LOSS_ROWS,
    warmStartBatches, validationData: problem.test,  // a pass unless the configuration says (-w20), whatever the CLI's problem does
    onEpochEnd: (epoch, logs) => {
      const record = { config: name, method, settings: configs[name], seed, steps: logs.steps, passes: logs.steps / PASS_STEPS,
        seconds: logs.seconds, ...(byCpu ? { cpuSeconds } : {}), trainLoss: logs.loss, testLoss: logs.valLoss, testAccuracy: logs.valAccuracy,
        undone: logs.diagnostics.rejectedSteps ?? null, threads: Number(values.threads) };
      fs.writeSync(log, JSON.stringify(record) + '\n');
      process.stderr.write(`${name} seed ${seed}: step ${logs.steps}, ${logs.seconds.toFixed(1)} s, test accuracy ${logs.valAccuracy.toFixed(4)}\n`);
      if (values['stop-at-targets'] && logs.valAccuracy >= Math.max(...targets)) model.stopTraining = true;
      lastCpu = cpuNow();  // the evaluation just done is not training
    },
  });
  fs.closeSync(log);
  model.dispose();
}

// The first evaluation at or above the target, as [seconds, passes], or null.
const clockOf = (r) => (values.clock === 'cpu' ? r.cpuSeconds : r.seconds);
function reached(records, target) {
  const hit = records.find((r) => r.testAccuracy >= target);
  return hit ? [clockOf(hit), hit.passes] : null;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

function report() {
  const rows = [];
  const found = fs.readdirSync(values.out).filter((f) => f.endsWith('.jsonl'));
  const byConfig = new Map();
  for (const file of found) {
    const records = fs.readFileSync(path.join(values.out, file), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    if (records.length === 0) continue;
    const { config, seed } = records[0];
    if (!byConfig.has(config)) byConfig.set(config, []);
    byConfig.get(config).push({ seed, records });
  }
  const unit = values.clock === 'cpu' ? 'processor s' : 's';
  const head = ['configuration', 'seed', ...targets.flatMap((t) => [`${unit} to ${(100 * t).toFixed(0)} %`, `passes to ${(100 * t).toFixed(0)} %`]), 'final accuracy', `${unit} per pass`];
  rows.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
  const cell = (x) => (x === null ? '—' : x[0].toFixed(0));
  const passes = (x) => (x === null ? '—' : x[1].toFixed(2));
  for (const [config, runs] of byConfig) {
    runs.sort((a, b) => a.seed - b.seed);
    for (const { seed, records } of runs) {
      const last = records[records.length - 1];
      rows.push(`| ${config} | ${seed} | ${targets.flatMap((t) => { const r = reached(records, t); return [cell(r), passes(r)]; }).join(' | ')} | ${(100 * last.testAccuracy).toFixed(2)} % | ${(clockOf(last) / last.passes).toFixed(1)} |`);
    }
    const med = targets.flatMap((t) => {
      const hits = runs.map((r) => reached(r.records, t));
      const ok = hits.filter((h) => h !== null);
      return [ok.length === runs.length ? median(ok.map((h) => h[0])).toFixed(0) : `${ok.length} of ${runs.length} reached`,
        ok.length === runs.length ? median(ok.map((h) => h[1])).toFixed(2) : '—'];
    });
    const finals = runs.map((r) => r.records[r.records.length - 1]);
    rows.push(`| ${config} | median | ${med.join(' | ')} | ${(100 * median(finals.map((f) => f.testAccuracy))).toFixed(2)} % | ${median(finals.map((f) => clockOf(f) / f.passes)).toFixed(1)} |`);
  }
  console.log(rows.join('\n'));
}

if (values.child) {
  const [name, seed] = values.child.split(':');
  child(name, Number(seed)).catch((e) => { console.error(e); process.exit(1); });
} else if (values.report) {
  report();
} else {
  // Runs in order (seed by seed, the configurations alternated within a seed), at most --parallel at a time.
  const queue = seeds.flatMap((seed) => names.map((name) => `${name}:${seed}`));
  const own = process.argv.slice(2).filter((a, i, all) => a !== '--child' && all[i - 1] !== '--child');
  const runOne = (job) => new Promise((resolve, reject) => {
    spawn(process.execPath, [__filename, ...own, '--child', job], { stdio: 'inherit' })
      .on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${job} exited with ${code}`))));
  });
  const worker = async () => { while (queue.length) await runOne(queue.shift()); };
  Promise.all(Array.from({ length: Number(values.parallel) }, worker)).then(report, (e) => { console.error(e.message); process.exit(1); });
}
