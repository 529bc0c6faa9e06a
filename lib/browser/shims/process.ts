/**
 * The `process` that lib/ refers to, in the browser bundles (injected by scripts/build-browser.js as a module
 * variable, never a global: Emscripten's loader takes a global `process` for Node).
 */
export const process = {
  env: {} as Record<string, string | undefined>,
  platform: 'browser',
  arch: 'wasm32',
  versions: {} as Record<string, string>,
  on: (): void => undefined,
  once: (): void => undefined,
  listenerCount: (): number => 0,
  emitWarning: (message: string): void => console.warn(message),
  stderr: { write: (text: string): boolean => (console.warn(text.replace(/\n$/, '')), true) },
  exit: (): void => undefined,
};
