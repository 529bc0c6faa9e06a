#!/usr/bin/env node
// Shampoo, SOAP, K-BFGS, KFAC and Adam on one problem, each tuned by `kbfgs-native tune` on the same step budget,
// then trained for the same number of steps from several seeds: loss (and, for classifiers, test accuracy)
// against steps and against seconds, steps and seconds to common targets, and each method's peak resident
// memory. Every tune and every training run is a process of its own (GNU time reports its maximum RSS), so the
// memory is the method's and an interrupted campaign resumes where it stopped: a run whose log is complete is
// not repeated. Hours on a 2-core CPU at the default sizes; not part of the tests.
//   node bench/five-methods.js --problem mnist --out bench/results/five-methods/mnist [--seeds 1-3] [--threads 1]
//     [--methods shampoo,soap,kbfgs,kfac,adam] [--tune-steps N] [--steps N] [--steps-per-epoch N]
//     [--train-size N] [--tune-train-size N] [--stage all|tune|train|report]
// Writes <out>/settings.json (tune's winners), <out>/tune-<method>.log (each setting's final loss),
// <out>/seed-<s>/<method>/ (the bench output of one run: runs/*.jsonl, REPORT.md) with rss-kb.txt beside it,
// and <out>/SUMMARY.md (also printed): per seed the bench table of all methods, then the medians over seeds.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { parseArgs } = require('util');
const { markdownTable, writeReport } = require('../dist/cli/report');
const { readLog, seedList } = require('./sweep-log');

// Per problem: the batch, the budgets and the tune grids (per method: --lr and, where the method has it,
// --damping, which is ε relative to λ_max for Shampoo and Adam's ε for SOAP; lib/cli/methods.ts). The grids
// hold the bench's built-in settings and the paper's, and a step either side.
const PRESETS = {
  mnist: {
    batch: 1000, tuneSteps: 120, steps: 600, stepsPerEpoch: 60,
    grids: {
      kbfgs: ['--lr', '0.1,0.3,1', '--damping', '0.03,0.1,0.3'],
      kfac: ['--lr', '0.3,1', '--damping', '0.1,1,3'],
      adam: ['--lr', '0.0003,0.001,0.003', '--epsilon', '0.0001'],
      shampoo: ['--lr', '0.0003,0.001,0.003,0.01', '--damping', '0.000001'],
      soap: ['--lr', '0.001,0.003,0.01', '--damping', '0.00000001'],
    },
  },
  'fashion-mnist-cnn': {
    batch: 128, tuneSteps: 100, tuneTrainSize: 12800, steps: 1407, stepsPerEpoch: 235,
    grids: {
      kbfgs: ['--lr', '0.3,1', '--damping', '0.03,0.1,0.3'],
      kfac: ['--lr', '0.1,0.3,1', '--damping', '0.01,0.03,0.1'],
      adam: ['--lr', '0.001,0.003,0.01', '--epsilon', '0.0001'],
      shampoo: ['--lr', '0.0003,0.001,0.003,0.01', '--damping', '0.000001'],
      soap: ['--lr', '0.001,0.003,0.01', '--damping', '0.00000001'],
    },
  },
};

const { values } = parseArgs({
  options: {
    problem: { type: 'string', default: 'mnist' }, out: { type: 'string' }, seeds: { type: 'string', default: '1-3' },
    threads: { type: 'string', default: '1' }, methods: { type: 'string', default: 'shampoo,soap,kbfgs,kfac,adam' },
    'tune-steps': { type: 'string' }, steps: { type: 'string' }, 'steps-per-epoch': { type: 'string' },
    'train-size': { type: 'string' }, 'tune-train-size': { type: 'string' }, stage: { type: 'string', default: 'all' },
  },
});
const preset = PRESETS[values.problem];
if (!preset) throw new Error(`--problem must be one of ${Object.keys(PRESETS).join(', ')}, got ${values.problem}`);
if (!values.out) throw new Error('--out <dir> is required');
const methods = values.methods.split(',');
for (const m of methods) if (!preset.grids[m]) throw new Error(`no tune grid for method ${m}; one of ${Object.keys(preset.grids).join(', ')}`);
const stage = values.stage;
if (!['all', 'tune', 'train', 'report'].includes(stage)) throw new Error(`--stage must be all, tune, train or report, got ${stage}`);
const out = values.out;
const settingsFile = path.join(out, 'settings.json');
const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const common = ['--batch-size', String(preset.batch), '--threads', values.threads];  // tune and bench alike
fs.mkdirSync(out, { recursive: true });

/** Runs the CLI under GNU time; returns its maximum RSS in kB. Stops the campaign if the run fails. */
function runCli(args, logFile) {
  const rssFile = `${logFile}.rss`;
  const log = fs.openSync(logFile, 'w');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, cli, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (r.status !== 0) throw new Error(`kbfgs-native ${args.join(' ')} failed (exit ${r.status}); see ${logFile}`);
  const kb = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
  fs.rmSync(rssFile);
  return kb;
}

function tune() {
  const tuned = fs.existsSync(settingsFile) ? JSON.parse(fs.readFileSync(settingsFile, 'utf8'))[values.problem] ?? {} : {};
  const trainSize = values['tune-train-size'] ?? preset.tuneTrainSize;
  for (const method of methods) {
    if (tuned[method]) continue;  // tuned already: `tune` adds each method's winner to the file
    console.error(`tune ${method} …`);
    runCli(['tune', '--problem', values.problem, ...common, '--methods', method, ...preset.grids[method],
      '--max-steps', values['tune-steps'] ?? String(preset.tuneSteps), '--seed', '9999', '--out', settingsFile,
      ...(trainSize ? ['--train-size', String(trainSize)] : [])], path.join(out, `tune-${method}.log`));
  }
}

const runDir = (seed, method) => path.join(out, `seed-${seed}`, method);
const recordsOf = (seed, method) => readLog(path.join(runDir(seed, method), 'runs', `${values.problem}-${method}.jsonl`));

function train() {
  if (!fs.existsSync(settingsFile)) throw new Error(`${settingsFile} is missing: run the tune stage first`);
  const steps = values.steps ?? String(preset.steps);
  for (const seed of seedList(values.seeds)) {
    for (const method of methods) {
      const dir = runDir(seed, method);
      if (fs.existsSync(path.join(dir, 'rss-kb.txt'))) continue;  // finished earlier
      console.error(`seed ${seed} ${method} …`);
      fs.mkdirSync(dir, { recursive: true });
      const kb = runCli(['bench', '--problems', values.problem, '--methods', method, ...common, '--settings', settingsFile,
        '--max-steps', steps, '--steps-per-epoch', values['steps-per-epoch'] ?? String(preset.stepsPerEpoch), '--seed', String(seed),
        '--out', dir, '--quiet', ...(values['train-size'] ? ['--train-size', values['train-size']] : [])], path.join(dir, 'bench.log'));
      fs.writeFileSync(path.join(dir, 'rss-kb.txt'), `${kb}\n`);
    }
  }
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const show = (v, digits = 3) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(digits)) : '—');

async function report() {
  const seeds = seedList(values.seeds).filter((s) => methods.some((m) => recordsOf(s, m).length));
  const parts = [`# ${values.problem}: ${methods.join(', ')}`, '', `Settings (tuned): \`${JSON.stringify(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))[values.problem])}\``, ''];
  const perMethod = new Map(methods.map((m) => [m, []]));
  for (const seed of seeds) {
    const records = methods.flatMap((m) => recordsOf(seed, m));
    await writeReport(path.join(out, `seed-${seed}`), values.problem, records);
    parts.push(markdownTable(`${values.problem}, seed ${seed}`, records));
    for (const m of methods) {
      const rs = recordsOf(seed, m);
      if (!rs.length) continue;
      const rssFile = path.join(runDir(seed, m), 'rss-kb.txt');
      perMethod.get(m).push({ rs, rssMB: fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) / 1024 : NaN });
    }
  }
  // Medians over seeds: the final figures, the steps and seconds to the loss every method reaches (the worst
  // method's median final loss) and to the best method's median final loss + 5%, and the peak RSS.
  const finals = methods.map((m) => median(perMethod.get(m).map((r) => r.rs.at(-1).trainLoss)));
  const targets = [Math.max(...finals.filter(Number.isFinite)), Math.min(...finals.filter(Number.isFinite)) * 1.05];
  const classifier = [...perMethod.values()].some((runs) => runs.some((r) => r.rs.some((x) => x.testAccuracy !== undefined)));
  const head = ['method', 'seeds', 'final train loss', ...(classifier ? ['final test accuracy'] : []),
    ...targets.flatMap((t) => [`steps to loss ≤ ${show(t, 4)}`, `s to loss ≤ ${show(t, 4)}`]), 's per step', 'peak RSS (MB)'];
  const rows = methods.map((m, i) => {
    const runs = perMethod.get(m);
    const reach = (t, key) => median(runs.map((r) => r.rs.find((x) => x.trainLoss <= t)?.[key] ?? NaN));
    const last = runs.map((r) => r.rs.at(-1));
    return [m, String(runs.length), show(finals[i]), ...(classifier ? [show(median(last.map((x) => x.testAccuracy)), 4)] : []),
      ...targets.flatMap((t) => [show(reach(t, 'steps'), 0), show(reach(t, 'seconds'), 1)]),
      show(median(last.map((x) => x.seconds / x.steps)), 4), show(median(runs.map((r) => r.rssMB)), 0)];
  });
  parts.push(`### Medians over seeds ${seeds.join(', ')}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`), '');
  const text = parts.join('\n');
  fs.writeFileSync(path.join(out, 'SUMMARY.md'), text);
  console.log(text);
}

(async () => {
  if (stage === 'all' || stage === 'tune') tune();
  if (stage === 'all' || stage === 'train') train();
  if (stage === 'all' || stage === 'report') await report();
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
