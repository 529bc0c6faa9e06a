#!/usr/bin/env node
// A small GPT on the fortune text (or --file), trained with AdamW, KFAC and K-BFGS for the same training time
// each: validation bits per character against steps and against seconds, and a sample of generated text.
// The model is Sequential.gpt with --blocks 4, --width 128, --heads 4, --context 128 (the text problem's GPT)
// from the same seed for every method; the training rows are non-overlapping sequences in one seeded order
// shared by the methods. Training runs in chunks of --eval-every steps (one fit per chunk, the optimizer carried
// over); after each chunk the loss on the first --eval-rows validation sequences is measured, outside the clock.
// A method stops at the first chunk end past --budget seconds of training time, or at --steps steps (a budget in
// steps compares methods per step alike on a machine whose speed changes under other jobs).
//   node bench/gpt-text.js --budget 600 [--steps N] [--methods adamw,kfac,kbfgs] [--batch-size 32] [--threads 2]
//     [--eval-every 25] [--eval-rows 256] [--settings '{"kfac":{"lr":0.3,"damping":0.1}}'] [--out gpt-text-results]
//     [--options '{"kfac":{"clipNorm":1,"inverseEvery":5}}']   (more of the optimizer's own options, by method)
// Writes <out>/<method>.jsonl (one line per measurement: step, seconds, cpuSeconds (the process's processor time
// during the fits, which a loaded machine disturbs less than seconds), valLoss, valBitsPerCharacter),
// <out>/samples.txt, <out>/summary.md (also printed): the final figures and, for each second-order method,
// the steps and seconds it took to reach AdamW's final validation loss; and <out>/gpt-text.svg (and .png where
// the optional plotting packages load): validation bits per character against steps and against seconds.
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const lib = require('../dist');
const { makeOptimizer, settingsFor } = require('../dist/cli/methods');
const { TEXT_GPT } = require('../dist/cli/problems');
const { renderFigure, twoPanels } = require('../dist/cli/report');

const { values } = parseArgs({ options: {
  budget: { type: 'string', default: '600' }, steps: { type: 'string', default: 'Infinity' }, methods: { type: 'string', default: 'adamw,kfac,kbfgs' },
  'batch-size': { type: 'string', default: '32' }, threads: { type: 'string', default: '2' },
  'eval-every': { type: 'string', default: '25' }, 'eval-rows': { type: 'string', default: '256' },
  settings: { type: 'string', default: '{}' }, options: { type: 'string', default: '{}' }, out: { type: 'string', default: 'gpt-text-results' },
  file: { type: 'string' }, seed: { type: 'string', default: '1' },
  context: { type: 'string' }, width: { type: 'string' }, heads: { type: 'string' }, blocks: { type: 'string' },
  prompt: { type: 'string', default: 'The ' }, 'sample-tokens': { type: 'string', default: '300' },
} });
const budget = Number(values.budget), maxSteps = Number(values.steps), batchSize = Number(values['batch-size']), threads = Number(values.threads);
const evalEvery = Number(values['eval-every']), seed = Number(values.seed);
const methods = values.methods.split(',');
const overrides = JSON.parse(values.settings), extraOptions = JSON.parse(values.options);
const CLASSES = { kbfgs: lib.KBFGS, 'kbfgs-l': lib.KBFGSL, kfac: lib.KFAC, shampoo: lib.Shampoo, soap: lib.SOAP, adamw: lib.AdamW };

/** The CLI's optimizer for the settings, or, with --options for the method, its class with those options added. */
function optimizerFor(method, settings) {
  const extra = extraOptions[method];
  if (!extra) return makeOptimizer(method, settings, seed);
  const { lrDecay: _decay, ...own } = settings;
  return new CLASSES[method]({ ...own, ...(method === 'kfac' ? { seed } : {}), ...extra });
}
const gpt = { ...TEXT_GPT };
for (const key of Object.keys(gpt)) if (values[key] !== undefined) gpt[key] = Number(values[key]);

const data = lib.datasets.text({ file: values.file, context: gpt.context });
const { train, validation } = data;
const tokensPerCharacter = validation.tokens.length / validation.characters;
const evalRows = Math.min(Number(values['eval-rows']), validation.rows);
const evalData = {
  x: { data: validation.inputs.subarray(0, evalRows * gpt.context), rows: evalRows, cols: gpt.context },
  y: { data: validation.targets.subarray(0, evalRows * gpt.context), rows: evalRows, cols: gpt.context },
};
const chunkRows = evalEvery * batchSize;
if (chunkRows > train.rows) throw new Error(`--eval-every ${evalEvery} x --batch-size ${batchSize} exceeds the ${train.rows} training rows`);

/** The training rows in one seeded order, reshuffled each pass: chunk c is rows [c·chunkRows, (c+1)·chunkRows) of it. */
function chunk(c) {
  const perPass = Math.floor(train.rows / chunkRows), pass = Math.floor(c / perPass), at = (c % perPass) * chunkRows;
  const random = lib.mulberry32(seed * 1000 + pass);
  const order = Int32Array.from({ length: train.rows }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const x = new Int32Array(chunkRows * gpt.context), y = new Int32Array(chunkRows * gpt.context);
  for (let r = 0; r < chunkRows; r++) {
    const from = order[at + r] * gpt.context;
    x.set(train.inputs.subarray(from, from + gpt.context), r * gpt.context);
    y.set(train.targets.subarray(from, from + gpt.context), r * gpt.context);
  }
  return { x: { data: x, rows: chunkRows, cols: gpt.context }, y: { data: y, rows: chunkRows, cols: gpt.context } };
}

async function run(method) {
  const settings = settingsFor('text', method, overrides[method]);
  const model = lib.Sequential.gpt({ ...gpt, seed });
  const optimizer = optimizerFor(method, settings);
  const log = path.join(values.out, `${method}.jsonl`);
  fs.writeFileSync(log, '');
  const points = [];
  let seconds = 0, cpuSeconds = 0, failure;
  const measure = async (step, seconds) => {
    const valLoss = await model.evaluate(evalData);
    const point = { method, step, seconds, cpuSeconds, valLoss, valBitsPerCharacter: lib.bitsPerCharacter(valLoss, tokensPerCharacter) };
    points.push(point);
    fs.appendFileSync(log, JSON.stringify(point) + '\n');
    process.stderr.write(`${method} step ${step}, ${seconds.toFixed(1)} s: ${point.valBitsPerCharacter.toFixed(3)} bits per character\n`);
  };
  await measure(0, 0);
  for (let c = 0; seconds < budget && model.steps < maxSteps; c++) {
    try {
      const data = chunk(c), before = process.cpuUsage();
      const history = await model.fit(data, { optimizer, epochs: 1, batchSize, shuffle: false, threads });
      const used = process.cpuUsage(before);
      cpuSeconds += (used.user + used.system) / 1e6;  // the whole process's processor time during the fits
      seconds = history.history.seconds.at(-1);  // the model's training time so far, over all its fits
    } catch (error) {
      failure = error.message;
      break;
    }
    await measure(model.steps, seconds);
  }
  const sample = await model.generate(values.prompt, { tokens: Number(values['sample-tokens']), temperature: 0.8, seed: 1 });
  model.dispose();
  return { method, settings, points, failure, sample: values.prompt + sample.text };
}

/** Validation bits per character against steps and against training seconds, one line per method. */
function figureSpec(results) {
  const values = results.flatMap((r) => r.points.map((p) => ({ method: r.method, step: p.step, seconds: p.seconds, bits: p.valBitsPerCharacter })));
  return twoPanels(`GPT on text: ${JSON.stringify(gpt)}, batch ${batchSize}, ${threads} threads`, values,
    { field: 'bits', type: 'quantitative', scale: { zero: false }, title: 'validation bits per character' },
    { field: 'step', title: 'steps', subtitle: 'against steps' });
}

/** The first measurement at or below `loss`: its step and seconds, or null. */
const reach = (points, loss) => points.find((p) => p.valLoss <= loss) ?? null;

(async () => {
  fs.mkdirSync(values.out, { recursive: true });
  const results = [];
  for (const method of methods) results.push(await run(method));
  const lines = [`# GPT on text: ${JSON.stringify(gpt)}, ${train.rows} training sequences, batch ${batchSize}, ` +
    `${budget} s${Number.isFinite(maxSteps) ? ` or ${maxSteps} steps` : ''} of training per method, ${threads} threads, validation loss on ${evalRows} sequences`, '',
    `Engine: ${require('../dist/devices').engineSummary('cpu')}`, '',
    '| method | settings | steps | seconds | processor seconds | final validation bits per character | stopped |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const r of results) {
    const last = r.points.at(-1);
    lines.push(`| ${r.method} | ${JSON.stringify({ ...r.settings, ...extraOptions[r.method] })} | ${last.step} | ${last.seconds.toFixed(1)} | ${last.cpuSeconds.toFixed(1)} | ${last.valBitsPerCharacter.toFixed(4)} | ${r.failure ?? ''} |`);
  }
  const adamw = results.find((r) => r.method === 'adamw');
  if (adamw) {
    const target = adamw.points.at(-1);
    lines.push('', `AdamW's final validation loss: ${target.valLoss.toFixed(4)} nats per token after ${target.step} steps, ${target.seconds.toFixed(1)} s.`, '',
      '| method | first step at or below it | x AdamW\'s steps | seconds | x AdamW\'s seconds |', '| --- | --- | --- | --- | --- |');
    for (const r of results.filter((x) => x !== adamw)) {
      const p = reach(r.points, target.valLoss);
      lines.push(p ? `| ${r.method} | ${p.step} | ${(p.step / target.step).toFixed(2)} | ${p.seconds.toFixed(1)} | ${(p.seconds / target.seconds).toFixed(2)} |`
        : `| ${r.method} | not reached | | | |`);
    }
  }
  const summary = lines.join('\n') + '\n';
  await renderFigure(figureSpec(results), path.join(values.out, 'gpt-text'));
  fs.writeFileSync(path.join(values.out, 'summary.md'), summary);
  fs.writeFileSync(path.join(values.out, 'samples.txt'),
    results.map((r) => `## ${r.method} (temperature 0.8, seed 1)\n${r.sample}\n`).join('\n'));
  process.stdout.write(summary + '\n' + results.map((r) => `--- ${r.method} ---\n${r.sample}\n`).join('\n'));
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
