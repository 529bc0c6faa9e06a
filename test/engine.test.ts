// Which engine runs: KBFGS_ENGINE forces one (the WebAssembly runs of the suites rely on it), and devices()
// says which and why.
import { devices, useEngine } from '../lib';

describe('engine', () => {
  test('devices() names the engine that runs, and the forced one when KBFGS_ENGINE is set', () => {
    const { engine } = devices();
    expect(['native', 'wasm']).toContain(engine.name);
    expect(engine.reason.length).toBeGreaterThan(0);
    const forced = process.env.KBFGS_ENGINE;
    if (forced === 'native' || forced === 'wasm') {
      expect(engine.name).toBe(forced);
      expect(engine.reason).toContain(`KBFGS_ENGINE=${forced}`);
    }
  });

  test('asking for the other engine once one runs is an error; the running one or auto is fine', () => {
    const running = devices().engine.name;
    const other = running === 'native' ? 'wasm' : 'native';
    expect(() => useEngine(other)).toThrow(/already runs in this process/);
    expect(() => useEngine(running)).not.toThrow();
    expect(() => useEngine('auto')).not.toThrow();
    expect(() => useEngine('gpu' as never)).toThrow(/engine must be one of auto, native, wasm/);
  });

});
