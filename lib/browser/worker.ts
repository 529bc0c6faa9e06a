/**
 * The engine worker: a classic Web Worker that loads the WebAssembly engine (wasm/kbfgs_native.js and .wasm),
 * builds one model with the same lib/ code as in Node and runs its fit, evaluate and predict, so that training
 * never blocks the page. Where the page is cross-origin isolated the engine's threads are Web Workers over
 * shared memory; elsewhere shared memory cannot be handed to another worker and the engine runs on one thread.
 * Bundled by scripts/build-browser.js into dist/browser/worker.js; the page side is lib/browser/index.ts.
 */
import { getDefaultContext } from '@emnapi/runtime';
import { setEngine } from './binding';
import type { NativeAddon } from '../binding';
import { reportOnly } from '../callbacks';
import { AbortError } from '../errors';
import { Autoencoder, Sequential } from '../model';
import { optimizerFromJSON, type Optimizer } from '../optimizers';
import type { History } from '../records';
import { SINGLE_THREAD_NOTICE, type EngineInfo, type FromWorker, type OptimizerJSON, type SerializedError, type ToWorker } from './protocol';

declare function importScripts(...urls: string[]): void;
declare const self: {
  crossOriginIsolated?: boolean;
  onmessage: ((event: { data: ToWorker }) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  close(): void;
  kbfgsNativeWasm?: (module: Record<string, unknown>) => Promise<unknown>;
};

interface EmscriptenModule extends Record<string, unknown> {
  emnapiInit?: (options: { context: unknown; filename?: string }) => unknown;
}

const post = (message: FromWorker, transfer?: Transferable[]): void => self.postMessage(message, transfer);

function serialize(error: unknown): SerializedError {
  const e = error as { name?: string; code?: string; message?: string; history?: unknown };
  return { name: String(e?.name ?? 'Error'), code: e?.code, message: String(e?.message ?? error), history: e?.history };
}

/**
 * Loads the engine: the pthreads build where the page is cross-origin isolated, the one-thread build
 * (kbfgs_native_st, cmake/wasm.cmake) elsewhere.
 */
async function loadEngine(wasmBase: string): Promise<EngineInfo> {
  const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const name = isolated ? 'kbfgs_native' : 'kbfgs_native_st';
  importScripts(`${wasmBase}${name}.js`);
  const factory = self.kbfgsNativeWasm;
  if (typeof factory !== 'function') throw new Error(`${wasmBase}${name}.js did not define the engine`);
  const module: EmscriptenModule = {
    locateFile: (file: string) => `${wasmBase}${file}`,
    mainScriptUrlOrBlob: `${wasmBase}${name}.js`,
    // emnapi's wake-ups travel as worker messages that Emscripten's own handler does not know (lib/wasm-engine.ts)
    printErr: (text: string) => { if (text !== 'worker sent an unknown command undefined') console.warn(text); },
  };
  await factory(module);
  if (!module.emnapiInit) throw new Error('the WebAssembly engine did not start');
  const addon = module.emnapiInit({ context: getDefaultContext(), filename: `${wasmBase}${name}.wasm` }) as NativeAddon;
  setEngine(addon, isolated ? 'a cross-origin isolated page: the pthreads build' : SINGLE_THREAD_NOTICE);
  const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  return isolated
    ? { threads: Math.max(1, Math.min(16, cores)), crossOriginIsolated: true, notice: '' }
    : { threads: 1, crossOriginIsolated: false, notice: SINGLE_THREAD_NOTICE };
}

/** Joins the histories of one-epoch fits into the history of the whole run. */
function joinHistories(parts: History[]): History {
  const first = parts[0];
  const history = {} as Record<string, number[]>;
  for (const part of parts)
    for (const [key, values] of Object.entries(part.history)) history[key] = [...(history[key] ?? []), ...(values as number[])];
  return {
    epoch: parts.flatMap((p) => p.epoch),
    history: history as unknown as History['history'],
    params: { ...first.params, epochs: parts.reduce((n, p) => n + p.params.epochs, 0) },
  };
}

/**
 * fit()'s timeBudget and maxSteps over the one-epoch fits of a one-thread worker: each fit gets what is left.
 * The time counts each fit's whole call (its epoch-end evaluation too), so training ends no later than the
 * budget allows. A fit's steps are its epoch's (`params.steps`) or, where fewer were left, what was left: the
 * model's step counter cannot say, as it restarts with a new optimizer.
 */
class CallBudgets {
  private seconds = 0;
  private steps = 0;
  constructor(private readonly timeBudget: number | undefined, private readonly maxSteps: number | undefined) {}

  left(): { timeBudget?: number; maxSteps?: number } {
    if (this.seconds === 0) return {};  // the first fit takes the caller's values (and checks them)
    return {
      ...(this.timeBudget ? { timeBudget: Math.max(this.timeBudget - this.seconds, Number.MIN_VALUE) } : {}),
      ...(this.maxSteps ? { maxSteps: Math.max(this.maxSteps - this.steps, 1) } : {}),
    };
  }

  spent(seconds: number, epochSteps: number): void {
    this.seconds += seconds;
    this.steps += this.maxSteps ? Math.min(epochSteps, this.maxSteps - this.steps) : epochSteps;
  }

  stoppedBy(): 'timeBudget' | 'maxSteps' | undefined {
    if (this.maxSteps && this.steps >= this.maxSteps) return 'maxSteps';
    if (this.timeBudget && this.seconds >= this.timeBudget) return 'timeBudget';
    return undefined;
  }
}

let model: Sequential | undefined;
let stopRequested = false;
// The optimizers of this model's fits by the page's id of each instance: the same instance on the page continues
// its state here, as in Node; a new one starts fresh.
const optimizers = new Map<number, Optimizer>();

/** The worker's optimizer for the page's instance `id`, with the settings the page holds now (lr, damping). */
function optimizerFor(id: number, json: OptimizerJSON): Optimizer {
  const known = optimizers.get(id);
  if (!known) {
    const made = optimizerFromJSON(json as Parameters<typeof optimizerFromJSON>[0]);
    optimizers.set(id, made);
    return made;
  }
  const settable = known as unknown as Record<string, number>;
  for (const name of ['lr', 'damping'])
    if (name in json.settings && settable[name] !== json.settings[name]) settable[name] = json.settings[name];
  return known;
}
let engine: EngineInfo | undefined;
const aborts = new Map<number, AbortController>();

function modelInfo(m: Sequential) {
  return {
    inputDim: m.inputDim, outputDim: m.outputDim, paramCount: m.paramCount, layers: [...m.layers],
    weightShapes: [...m.weightShapes], loss: m.loss,
  };
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      try {
        engine = await loadEngine(message.wasmBase);
        const { checkpoint } = message;
        const Kind = message.kind === 'Autoencoder' ? Autoencoder : Sequential;
        if (checkpoint) {
          model = Kind.fromCheckpoint(new Uint8Array(checkpoint.bytes), checkpoint.name);
          if (model.optimizer) optimizers.set(checkpoint.optimizerId, model.optimizer);
        } else {
          model = new Kind(message.config as ConstructorParameters<typeof Autoencoder>[0] & ConstructorParameters<typeof Sequential>[0]);
        }
        post({ type: 'ready', engine, model: modelInfo(model), optimizer: model.optimizer?.toJSON() });
      } catch (error) {
        post({ type: 'failed', error: serialize(error) });
      }
      return;
    }
    case 'stop':
      stopRequested = true;
      if (model) model.stopTraining = true;
      return;
    case 'abort':
      aborts.get(message.id)?.abort();
      return;
    case 'dispose':
      model?.dispose();
      self.close();
      return;
    case 'fit': {
      const { id, data, options, optimizerId } = message;
      const controller = new AbortController();
      aborts.set(id, controller);
      try {
        if (!model) throw new Error('the model was not built');
        stopRequested = false;
        const optimizer = optimizerFor(optimizerId, options.optimizer);
        const onBatchEnd = message.batchEvents
          ? reportOnly((batch: number, logs: object) => post({ type: 'batch', id, batch, logs: { ...logs } as Record<string, unknown> }))
          : undefined;
        let history: History;
        if (engine?.crossOriginIsolated) {
          history = await model.fit(data, {
            ...options,
            threads: options.threads ?? engine.threads,
            optimizer,
            signal: controller.signal,
            onEpochEnd: (epoch, logs) => post({ type: 'epoch', id, epoch, logs: { ...logs } as Record<string, unknown> }),
            // A batch hook that training waits for, so that a stop ends training at the next step.
            onBatchEnd: (batch, logs) => { onBatchEnd?.(batch, logs); },
          });
        } else {
          // One thread: fit runs on this worker's only thread, so a hook that training waits for could never be
          // called. One epoch per fit instead (the same optimizer continues the run), the epoch's logs posted
          // after each, and a stop or an abort taken between epochs. Batch events do not hold training up
          // (reportOnly): each epoch's reach the page, in order, as that epoch ends. The fits share the model's
          // batch stream, and the budgets of the whole call (timeBudget, maxSteps) are what is left of them.
          const parts: History[] = [];
          const epochs = options.epochs ?? 1;
          const budgets = new CallBudgets(options.timeBudget, options.maxSteps);
          for (let e = 0; e < epochs; e++) {
            await new Promise((resolve) => setTimeout(resolve, 0));  // lets stop and abort messages in
            if (controller.signal.aborted) throw new AbortError('fit: aborted');
            if (stopRequested) break;
            const started = performance.now();
            const part = await model.fit(data, {
              ...options, ...budgets.left(), epochs: 1, seed: (options.seed ?? 0) + e, threads: 1, optimizer, onBatchEnd,
            });
            budgets.spent((performance.now() - started) / 1000, part.params.steps);
            parts.push(part);
            const at = part.epoch.length - 1;
            const logs: Record<string, unknown> = Object.fromEntries(Object.entries(part.history).map(([k, v]) => [k, (v as number[])[at]]));
            const stoppedBy = budgets.stoppedBy();
            if (stoppedBy) logs.stoppedBy = stoppedBy;
            post({ type: 'epoch', id, epoch: part.epoch[at], logs });
            if (stoppedBy) break;
          }
          if (parts.length === 0) throw new Error('fit: stopped before the first epoch');
          history = joinHistories(parts);
        }
        post({ type: 'result', id, value: history });
      } catch (error) {
        post({ type: 'error', id, error: serialize(error) });
      } finally {
        aborts.delete(id);
      }
      return;
    }
    case 'call': {
      const { id, method, args } = message;
      try {
        if (!model) throw new Error('the model was not built');
        let value: unknown;
        if (method === 'evaluate') value = await (model.evaluate as (...a: unknown[]) => Promise<unknown>)(...args);
        else if (method === 'predict') value = await (model.predict as (...a: unknown[]) => Promise<unknown>)(...args);
        else if (method === 'getWeights') value = model.getWeights();
        else if (method === 'setWeights') value = model.setWeights(args[0] as Parameters<Sequential['setWeights']>[0]);
        else if (method === 'toCheckpoint') {
          const bytes = model.toCheckpoint(args[0] as Parameters<Sequential['toCheckpoint']>[0]);
          value = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        }
        else value = { steps: model.steps, epochsTrained: model.epochsTrained, ...modelInfo(model) };
        post({ type: 'result', id, value });
      } catch (error) {
        post({ type: 'error', id, error: serialize(error) });
      }
      return;
    }
  }
}

self.onmessage = (event) => { void handle(event.data); };
