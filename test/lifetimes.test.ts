// Lifetimes: many fit/dispose cycles and many models alive at once keep the resident memory flat, using a
// disposed model is a typed error, and exiting during training is clean. The memory checks run in fresh
// node processes on the built package.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';

// In a fresh node process on the built package: in jest's shared process, memory freed by earlier suites
// is reused and hides the allocation this test measures. The resident memory is that of the release addon:
// the sanitizer build (scripts/sanitize.sh) puts every buffer through malloc with redzones, by design.
const releaseBuild = { ...process.env, LD_PRELOAD: '', KBFGS_ADDON: '' };
test('many models alive at once, disposed and made again, keep RSS bounded', () => {
  const script = `
    const { Autoencoder } = require('./dist');
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    const make = () => Array.from({ length: 40 }, (_, i) => Autoencoder.curves({ seed: i }));  // 40 x 3.4 MB
    const before = rss();
    let models = make();
    const alive = rss() - before;
    const rounds = (n) => { for (let r = 0; r < n; r++) { models.forEach((m) => m.dispose()); models = make(); } };
    rounds(6);  // the allocator settles: freed chunks are kept for reuse
    const settled = rss() - before;
    rounds(6);
    const after = rss() - before;
    process.stdout.write(JSON.stringify({ alive, settled, after }));`;
  const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: releaseBuild }));
  console.log(`40 CURVES models: +${r.alive.toFixed(0)} MB alive, +${r.settled.toFixed(0)} MB after 6 make/dispose rounds, +${r.after.toFixed(0)} MB after 12`);
  expect(r.alive).toBeGreaterThan(100);
  // A leak of the models would add a whole round (about +130 MB) per make/dispose. Their buffers are mapped
  // from the kernel and returned on dispose, so the RSS stays flat (seen: +132 MB alive, +138 after 6 rounds,
  // +140 after 12; through malloc it had reached +430 MB).
  expect(r.settled).toBeLessThan(1.2 * r.alive);
  expect((r.after - r.settled) / 6).toBeLessThan(0.02 * r.alive);
});

// In a fresh process with the collector exposed: jest's own heap moves RSS by tens of MB.
test('200 fit/dispose cycles keep RSS flat', () => {
  const script = `
    const { Adam, Autoencoder, KBFGS, readIdxImages, DisposedError } = require('./dist');
    const images = readIdxImages('data/mnist-t10k-first100-images-idx3-ubyte');
    const rss = () => { global.gc(); return process.memoryUsage().rss / 2 ** 20; };
    (async () => {
      let before = 0, disposedError = true;
      for (let i = 0; i < 200; i++) {
        if (i === 50) before = rss();  // after the allocator and the JIT settle
        const model = new Autoencoder({ encoder: [784, 64, 16], loss: 'sigmoidCrossEntropy', seed: i });
        await model.fit(images, { optimizer: i % 2 ? new Adam() : new KBFGS({ lr: 0.05 }), epochs: 1, batchSize: 50 });
        model.dispose();
        try { model.getWeights(); disposedError = false; } catch (e) { disposedError = disposedError && e instanceof DisposedError; }
      }
      process.stdout.write(JSON.stringify({ growth: rss() - before, disposedError }));
    })();`;
  const r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: releaseBuild }));
  console.log(`RSS growth over 150 fit/dispose cycles: ${r.growth.toFixed(1)} MB`);
  expect(r.disposedError).toBe(true);
  // Each cycle allocates about 1 MB of weights and Adam moments or 3 MB of K-BFGS state: a leak of it would
  // add 150 MB or more; seen: −6 to +18 MB (allocator and heap noise).
  expect(r.growth).toBeLessThan(60);
});

// The run below would train for many minutes; exit must wait for one batch at most, not for the run.
test('process.exit while a fit is running ends the process cleanly and promptly', () => {
  const script = `
    const { Autoencoder, KBFGS, datasets } = require('./dist');
    const d = datasets.curvesSynth({ trainSize: 4000, testSize: 100 });
    const m = Autoencoder.curves({ seed: 1 });
    m.fit(d.train, { optimizer: new KBFGS({ lr: 0.05 }), epochs: 5000, batchSize: 500 }).catch(() => {});
    setTimeout(() => process.exit(7), 300);`;
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 60_000 });
    expect(r.signal).toBeNull();  // no abort, no segfault, not killed by the 60 s timeout
    expect(r.status).toBe(7);
  }
});
