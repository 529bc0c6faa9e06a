/**
 * The CUDA backend. Everywhere: the CUDA module is compiled when nvcc is installed, devices() reports what it
 * found, 'auto' falls back to the CPU with a reason, 'cuda' fails with DeviceError, the library search finds pip
 * wheel layouts. Where a GPU exists: every Backend op and whole steps of each optimizer against the CPU
 * (test/parity/cuda-parity.js; `node test/parity/run.js` runs the same checks without jest).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Autoencoder, DeviceError, Sequential, cudaLibrarySearchPath, devices } from '../lib';
import { addon } from '../lib/binding';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const parity = require('./parity/cuda-parity.js');

const report = devices().cuda;
const nvccInstalled = spawnSync('nvcc', ['--version']).status === 0;

describe('CUDA module and fallback', () => {
  test('devices() reports the CPU and what the CUDA search found', () => {
    const all = devices();
    expect(all.cpu.available).toBe(true);
    expect(typeof report.available).toBe('boolean');
    expect(Array.isArray(report.devices) && Array.isArray(report.searched) && Array.isArray(report.missing)).toBe(true);
    if (!report.available) expect(report.reason).toMatch(/\w/);
    else expect(report.cublas && report.cusolver && report.devices.length > 0).toBeTruthy();
  });

  (nvccInstalled ? test : test.skip)('the addon holds the CUDA module when nvcc was there to build it', () => {
    expect(report.compiled).toBe(true);
    expect(report.runtimeVersion).toBeGreaterThanOrEqual(12000);
  });

  (report.available ? describe.skip : describe)('without a usable GPU', () => {
    test("'auto' runs on the CPU and says why", () => {
      const model = Autoencoder.curves({ device: 'auto' });
      expect(model.device).toBe('cpu');
      expect(model.deviceFallbackReason).toBe(report.reason);
      model.dispose();
    });

    test("'cuda' throws DeviceError with the reason; the CPU default is unaffected", () => {
      expect(() => new Sequential({ inputDim: 3, layers: [{ units: 2 }], loss: 'halfSquaredError', device: 'cuda' }))
        .toThrow(DeviceError);
      expect(() => Autoencoder.mnist({ device: 'cuda' })).toThrow(report.reason);
      expect(() => addon.backendOps('cuda')).toThrow(/not available/);
      const model = new Sequential({ inputDim: 3, layers: [{ units: 2 }], loss: 'halfSquaredError' });
      expect(model.device).toBe('cpu');
      model.dispose();
    });

    test("the CLI fails early on --device cuda with the reason", () => {
      const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
      const r = spawnSync(process.execPath, [cli, 'train', '--device', 'cuda'], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/device 'cuda' is not available/);
    });
  });

  test('bad device options are rejected', () => {
    expect(() => Autoencoder.curves({ device: 'gpu' as never })).toThrow(/device/);
    expect(() => Autoencoder.curves({ tf32: 'yes' as never })).toThrow(/tf32/);
    expect(() => addon.backendOps('tpu' as never)).toThrow(/device must be one of cpu, cuda/);
  });

  test('the library search finds pip wheel folders of environments on PATH, and KBFGS_CUDA_LIBRARY_PATH', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-cuda-'));
    try {
      const venv = path.join(root, 'venv');
      const cu13 = path.join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cu13', 'lib');
      const cublas12 = path.join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cublas', 'lib');
      const debian = path.join(root, 'usr', 'lib', 'python3.11', 'dist-packages', 'nvidia', 'cu12', 'lib');
      const extra = path.join(root, 'extra');
      for (const dir of [cu13, cublas12, debian, extra, path.join(venv, 'bin'), path.join(root, 'usr', 'bin')])
        fs.mkdirSync(dir, { recursive: true });
      const PATH = ['/nonexistent/bin', path.join(venv, 'bin'), path.join(root, 'usr', 'bin')].join(path.delimiter);
      const dirs = cudaLibrarySearchPath({ PATH, KBFGS_CUDA_LIBRARY_PATH: extra });
      expect(dirs).toContain(debian);
      expect(dirs[0]).toBe(extra);
      expect(dirs).toContain(cu13);
      expect(dirs).toContain(cublas12);
      expect(dirs.indexOf(cu13)).toBeLessThan(dirs.indexOf(cublas12));
      expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('the parity harness finds a wrong op (a GPU backend that differed would fail)', () => {
    const cpu = addon.backendOps('cpu');
    const broken = { ...cpu, gemm: (...args: Parameters<typeof cpu.gemm>) => { cpu.gemm(...args); args[11][0] += 1e-3; } };
    const results: { name: string; ok: boolean }[] = parity.opParity(cpu, broken);
    expect(results.length).toBe(parity.OP_COUNT);
    expect(results.filter((r) => !r.ok).map((r) => r.name)).toEqual(
      ['gemm ta=false tb=false', 'gemm ta=false tb=true', 'gemm ta=true tb=false', 'gemm ta=true tb=true']);
  });
});

const gpu = report.available ? describe : describe.skip;
if (!report.available) console.log(`CUDA parity suite skipped: ${report.reason}`);

gpu('CUDA parity with the CPU backend', () => {
  test('every Backend operation', () => {
    const results = parity.opParity(addon.backendOps('cpu'), addon.backendOps('cuda'));
    const failed = results.filter((r: { ok: boolean }) => !r.ok);
    expect(parity.formatTable(failed)).toBe('');
  });

  test('TF32 matrix products differ from fp32 by about 1e-3', () => {
    const result = parity.tf32Parity(addon.backendOps('cpu'), addon.backendOps('cuda', true));
    expect(result.ok).toBe(true);
  });

  test('whole steps of K-BFGS, K-BFGS(L), KFAC, Adam, RMSprop and SGD', async () => {
    const results = await parity.stepParity(require('../lib'));
    const failed = results.filter((r: { ok: boolean }) => !r.ok);
    expect(parity.formatTable(failed)).toBe('');
  }, 120_000);

  test('a tiny GPT: AdamW, KFAC and K-BFGS steps through every token layer', async () => {
    const results = await parity.gptStepParity(require('../lib'));
    const failed = results.filter((r: { ok: boolean }) => !r.ok);
    expect(parity.formatTable(failed)).toBe('');
  }, 120_000);

  test('a CUDA model saves and loads onto either device', () => {
    const model = Autoencoder.curves({ device: 'cuda', seed: 3 });
    const file = path.join(os.tmpdir(), `kbfgs-cuda-${process.pid}.safetensors`);
    model.save(file);
    const back = Sequential.load(file);
    expect(back.device).toBe('cpu');
    expect(back.getWeights()[0].weight).toEqual(model.getWeights()[0].weight);
    back.dispose();
    model.dispose();
    fs.rmSync(file);
  });
});
