/** One training run of the benchmark: a JSON line per epoch, a progress bar with ETA on stderr. */
import * as fs from 'fs';
import { SingleBar, Presets } from 'cli-progress';
import type { Problem } from './problems';
import { Sequential } from '../model';
import { bitsPerCharacter } from '../datasets/text';
import { InvalidArgumentError, tidyUp } from '../errors';
import { engineSummary, type DeviceName } from '../devices';
import { initDistributed, type DistributedOptions } from '../distributed';
import { lrDecaySchedule, makeOptimizer, type MethodName, type MethodSettings } from './methods';

/** One line of a run's JSON log. */
export interface EpochRecord {
  problem: string;
  optimizer: MethodName;
  settings: MethodSettings;
  /** 0-based, as the API's onEpochEnd numbers epochs. */
  epoch: number;
  /** Regularised training loss over the training set (algorithm.md §2 step 6; the text problem: over 256 rows spread over it). */
  trainLoss: number;
  testLoss: number;
  /** Classifier problems: the share of training and test rows predicted right. */
  trainAccuracy?: number;
  testAccuracy?: number;
  /** Language models: the test (validation) loss in bits per character. */
  testBitsPerCharacter?: number;
  /** Cumulative training wall time, evaluation excluded. */
  seconds: number;
  steps: number;
  /** The epoch was cut short by a budget (fit's EpochLogs.partial). */
  partial?: true;
  /** The budget that ended the run after this epoch. */
  stoppedBy?: 'timeBudget' | 'maxSteps';
  diagnostics: Record<string, number>;
  /** What computed it: "cpu: OpenBLAS 0.3.21, Zen kernels" or "cuda: <GPU name>". */
  engine: string;
}

export interface RunOptions {
  problem: Problem;
  method: MethodName;
  settings: MethodSettings;
  epochs?: number;
  /** Batches per epoch (fit's stepsPerEpoch); default one pass of the data. */
  stepsPerEpoch?: number;
  /** Seconds of training; it stops after the first step past them (the epoch in progress ends there). */
  timeBudget?: number;
  /** Steps of training; it stops after so many. */
  maxSteps?: number;
  batchSize: number;
  seed: number;
  threads?: number;
  /** Where the model runs (default 'cpu'); a resumed checkpoint is loaded onto it too. */
  device?: DeviceName;
  /** Append the JSON lines here. */
  log?: string;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  signal?: AbortSignal;
  /** Continue from this checkpoint (model, optimizer state, step, data order) instead of a fresh model. */
  resume?: string;
  /** Save a checkpoint here when training ends. */
  save?: string;
  /** Data-parallel over MPI (launched by mpirun): rank 0 alone logs, shows progress and saves. */
  distributed?: boolean | DistributedOptions;
}

export interface RunResult {
  records: EpochRecord[];
  /** Set when training stopped on a numerical failure (the records up to it are kept). */
  failure?: string;
}

/** A time or step budget was given. */
export const hasBudget = (o: { timeBudget?: number; maxSteps?: number }) => o.timeBudget !== undefined || o.maxSteps !== undefined;

export async function runOne(o: RunOptions): Promise<RunResult> {
  const { train, test, trainRows, testTokensPerCharacter: tokensPerCharacter } = o.problem;
  const callbacks = lrDecaySchedule(o.settings);  // checked before anything is built
  const batchSize = Math.min(o.batchSize, trainRows);
  const batches = o.stepsPerEpoch ?? Math.floor(trainRows / batchSize);
  // A budget without epochs: as many epochs as the budget allows.
  const budgeted = hasBudget(o) && o.epochs === undefined;
  const epochs = budgeted ? 1_000_000 : o.epochs ?? 10;
  // The bar counts seconds under a time budget alone, else steps.
  const barSeconds = budgeted && o.maxSteps === undefined;
  const reports = !o.distributed || initDistributed().rank === 0;  // the other ranks train silently
  const bar = reports && (o.progress ?? process.stderr.isTTY)
    ? new SingleBar({
      format: `${o.problem.name} ${o.method.padEnd(7)} |{bar}| {percentage}% | epoch {epoch} | loss {loss} | ETA {eta_formatted}`,
      etaBuffer: 50, hideCursor: true, stream: process.stderr,
    }, Presets.shades_classic)
    : null;
  bar?.start(barSeconds ? Math.round(o.timeBudget!) : Math.min(o.maxSteps ?? Infinity, epochs * batches), 0, { epoch: 0, loss: '-' });
  const model = o.resume ? Sequential.load(o.resume, { device: o.device }) : o.problem.model(o.seed, o.device);
  if (model.inputDim !== o.problem.inputDim) {
    model.dispose();
    throw new InvalidArgumentError(`checkpoint ${o.resume} takes ${model.inputDim} inputs, problem ${o.problem.name} has ${o.problem.inputDim}`);
  }
  const optimizer = (o.resume && model.optimizer) || makeOptimizer(o.method, o.settings, o.seed);
  const records: EpochRecord[] = [];
  const engine = engineSummary(model.device);
  const log = o.log && reports ? fs.openSync(o.log, 'a') : null;
  let doneBatches = 0;
  let failure: string | undefined;
  let fitError: { error: unknown } | undefined;  // boxed: any value may be thrown
  try {
    await model.fit(train, {
      optimizer, callbacks,
      epochs, stepsPerEpoch: o.stepsPerEpoch, timeBudget: o.timeBudget, maxSteps: o.maxSteps, batchSize, seed: o.seed,
      threads: o.threads, trainingLossRows: o.problem.trainingLossRows, warmStartBatches: o.problem.warmStartBatches,
      validationData: test, signal: o.signal, distributed: o.distributed,
      onBatchEnd: bar && !barSeconds ? () => bar.update(++doneBatches) : undefined,
      onEpochEnd: (epoch, logs) => {
        const record: EpochRecord = {
          problem: o.problem.name, optimizer: o.method, settings: o.settings, epoch,
          trainLoss: logs.loss, testLoss: logs.valLoss ?? NaN,
          ...(logs.accuracy !== undefined ? { trainAccuracy: logs.accuracy, testAccuracy: logs.valAccuracy } : {}),
          ...(tokensPerCharacter !== undefined && logs.valLoss !== undefined
            ? { testBitsPerCharacter: bitsPerCharacter(logs.valLoss, tokensPerCharacter) } : {}),
          seconds: logs.seconds, steps: logs.steps, ...(logs.partial ? { partial: logs.partial } : {}),
          ...(logs.stoppedBy ? { stoppedBy: logs.stoppedBy } : {}), diagnostics: logs.diagnostics, engine,
        };
        if (!reports) return;
        records.push(record);
        if (log !== null) fs.writeSync(log, JSON.stringify(record) + '\n');
        if (bar) {
          bar.update(barSeconds ? Math.min(Math.round(logs.seconds), bar.getTotal()) : doneBatches,
            { epoch, loss: logs.loss.toFixed(3) });
        }
        if (!bar && o.progress !== false) {
          const accuracy = logs.valAccuracy !== undefined ? `, test accuracy ${logs.valAccuracy.toFixed(4)}` : '';
          const cut = logs.partial ? ` (cut short at step ${logs.steps})` : '';
          process.stderr.write(`${o.problem.name} ${o.method} epoch ${epoch}${cut}: loss ${logs.loss.toFixed(4)}${accuracy}, ${logs.seconds.toFixed(1)} s\n`);
        }
      },
    });
  } catch (error) {
    const code = (error as { code?: string } | null)?.code;
    if (code === 'KBFGS_NUMERICAL' || code === 'KBFGS_NOT_POSITIVE_DEFINITE') failure = (error as Error).message;
    else fitError = { error };
  }
  try {
    if (o.save && !failure) {
      // After another error the model is still saved if it can be, but that error is the one reported.
      if (fitError) tidyUp(() => model.save(o.save!));
      else model.save(o.save);
    }
  } finally {
    bar?.stop();
    if (log !== null) tidyUp(() => fs.closeSync(log));
    tidyUp(() => model.dispose());
  }
  if (fitError) throw fitError.error;
  return { records, failure };
}
