#!/usr/bin/env node
/**
 * The `kbfgs-native` command: `train` (one run), `bench` (the paper's comparison with plots and tables) and
 * `tune` (the grid search of algorithm.md §7.3). `kbfgs-native <command> --help` lists every flag.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError as CliArgumentError, Option } from 'commander';
import { METHODS, PAPER_METHODS, apiDefaults, grid, settingsFor, type MethodName, type MethodSettings } from './methods';
import { PROBLEMS, TEXT_EVALUATION_ROWS, TEXT_GPT, loadProblem, type ProblemName, type TextGpt } from './problems';
import { Sequential } from '../model';
import { hasBudget, runOne, type EpochRecord } from './run';
import { DEVICES, engineSummary, resolveDevice, type DeviceName } from '../devices';
import type { BackendName } from '../binding';
import { initDistributed } from '../distributed';
import { writeReport } from './report';
import { checkOutput, writeOutput } from './output';
import { InvalidArgumentError, tidyUp } from '../errors';
import { readRegularFile } from '../files';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CliArgumentError(`${name} must be a positive number`);
  return n;
};
const nonNegative = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new CliArgumentError(`${name} must be a number of at least 0`);
  return n;
};
const positiveInt = (name: string) => (v: string) => {
  const n = positive(name)(v);
  if (!Number.isInteger(n)) throw new CliArgumentError(`${name} must be a whole number`);
  if (n > 2 ** 31 - 1) throw new CliArgumentError(`${name} must be at most ${2 ** 31 - 1}`);
  return n;
};
/** The items of a comma-separated flag value, blanks dropped. */
const commaItems = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const numberList = (name: string, check: (name: string) => (v: string) => number) => (v: string): number[] => {
  const items = commaItems(v);
  if (items.length === 0) throw new CliArgumentError(`${name} must list at least one value`);
  return items.map(check(name));
};
const listOf = <T extends string>(allowed: readonly T[], name: string) => (v: string): T[] => {
  const items = commaItems(v);
  for (const item of items) if (!allowed.includes(item as T)) throw new CliArgumentError(`unknown ${name} '${item}'; choose from ${allowed.join(', ')}`);
  return items as T[];
};

/** --context, --width, --heads and --blocks: the GPT of the text problem (default: TEXT_GPT), the same for every command. */
function withGptOptions(command: Command): Command {
  return command
    .option('--context <n>', `text problem: tokens per sequence (default ${TEXT_GPT.context})`, positiveInt('--context'))
    .option('--width <n>', `text problem: values per token (default ${TEXT_GPT.width})`, positiveInt('--width'))
    .option('--heads <n>', `text problem: attention heads, dividing the width (default ${TEXT_GPT.heads})`, positiveInt('--heads'))
    .option('--blocks <n>', `text problem: transformer blocks (default ${TEXT_GPT.blocks})`, positiveInt('--blocks'));
}
const gptOf = (o: Partial<TextGpt>): Partial<TextGpt> =>
  Object.fromEntries((['context', 'width', 'heads', 'blocks'] as const).filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

/** --steps-per-epoch, --time-budget and --max-steps of train and bench (fit's stepsPerEpoch, timeBudget, maxSteps). */
const stepsPerEpochOption = () => new Option('--steps-per-epoch <n>',
  'batches per epoch, each epoch logged and evaluated (default: one pass of the training data); the data stream goes on across epochs')
  .argParser(positiveInt('--steps-per-epoch'));
const timeBudgetOption = (what: string) => new Option('--time-budget <seconds>',
  `${what}: training stops after the first step that ends past it (evaluation not counted), the epoch in progress logged with "partial": true`)
  .argParser(positive('--time-budget'));
const maxStepsOption = (what: string) => new Option('--max-steps <n>', `${what}: training stops after so many`).argParser(positiveInt('--max-steps'));

/** --device, the same for every command. */
const deviceOption = () =>
  new Option('--device <device>', 'compute device (auto: the GPU when CUDA is available)').choices(DEVICES).default('auto');

/** The device runs use; says on stderr why '--device auto' runs on the CPU. */
function chooseDevice(requested: DeviceName, quiet: boolean | undefined): BackendName {
  const { device, fallbackReason } = resolveDevice(requested, false);
  if (fallbackReason && !quiet) process.stderr.write(`running on the CPU: ${fallbackReason}\n`);
  return device;
}

/** Settings file written by `tune`: { problem: { method: { lr, damping?, epsilon? } } }. */
type SettingsFile = Partial<Record<string, Partial<Record<MethodName, MethodSettings>>>>;
/**
 * An output path must be writable before training starts, not found unwritable after it. Whole files (`whole`:
 * checkpoints, settings) must also be what the safe write accepts; a log is appended to, so a device will do.
 */
function checkWritable(flag: string, file: string, whole: boolean): void {
  if (whole) checkOutput(flag, file);
  const dir = path.dirname(path.resolve(file));
  try {
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error('it is a directory');
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    throw new CliArgumentError(`${flag} ${file}: cannot write there (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Settings files are small; a larger one is not one (and a FIFO or device would never end). */
const MAX_SETTINGS_BYTES = 1 << 20;

function readSettings(file: string | undefined): SettingsFile {
  if (!file) return {};
  const bytes = readRegularFile(file, (message) => new InvalidArgumentError(`cannot read settings file ${message}`), { maxBytes: MAX_SETTINGS_BYTES });
  try {
    return JSON.parse(bytes.toString('utf8')) as SettingsFile;
  } catch (e) {
    throw new CliArgumentError(`cannot read settings file ${file}: ${(e as Error).message}`);
  }
}

const program = new Command();
program
  .name('kbfgs-native')
  .description('Train autoencoders, classifiers and convolutional networks with K-BFGS, K-BFGS(L), KFAC, Shampoo, SOAP, Adam, RMSprop and SGD, on one process or data-parallel over MPI; reproduce the paper\'s comparison.')
  .version(require('../../package.json').version);

withGptOptions(program.command('train'))
  .description('train one model (an autoencoder or a classifier) and write one JSON line per epoch')
  .addOption(new Option('--problem <name>', 'problem').choices(PROBLEMS).default('curves-synth'))
  .addOption(new Option('--optimizer <name>', 'method').choices(METHODS).default('kbfgs'))
  .option('--lr <alpha>', 'learning rate α (default: the API\'s default of the method, paper protocol)', positive('--lr'))
  .option('--damping <lambda>', 'damping λ of kbfgs, kbfgs-l, kfac, shampoo, soap (0 allowed, as in the API); \'adaptive\' (kbfgs, kbfgs-l, kfac): λ tunes itself, algorithm.md §19',
    (v: string) => {
      if (v === 'adaptive') return v;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new CliArgumentError("--damping must be a number of at least 0 or 'adaptive'");
      return n;
    })
  .option('--epsilon <eps>', 'ε of adam, adamw and rmsprop', positive('--epsilon'))
  .option('--weight-decay <lambda>', 'decoupled weight decay λ of adamw', nonNegative('--weight-decay'))
  .option('--clip-norm <norm>', 'clip the gradient to this global norm (any method; default: no clipping)', positive('--clip-norm'))
  .addOption(new Option('--damping-split <split>', 'how kfac shares λ between its factors: even (the paper\'s) or by their traces (algorithm.md §5.2)').choices(['even', 'trace']))
  .option('--epochs <n>', 'epochs to train (default 10 unless --time-budget or --max-steps is given)', positiveInt('--epochs'))
  .addOption(stepsPerEpochOption())
  .addOption(timeBudgetOption('seconds of training'))
  .addOption(maxStepsOption('steps of training'))
  .option('--batch-size <m>', 'minibatch size', positiveInt('--batch-size'), 1000)
  .option('--seed <n>', 'seed of the initialisation, data order and KFAC sampling', positiveInt('--seed'), 9999)
  .addOption(deviceOption())
  .option('--threads <n>', 'BLAS threads (default: the CPU count)', positiveInt('--threads'))
  .option('--log <file.jsonl>', 'write the per-epoch JSON lines here (default: stdout)')
  .option('--file <file>', 'the original MAT file, for --problem curves or faces; a UTF-8 text file instead of the fortunes, for --problem text')
  .option('--dir <idx-dir>', 'a directory of MNIST-layout IDX files (plain or .gz), for the MNIST and Fashion-MNIST problems')
  .option('--train-size <n>', 'use only the first n training rows', positiveInt('--train-size'))
  .option('--test-size <n>', 'use only the first n test rows', positiveInt('--test-size'))
  .option('--save <checkpoint>', 'save the model and optimizer state (safetensors) when training ends')
  .option('--resume <checkpoint>', 'continue a run saved with --save (its optimizer and settings are used)')
  .option('--distributed', 'data-parallel over MPI: launch with mpirun -np N; --batch-size is the whole batch, rank 0 logs and saves')
  .addOption(new Option('--curvature <mode>', 'with --distributed: each layer\'s curvature work on every rank or on one (layer)').choices(['replicated', 'layer']).default('replicated'))
  .option('--quiet', 'no progress output')
  .action(async (o) => {
    const reports = !o.distributed || initDistributed().rank === 0;  // under mpirun, rank 0 speaks for all
    const device = chooseDevice(o.device, o.quiet || !reports);  // an unavailable 'cuda' fails here, before any data is loaded
    const method = o.optimizer as MethodName;
    const override: Partial<MethodSettings> = {};
    if (o.lr !== undefined) override.lr = o.lr;
    if (o.damping !== undefined) override.damping = o.damping;
    if (o.epsilon !== undefined) override.epsilon = o.epsilon;
    if (o.weightDecay !== undefined) override.weightDecay = o.weightDecay;
    if (o.clipNorm !== undefined) override.clipNorm = o.clipNorm;
    if (o.dampingSplit !== undefined) override.dampingSplit = o.dampingSplit;
    const settings = { ...apiDefaults(method), ...override };
    if (o.save) checkWritable('--save', o.save, true);
    if (o.log) checkWritable('--log', o.log, false);
    const problem = await loadProblem(o.problem as ProblemName, { file: o.file, dir: o.dir, trainSize: o.trainSize, testSize: o.testSize, gpt: gptOf(o) });
    if (o.log && reports) fs.writeFileSync(o.log, '');
    const result = await runOne({
      problem, method, settings, epochs: o.epochs, stepsPerEpoch: o.stepsPerEpoch, timeBudget: o.timeBudget, maxSteps: o.maxSteps,
      batchSize: o.batchSize, seed: o.seed,
      threads: o.threads, device, log: o.log, progress: o.quiet ? false : undefined, save: o.save, resume: o.resume,
      distributed: o.distributed ? { curvature: o.curvature } : false,
    });
    if (!o.log) for (const r of result.records) process.stdout.write(JSON.stringify(r) + '\n');
    if (result.failure) {
      process.stderr.write(`training stopped: ${result.failure}\n`);
      process.exitCode = 2;
    }
  });

withGptOptions(program.command('bench'))
  .description('the paper\'s comparison: every problem x method with the same seed and data order; JSON lines, plots, a markdown table')
  .option('--full', 'the paper\'s protocol: mnist, curves-synth and faces-synth at full size, 20 epochs each (hours on a 2-core CPU)')
  .option('--problems <list>', 'comma-separated problems', listOf(PROBLEMS, 'problem'))
  .option('--methods <list>', 'comma-separated methods', listOf(METHODS, 'method'), [...PAPER_METHODS])
  .option('--epochs <n>', 'epochs per run (default 8, 20 with --full; with a budget, until it is spent)', positiveInt('--epochs'))
  .addOption(stepsPerEpochOption())
  .addOption(timeBudgetOption('seconds of training per run'))
  .addOption(maxStepsOption('steps of training per run'))
  .option('--settings <file>', 'per-problem settings written by `tune` (default: the built-in ones)')
  .option('--out <dir>', 'output directory', 'kbfgs-bench')
  .option('--batch-size <m>', 'minibatch size', positiveInt('--batch-size'), 1000)
  .option('--seed <n>', 'seed for every run', positiveInt('--seed'), 9999)
  .option('--threads <n>', 'BLAS threads', positiveInt('--threads'))
  .addOption(deviceOption())
  .option('--dir <idx-dir>', 'a directory of MNIST-layout IDX files, for the MNIST and Fashion-MNIST problems')
  .option('--file <text>', 'a UTF-8 text file instead of the fortunes, for the text problem')
  .option('--train-size <n>', 'use only the first n training rows of each problem', positiveInt('--train-size'))
  .option('--test-size <n>', 'use only the first n test rows of each problem', positiveInt('--test-size'))
  .option('--quiet', 'no progress output')
  .action(async (o) => {
    const device = chooseDevice(o.device, o.quiet);
    const problems: ProblemName[] = o.problems ?? (o.full ? ['mnist', 'curves-synth', 'faces-synth'] : ['curves-synth']);
    const quick = !o.full;
    const tuned = readSettings(o.settings);
    const runsDir = path.join(o.out, 'runs');
    fs.mkdirSync(runsDir, { recursive: true });
    const tables: string[] = [];
    for (const name of problems) {
      // the quick default: curves-synth cut to 10,000 / 2,000 images, 8 epochs, minutes on two cores
      const cut = quick && name === 'curves-synth' && !o.trainSize ? { trainSize: 10_000, testSize: 2_000 } : {};
      const problem = await loadProblem(name, { file: o.file, dir: o.dir, trainSize: o.trainSize, testSize: o.testSize, gpt: gptOf(o), ...cut });
      const all: EpochRecord[] = [];
      const failures: string[] = [];
      const failed = new Set<string>();
      for (const method of o.methods as MethodName[]) {
        const settings = settingsFor(name, method, tuned[name]?.[method]);
        const log = path.join(runsDir, `${name}-${method}.jsonl`);
        fs.writeFileSync(log, '');
        const result = await runOne({
          problem, method, settings, epochs: hasBudget(o) ? o.epochs : o.epochs ?? (quick ? 8 : 20), stepsPerEpoch: o.stepsPerEpoch,
          timeBudget: o.timeBudget, maxSteps: o.maxSteps, batchSize: o.batchSize, seed: o.seed, threads: o.threads, device, log,
          progress: o.quiet ? false : undefined,
        });
        all.push(...result.records);
        if (result.failure) {
          failures.push(`- ${method}: ${result.failure}`);
          failed.add(method);
        }
      }
      const { table, files } = await writeReport(o.out, name, all, failed);
      tables.push(table + (failures.length ? `\nStopped early:\n${failures.join('\n')}\n` : ''));
      process.stderr.write(`${name}: ${files.join(', ')}\n`);
    }
    const report = ['# kbfgs-native bench', '', `Command: kbfgs-native ${process.argv.slice(2).join(' ')}`, '',
      `Engine: ${engineSummary(device)}`, '', ...tables].join('\n');
    writeOutput(path.join(o.out, 'REPORT.md'), report);
    process.stdout.write(report + '\n');
  });

withGptOptions(program.command('tune'))
  .description('grid search (algorithm.md §7.3): run each setting for a time or step budget, keep the lowest final training loss '
    + `(the text problem: the lowest validation loss, over ${TEXT_EVALUATION_ROWS} sequences)`)
  .addOption(new Option('--problem <name>', 'problem').choices(PROBLEMS).default('curves-synth'))
  .option('--methods <list>', 'comma-separated methods', listOf(METHODS, 'method'), ['adam', 'rmsprop', 'sgd'])
  .addOption(timeBudgetOption('seconds of training per setting (default 20 unless --max-steps is given)'))
  .addOption(maxStepsOption('steps of training per setting, the same whatever the machine\'s load (with --time-budget: whichever is spent first)'))
  .option('--full-grid', 'the full grids of algorithm.md §7.3 instead of the quick ones')
  .option('--lr <list>', 'comma-separated step sizes to try instead of the grid\'s', numberList('--lr', positive))
  .option('--damping <list>', 'comma-separated λ to try instead of the grid\'s (second-order methods)', numberList('--damping', nonNegative))
  .option('--epsilon <list>', 'comma-separated ε to try instead of the grid\'s (Adam, RMSprop)', numberList('--epsilon', positive))
  .option('--out <file>', 'settings file to write or update (read by bench --settings)', 'kbfgs-settings.json')
  .option('--batch-size <m>', 'minibatch size', positiveInt('--batch-size'), 1000)
  .option('--seed <n>', 'seed', positiveInt('--seed'), 9999)
  .option('--threads <n>', 'BLAS threads', positiveInt('--threads'))
  .addOption(deviceOption())
  .option('--dir <idx-dir>', 'a directory of MNIST-layout IDX files, for the MNIST and Fashion-MNIST problems')
  .option('--file <text>', 'a UTF-8 text file instead of the fortunes, for --problem text')
  .option('--train-size <n>', 'use only the first n training rows', positiveInt('--train-size'))
  .option('--quiet', 'no progress output')
  .action(async (o) => {
    const device = chooseDevice(o.device, o.quiet);
    checkWritable('--out', o.out, true);
    const testSize = o.problem === 'text' ? TEXT_EVALUATION_ROWS : 1000;
    const problem = await loadProblem(o.problem as ProblemName, { file: o.file, dir: o.dir, trainSize: o.trainSize, testSize, gpt: gptOf(o) });
    const timeBudget = o.timeBudget ?? (o.maxSteps === undefined ? 20 : undefined);
    const settingsFile = fs.existsSync(o.out) ? readSettings(o.out) : {};
    const best: Partial<Record<MethodName, MethodSettings>> = { ...settingsFile[o.problem] };
    for (const method of o.methods as MethodName[]) {
      let winner: { loss: number; settings: MethodSettings } | null = null;
      // The grid's settings, with the clipping and KFAC's damping split of the problem's built-in ones (not tuned) kept.
      const { clipNorm, dampingSplit } = settingsFor(o.problem, method);
      const kept = { ...(clipNorm === undefined ? {} : { clipNorm }), ...(dampingSplit === undefined ? {} : { dampingSplit }) };
      for (const tried of grid(method, !o.fullGrid, { lr: o.lr, damping: o.damping, epsilon: o.epsilon })) {
        const settings: MethodSettings = { ...tried, ...kept };
        const { records, failure } = await runOne({
          problem, method, settings, timeBudget, maxSteps: o.maxSteps, batchSize: o.batchSize, seed: o.seed, threads: o.threads, device,
          progress: false,
        });
        const final = records.at(-1);
        const last = final?.[problem.tuneScore];
        const loss = failure || last === undefined || !Number.isFinite(last) ? Infinity : last;
        const which = problem.tuneScore === 'testLoss' ? 'validation' : 'training';
        const after = final ? ` (${which} loss after ${final.steps} steps, ${final.seconds.toFixed(1)} s)` : '';
        if (!o.quiet) process.stderr.write(`${method} ${JSON.stringify(settings)}: ${Number.isFinite(loss) ? loss.toFixed(4) : 'diverged'}${after}\n`);
        if (!winner || loss < winner.loss) winner = { loss, settings };
      }
      if (winner && Number.isFinite(winner.loss)) best[method] = winner.settings;
    }
    settingsFile[o.problem] = best;
    writeOutput(o.out, JSON.stringify(settingsFile, null, 2) + '\n');
    process.stdout.write(JSON.stringify({ [o.problem]: best }, null, 2) + '\n');
  });

program.command('generate')
  .description('print text sampled from a token model\'s checkpoint (e.g. one `train --problem text --save` wrote)')
  .requiredOption('--checkpoint <file>', 'the saved model')
  .requiredOption('--prompt <text>', 'the text to continue (cropped to its last context tokens)')
  .option('--tokens <n>', 'tokens (bytes) to generate', positiveInt('--tokens'), 200)
  .option('--temperature <t>', 'divides the logits; 0 is greedy', nonNegative('--temperature'), 1)
  .option('--top-k <k>', 'sample among the k most likely tokens only', positiveInt('--top-k'))
  .option('--seed <n>', 'seed of the draws', nonNegative('--seed'), 0)
  .action(async (o) => {
    const model = Sequential.load(o.checkpoint);
    try {
      const { text } = await model.generate(o.prompt, { tokens: o.tokens, temperature: o.temperature, seed: o.seed, topK: o.topK });
      process.stdout.write(o.prompt + text + '\n');
    } finally {
      tidyUp(() => model.dispose());
    }
  });

program.parseAsync(process.argv).catch((error) => {
  process.stderr.write(`kbfgs-native: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
