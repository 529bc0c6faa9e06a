/**
 * Loads the WebAssembly engine: the same C++ engine and Node-API binding as the native addon, compiled with
 * Emscripten and emnapi (cmake/wasm.cmake, `npm run build:wasm`) into wasm/kbfgs_native.{js,wasm}. It is
 * loaded synchronously, like a .node file, so that `require('kbfgs-native')` stays synchronous whichever
 * engine runs. Only lib/binding.ts calls this.
 */
import * as fs from 'fs';
import * as path from 'path';

/** What the Emscripten module object exposes to this loader (pthreads build, MODULARIZE). */
interface EmscriptenModule {
  instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => WebAssembly.Exports;
  printErr?: (text: string) => void;
  calledRun?: boolean;
  PThread?: { unusedWorkers: { loaded?: boolean; unref?: () => void }[] };
  removeRunDependency?: (id: string) => void;
  emnapiInit?: (options: { context: unknown; filename?: string }) => unknown;
}

/** The folder of the built WebAssembly engine under the package root, or null when it was not built. */
export function wasmEngineDir(root: string): string | null {
  const dir = path.join(root, 'wasm');
  return fs.existsSync(path.join(dir, 'kbfgs_native.js')) && fs.existsSync(path.join(dir, 'kbfgs_native.wasm')) ? dir : null;
}

export function loadWasmEngine(dir: string): unknown {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const factory = require(path.join(dir, 'kbfgs_native.js')) as (module: EmscriptenModule) => unknown;
  const { getDefaultContext } = require('@emnapi/runtime') as { getDefaultContext: () => unknown };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const compiled = new WebAssembly.Module(fs.readFileSync(path.join(dir, 'kbfgs_native.wasm')));
  const module: EmscriptenModule = {
    // Compiled and instantiated here, synchronously (Emscripten would otherwise fetch and compile in the
    // background and start the runtime later).
    instantiateWasm(imports, receive) {
      const instance = new WebAssembly.Instance(compiled, imports);
      receive(instance, compiled);
      return instance.exports;
    },
    // emnapi's wake-ups from the engine's threads travel as worker messages that Emscripten 3.1.6's own
    // handler does not know (emnapi's listener handles them); everything else goes to stderr as usual.
    printErr(text) {
      if (text !== 'worker sent an unknown command undefined') process.stderr.write(`${text}\n`);
    },
  };
  try {
    factory(module);
  } catch (error) {
    // The shared memory is reserved whole (4 GiB and guard pages) when the module starts.
    if (error instanceof RangeError && /Memory/.test(error.message))
      throw new Error(`${error.message}: the engine reserves 4 GiB of address space for its memory (is it limited, e.g. by ulimit -v?)`);
    throw error;
  }
  // The pool of Web Workers for the engine's threads has been sent the module; Emscripten would wait for each
  // worker's 'loaded' reply before starting the runtime and before giving the worker a thread. A worker runs
  // its messages in order, so a thread sent to it now starts once it has loaded: the runtime can start at
  // once. The workers are unreferenced so that they never keep the process alive by themselves (emnapi
  // references the one running an async task while it runs).
  const workers = module.PThread?.unusedWorkers ?? [];
  for (const worker of workers) {
    worker.loaded = true;
    worker.unref?.();
  }
  if (!module.calledRun) module.removeRunDependency?.('wasm-instantiate');
  if (!module.calledRun || !module.emnapiInit) throw new Error('the WebAssembly engine did not start');
  return module.emnapiInit({ context: getDefaultContext(), filename: path.join(dir, 'kbfgs_native.wasm') });
}
