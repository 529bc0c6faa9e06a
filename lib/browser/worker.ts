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
import { Autoencoder, Sequential } from '../model';
import { optimizerFromJSON } from '../optimizers';
import type { EngineInfo, FromWorker, SerializedError, ToWorker } from './protocol';

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

/** Loads the engine; `threaded` picks the pthreads build (needs shared memory across workers). */
async function loadEngine(wasmBase: string): Promise<EngineInfo> {
  const isolated = self.crossOriginIsolated === true;
  if (!isolated) {
    throw new Error('this page is not cross-origin isolated (no Cross-Origin-Opener-Policy: same-origin and ' +
      'Cross-Origin-Embedder-Policy: require-corp headers), so the WebAssembly engine cannot share its memory ' +
      'with its threads');
  }
  importScripts(`${wasmBase}kbfgs_native.js`);
  const factory = self.kbfgsNativeWasm;
  if (typeof factory !== 'function') throw new Error(`${wasmBase}kbfgs_native.js did not define the engine`);
  const module: EmscriptenModule = {
    locateFile: (file: string) => `${wasmBase}${file}`,
    mainScriptUrlOrBlob: `${wasmBase}kbfgs_native.js`,
    // emnapi's wake-ups travel as worker messages that Emscripten's own handler does not know (lib/wasm-engine.ts)
    printErr: (text: string) => { if (text !== 'worker sent an unknown command undefined') console.warn(text); },
  };
  await factory(module);
  if (!module.emnapiInit) throw new Error('the WebAssembly engine did not start');
  const addon = module.emnapiInit({ context: getDefaultContext(), filename: `${wasmBase}kbfgs_native.wasm` }) as NativeAddon;
  setEngine(addon, 'a browser runs the WebAssembly engine');
  const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  return { threads: Math.max(1, Math.min(16, cores)), crossOriginIsolated: isolated, notice: '' };
}

let model: Sequential | undefined;
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
        model = message.kind === 'Autoencoder'
          ? new Autoencoder(message.config as ConstructorParameters<typeof Autoencoder>[0])
          : new Sequential(message.config as ConstructorParameters<typeof Sequential>[0]);
        post({ type: 'ready', engine, model: modelInfo(model) });
      } catch (error) {
        post({ type: 'failed', error: serialize(error) });
      }
      return;
    }
    case 'stop':
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
      const { id, data, options } = message;
      const controller = new AbortController();
      aborts.set(id, controller);
      try {
        if (!model) throw new Error('the model was not built');
        const history = await model.fit(data, {
          ...options,
          threads: options.threads ?? engine?.threads,
          optimizer: optimizerFromJSON(options.optimizer as Parameters<typeof optimizerFromJSON>[0]),
          signal: controller.signal,
          onEpochEnd: (epoch, logs) => post({ type: 'epoch', id, epoch, logs: { ...logs } as Record<string, unknown> }),
          // A batch hook lets a stop requested between epochs end training at the next step.
          onBatchEnd: message.batchEvents
            ? (batch, logs) => post({ type: 'batch', id, batch, logs: { ...logs } as Record<string, unknown> })
            : () => undefined,
        });
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
