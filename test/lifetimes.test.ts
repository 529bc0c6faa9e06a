// Lifetimes: many fit/dispose cycles and many models alive at once keep the resident memory flat, and
// using a disposed model is a typed error. Bound: 30 MB of growth over 80 cycles of a model whose weights
// and optimizer state take about 1 MB, so a per-cycle leak of the model would show as 80 MB or more.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { Adam, Autoencoder, DisposedError, KBFGS, readIdxImages } from '../lib';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const rssMB = () => process.memoryUsage().rss / 2 ** 20;

// In a fresh node process on the built package: in jest's shared process, memory freed by earlier suites
// is reused and hides the allocation this test measures.
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
  const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' }));
  console.log(`40 CURVES models: +${r.alive.toFixed(0)} MB alive, +${r.settled.toFixed(0)} MB after 6 make/dispose rounds, +${r.after.toFixed(0)} MB after 12`);
  expect(r.alive).toBeGreaterThan(100);
  // A leak of the models would add a whole round (about +130 MB) per make/dispose; allocator fragmentation
  // adds a few MB per round and levels off (seen: +37 MB over the last six rounds).
  expect((r.after - r.settled) / 6).toBeLessThan(0.1 * r.alive);
});

test('80 fit/dispose cycles keep RSS flat', async () => {
  const cycle = async (i: number) => {
    const model = new Autoencoder({ encoder: [784, 64, 16], loss: 'sigmoidCrossEntropy', seed: i });
    await model.fit(images, { optimizer: i % 2 ? new Adam() : new KBFGS({ lr: 0.05 }), epochs: 1, batchSize: 50 });
    model.dispose();
    expect(() => model.getWeights()).toThrow(DisposedError);
  };
  for (let i = 0; i < 20; i++) await cycle(i);  // warm up allocators and JIT
  global.gc?.();
  const before = rssMB();
  for (let i = 0; i < 80; i++) await cycle(i);
  global.gc?.();
  const growth = rssMB() - before;
  console.log(`RSS growth over 80 fit/dispose cycles: ${growth.toFixed(1)} MB`);
  expect(growth).toBeLessThan(30);
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
