/**
 * kbfgs-native as a dependency of a bundled web application: test/fixtures/browser-app/app.js imports
 * 'kbfgs-native', esbuild bundles it with the browser condition of the package's exports (as any bundler
 * targeting browsers resolves it), the engine's files are served beside the bundle, and headless Chromium runs
 * it, once cross-origin isolated (threads) and once not (the one-thread build). The app trains with batch and
 * epoch hooks, saves checkpoints to a Blob and an ArrayBuffer and resumes from them, reads a compressed MAT file
 * and CIFAR-10 records from bytes, trains on a reader's data (on a SharedArrayBuffer where the page is isolated,
 * an ordinary ArrayBuffer where not), and meets the typed refusals of what needs a file system. Needs Debian's
 * chromium like test/browser.test.ts; skipped, saying so, where it is absent.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Server } from 'http';
import type { Browser } from 'playwright-core';
import { Autoencoder, readMat } from '../lib';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.join(__dirname, '..');
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser-bundle.test.ts skipped: ${CHROMIUM} is absent (scripts/setup.sh installs Debian's chromium)`);
const describeIf = haveChromium ? describe : describe.skip;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../examples/browser/server.js') as { serve: (o: { port: number; isolation: boolean; root: string }) => Promise<Server> };

interface Refusal { name: string; code?: string; typed?: boolean; message?: string }
interface AppResult {
  support: { crossOriginIsolated: boolean; threads: number };
  batches: Array<{ batch: number; epoch: number; step: number; loss: number }>;
  epochs: number[]; loss: number[];
  continued: number[]; resumedBlob: number[]; resumedBuffer: number[]; restarted: number[]; adam: number[];
  blob: { type: string; size: number }; checkpoint: number[]; weights: number[];
  mat: { dims: number[]; className: string; samples: number[] };
  cifar: { rows: number; labels: number[]; pixels: number[] };
  readerData: { buffers: string[]; inPlace: number[]; copy: number[] };
  refused: Record<'mnist' | 'readIdx' | 'loadPath' | 'savePath', Refusal>;
  curvesSynthRows: number;
  limits: { state: Refusal; usable: number; device: Refusal };
  badCheckpoint: Refusal; followsOptimizer: boolean;
  budgets: { steps: number; perEpoch: number; epochs: Array<{ epoch: number; stoppedBy: string | null }>; historyEpochs: number; badMaxSteps: Refusal };
}

describeIf('a bundled application that imports kbfgs-native, in headless Chromium', () => {
  jest.setTimeout(120_000);
  const site = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-bundle-'));
  let browser: Browser;

  beforeAll(async () => {
    for (const file of ['kbfgs_native.js', 'kbfgs_native.wasm', 'kbfgs_native.worker.js', 'kbfgs_native_st.js', 'kbfgs_native_st.wasm'])
      if (!fs.existsSync(path.join(ROOT, 'wasm', file))) throw new Error(`wasm/${file} is missing: run \`npm run build:wasm\``);
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.js')]);  // dist/browser from lib/ as it is
    // The application's own project: its source, and the package installed in its node_modules.
    const project = path.join(site, 'project');
    fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'browser-app', 'app.js'), path.join(project, 'app.js'));
    fs.symlinkSync(ROOT, path.join(project, 'node_modules', 'kbfgs-native'));
    const esbuild = await import('esbuild');
    const out = path.join(site, 'public');
    await esbuild.build({
      entryPoints: [path.join(project, 'app.js')], bundle: true, format: 'esm', platform: 'browser', conditions: ['browser'],
      outfile: path.join(out, 'app.js'), logLevel: 'error',
    });
    // What the application serves beside its bundle: the engine and its worker (setEngineLocation in app.js).
    fs.cpSync(path.join(ROOT, 'wasm'), path.join(out, 'kbfgs-native', 'wasm'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'dist', 'browser', 'worker.js'), path.join(out, 'kbfgs-native', 'worker.js'));
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'olivettifaces.mat'), path.join(out, 'olivettifaces.mat'));
    fs.writeFileSync(path.join(out, 'index.html'), '<!doctype html><script type="module" src="app.js"></script>\n');

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(site, { recursive: true, force: true });
  });

  test('the bundle resolved the browser entry, not the Node one', () => {
    const bundle = fs.readFileSync(path.join(site, 'public', 'app.js'), 'utf8');
    expect(bundle).toContain('kbfgs-native engine');  // the Web Worker the browser entry starts
    expect(bundle).not.toContain('node-gyp-build');
  });

  async function runApp(isolation: boolean): Promise<{ result: AppResult; console: string[] }> {
    const server = await serve({ port: 0, isolation, root: path.join(site, 'public') });
    const page = await browser.newPage();
    const messages: string[] = [];
    page.on('console', (m) => messages.push(m.text()));
    page.on('pageerror', (e) => messages.push(`page error: ${e.message}`));
    try {
      await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
      await page.waitForFunction(() => 'appResult' in window || 'appError' in window, undefined, { timeout: 90_000, polling: 250 });
      const error = await page.evaluate(() => (window as unknown as { appError?: string }).appError);
      if (error) throw new Error(`the application failed: ${error} (console: ${messages.join(' | ')})`);
      return { result: await page.evaluate(() => (window as unknown as { appResult: AppResult }).appResult), console: messages };
    } finally {
      await page.close();
      server.close();
    }
  }

  const close = (a: number[], b: number[], relative: number) =>
    a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= relative * Math.abs(b[i]));

  function checkApp(r: AppResult) {
    // Every step reached onBatchEnd, in order, with its epoch; every epoch reached onEpochEnd.
    const steps = 3 * (240 / 40);
    expect(r.batches.map((b) => b.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(r.batches.map((b) => b.epoch)).toEqual(Array.from({ length: steps }, (_, i) => Math.floor(i / 6)));
    expect(r.batches.map((b) => b.batch)).toEqual(Array.from({ length: steps }, (_, i) => i % 6));
    expect(r.batches.every((b) => Number.isFinite(b.loss) && b.loss > 0)).toBe(true);
    expect(r.epochs).toEqual([0, 1, 2]);
    expect(r.loss[2]).toBeLessThan(r.loss[0]);

    // Checkpoints: a Blob and an ArrayBuffer load and continue the run as the original does; without the
    // optimizer's state the run goes differently (so the comparison can fail).
    expect(r.blob).toEqual({ type: 'application/octet-stream', size: r.checkpoint.length });
    expect(close(r.resumedBlob, r.continued, 1e-6)).toBe(true);
    expect(close(r.resumedBuffer, r.continued, 1e-6)).toBe(true);
    expect(close(r.restarted, r.continued, 1e-4)).toBe(false);
    expect(r.continued[0]).toBeLessThan(r.loss[2]);
    expect(r.adam[1]).toBeLessThan(r.adam[0]);
    // The budgets per step: 4 + 4 + 2 steps, the last epoch ended by maxSteps, and a bad budget refused.
    expect([r.budgets.steps, r.budgets.perEpoch]).toEqual([10, 4]);
    expect(r.budgets.epochs.map((e) => e.stoppedBy)).toEqual([null, null, 'maxSteps']);
    expect(r.budgets.historyEpochs).toBe(3);
    expect(r.budgets.badMaxSteps.name).toBe('InvalidArgumentError');
    expect(r.budgets.badMaxSteps.message).toMatch(/maxSteps/);
    expect(r.followsOptimizer).toBe(true);  // model.optimizer: the last one given to fit, or the restored one
    expect([r.badCheckpoint.name, r.badCheckpoint.code]).toEqual(['CheckpointError', 'KBFGS_CHECKPOINT']);
    expect(r.badCheckpoint.message).toBe('three bytes: 3 bytes is too short for a safetensors file');

    // The readers on bytes agree with Node's on files.
    const faces = readMat(path.join(__dirname, 'fixtures', 'olivettifaces.mat')).get('faces')!;
    expect(r.mat.dims).toEqual(faces.dims);
    expect(r.mat.className).toBe(faces.className);
    expect(r.mat.samples).toEqual([0, 4096 * 7 + 64 * 50 + 10, faces.data.length - 1].map((i) => faces.data[i]));
    expect(r.cifar).toEqual({ rows: 2, labels: [3, 9], pixels: [Math.fround(1 / 255), 1] });
    // A reader's data trains in the worker as a private copy of it does.
    expect(r.readerData.inPlace).toHaveLength(2);
    expect(r.readerData.inPlace[1]).toBeLessThan(r.readerData.inPlace[0]);
    expect(r.readerData.inPlace).toEqual(r.readerData.copy);

    // What needs a file system says so with NoFileSystemError.
    for (const [call, refusal] of Object.entries(r.refused)) {
      expect([call, refusal.name, refusal.code, refusal.typed]).toEqual([call, 'NoFileSystemError', 'KBFGS_NO_FILE_SYSTEM', true]);
      expect(refusal.message).toMatch(/browser/);
    }
    expect(r.refused.mnist.message).toMatch(/^datasets\.mnist\(\) reads files, which a browser does not have: .*parseIdxImages\(\)/);
    expect(r.curvesSynthRows).toBe(10);

    // wasm32's limits, said and not hit: the state past 4 GiB is refused before allocating, naming its owner,
    // and the model stays usable; CUDA is refused with DeviceError.
    expect([r.limits.state.name, r.limits.state.code]).toEqual(['OutOfMemoryError', 'KBFGS_OUT_OF_MEMORY']);
    expect(r.limits.state.message).toMatch(/^K-BFGS's state needs 8\.6 GB \(8592556232 bytes\), of which layer 0/);
    expect(r.limits.usable).toBeGreaterThanOrEqual(0);
    expect(r.limits.device.name).toBe('DeviceError');
    expect(r.limits.device.message).toMatch(/WebAssembly engine has no CUDA backend/);
  }

  test('cross-origin isolated: trains on threads, checkpoints, readers and refusals', async () => {
    const { result } = await runApp(true);
    expect(result.support.crossOriginIsolated).toBe(true);
    expect(result.support.threads).toBeGreaterThan(1);
    checkApp(result);
    // The readers' arrays are on a SharedArrayBuffer, which the page shares with the model's worker.
    expect(result.readerData.buffers).toEqual(['[object SharedArrayBuffer]', '[object SharedArrayBuffer]']);
    // A checkpoint written in the browser loads in Node (here the native engine) with the same weights.
    const inNode = Autoencoder.fromCheckpoint(Uint8Array.from(result.checkpoint), 'from the browser');
    try {
      const weights = inNode.getWeights().flatMap((w) => [...w.weight, ...w.bias]);
      expect(weights).toEqual(result.weights);
      expect(inNode.optimizer?.toJSON().kind).toBe('kbfgs');
    } finally {
      inNode.dispose();
    }
  });

  test('not isolated: the one-thread build reports every step to onBatchEnd too', async () => {
    const { result, console: messages } = await runApp(false);
    expect(result.support).toEqual({ crossOriginIsolated: false, threads: 1 });
    checkApp(result);
    expect(result.readerData.buffers).toEqual(['[object ArrayBuffer]', '[object ArrayBuffer]']);  // none without isolation
    expect(messages.some((m) => /not cross-origin isolated, so training runs on one thread/.test(m))).toBe(true);
  });
});
