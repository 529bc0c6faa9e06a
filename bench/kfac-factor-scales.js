#!/usr/bin/env node
// The scales of KFAC's Kronecker factors in the text problem's GPT: after --steps steps (batch 32, the CLI's
// text settings of KFAC, seed 1, in the data's stored order), per layer tr(A)/n, tr(G)/d and the π of the trace
// damping split, π = √((tr A/n)/(tr G/d)) (docs/algorithm.md §5.2), read from the optimizer state of an
// in-memory checkpoint. Layers without statistics (the layer norms) print 0 for both.
//   node bench/kfac-factor-scales.js [--steps 10] [--split even|trace] [--threads 2]
const { parseArgs } = require('util');
const lib = require('../dist');
const { decodeSafetensors } = require('../dist/checkpoint');
const { makeOptimizer, settingsFor } = require('../dist/cli/methods');
const { TEXT_GPT } = require('../dist/cli/problems');

const { values } = parseArgs({ options: {
  steps: { type: 'string', default: '10' }, split: { type: 'string', default: 'even' }, threads: { type: 'string', default: '2' },
} });
const steps = Number(values.steps), batchSize = 32, seed = 1;

(async () => {
  const { train } = lib.datasets.text({ context: TEXT_GPT.context });
  const rows = steps * batchSize, cols = TEXT_GPT.context;
  const data = { x: { data: train.inputs.slice(0, rows * cols), rows, cols }, y: { data: train.targets.slice(0, rows * cols), rows, cols } };
  const model = lib.Sequential.gpt({ ...TEXT_GPT, seed });
  const optimizer = makeOptimizer('kfac', { ...settingsFor('text', 'kfac'), dampingSplit: values.split }, seed);
  await model.fit(data, { optimizer, epochs: 1, batchSize, shuffle: false, threads: Number(values.threads) });
  const { tensors } = decodeSafetensors(model.toCheckpoint(), 'checkpoint');
  const meanDiagonal = (m) => {
    const n = Math.round(Math.sqrt(m.length));
    let sum = 0;
    for (let i = 0; i < n; i++) sum += m[i * n + i];
    return { n, mean: sum / n };
  };
  console.log(`KFAC (${values.split} split) on the text GPT after ${steps} steps: factor scales per layer`);
  console.log('| layer | A: n | tr(A)/n | G: d | tr(G)/d | π |\n| --- | --- | --- | --- | --- | --- |');
  for (let l = 0; tensors[`optimizer.layer${l}.A`]; l++) {
    const a = meanDiagonal(tensors[`optimizer.layer${l}.A`]), g = meanDiagonal(tensors[`optimizer.layer${l}.G`]);
    const pi = a.mean > 0 && g.mean > 0 ? Math.sqrt(a.mean / g.mean).toPrecision(3) : '1 (no statistics)';
    console.log(`| ${l} | ${a.n} | ${a.mean.toExponential(2)} | ${g.n} | ${g.mean.toExponential(2)} | ${pi} |`);
  }
  model.dispose();
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
