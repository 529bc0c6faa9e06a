/**
 * lib/binding.ts for the engine worker (scripts/build-browser.js puts this file in its place): the engine is the
 * WebAssembly module that the worker loads before anything else runs (lib/browser/worker.ts), so there is no
 * choice to make and nothing to require.
 */
import { KbfgsError } from '../errors';
import type { EngineReport, NativeAddon } from '../binding';

export type {
  BackendName, EngineChoice, EngineName, EngineReport, NativeAddon, NativeBatchEvent, NativeEpochEvent, NativeModel,
  NativeTrainingState, NativeLayer, NativeOptimizer, NativeWorld, NativeCudaReport, NativeBlasReport,
} from '../binding';

export const BACKENDS = ['cpu', 'cuda'] as const;
export const ENGINES = ['auto', 'native', 'wasm'] as const;

let loaded: { addon: NativeAddon; report: EngineReport } | undefined;

/** The worker hands over the started engine. */
export function setEngine(addon: NativeAddon, reason: string): void {
  loaded = { addon, report: { name: 'wasm', reason } };
}

function load(): { addon: NativeAddon; report: EngineReport } {
  if (!loaded) throw new KbfgsError('kbfgs-native: the WebAssembly engine has not been loaded in this worker yet');
  return loaded;
}

export function useEngine(engine: string): void {
  if (engine !== 'auto' && engine !== 'wasm')
    throw new KbfgsError(`a browser runs the WebAssembly engine only, not '${engine}'`);
}

export function engineReport(): EngineReport {
  return { ...load().report };
}

export const addon: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_target, key) => (load().addon as unknown as Record<string | symbol, unknown>)[key],
  has: (_target, key) => key in (load().addon as object),
});
