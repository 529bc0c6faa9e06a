#!/usr/bin/env node
// Seconds per AdamW step of the small GPT (the text problem's Sequential.gpt: 4 blocks, width 128, 4 heads,
// context 128) at each thread count, side by side in one process: one model per thread count from the same
// seed, a warm-up fit each, then --rounds rounds in which every model trains --steps steps in turn (rounds
// interleave the thread counts, so a change in the machine's load falls on all of them alike).
//   node bench/gpt-threads.js [--threads 1,2] [--steps 10] [--rounds 2] [--batch-size 32]
// Prints, per thread count, the median seconds per step over the rounds, its ratio to the first count's, and
// the process's processor seconds (user + system, all threads) per step.
const { parseArgs } = require('util');
const lib = require('../dist');
const { makeOptimizer, settingsFor } = require('../dist/cli/methods');
const { TEXT_GPT } = require('../dist/cli/problems');

const { values } = parseArgs({ options: {
  threads: { type: 'string', default: '1,2' }, steps: { type: 'string', default: '10' },
  rounds: { type: 'string', default: '2' }, 'batch-size': { type: 'string', default: '32' },
} });
const counts = values.threads.split(',').map(Number), steps = Number(values.steps), rounds = Number(values.rounds);
const batchSize = Number(values['batch-size']);
const gpt = { ...TEXT_GPT };
const { train } = lib.datasets.text({ context: gpt.context });
const rows = steps * batchSize;
const batch = {
  x: { data: train.inputs.subarray(0, rows * gpt.context), rows, cols: gpt.context },
  y: { data: train.targets.subarray(0, rows * gpt.context), rows, cols: gpt.context },
};

(async () => {
  const runs = counts.map((threads) => ({
    threads, model: lib.Sequential.gpt({ ...gpt, seed: 1 }), optimizer: makeOptimizer('adamw', settingsFor('text', 'adamw'), 1), times: [], cpu: [],
  }));
  const fit = (r) => r.model.fit(batch, { optimizer: r.optimizer, epochs: 1, batchSize, shuffle: false, threads: r.threads });
  for (const r of runs) await fit(r);  // warm-up: buffers, the thread pool, first-touch pages
  for (let round = 0; round < rounds; round++)
    for (const r of runs) {
      const start = process.hrtime.bigint(), cpu = process.cpuUsage();
      await fit(r);
      r.times.push(Number(process.hrtime.bigint() - start) / 1e9 / steps);
      const used = process.cpuUsage(cpu);
      r.cpu.push((used.user + used.system) / 1e6 / steps);
    }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(runs[0].times);
  console.log(`GPT ${JSON.stringify(gpt)}, batch ${batchSize}, AdamW, ${steps} steps x ${rounds} rounds per thread count`);
  console.log(`Engine: ${require('../dist/devices').engineSummary('cpu')}`);
  console.log('| threads | s per step (median) | x threads ' + counts[0] + ' | per round | processor s per step (median) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of runs) {
    const s = median(r.times);
    console.log(`| ${r.threads} | ${s.toFixed(3)} | ${(s / base).toFixed(2)} | ${r.times.map((t) => t.toFixed(3)).join(', ')} | ${median(r.cpu).toFixed(3)} |`);
    r.model.dispose();
  }
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
