// Lifetimes: many fit/dispose cycles and many models alive at once keep the resident memory flat, and
// using a disposed model is a typed error. Bound: 30 MB of growth over 80 cycles of a model whose weights
// and optimizer state take about 1 MB, so a per-cycle leak of the model would show as 80 MB or more.
import * as path from 'path';
import { Adam, Autoencoder, DisposedError, KBFGS, readIdxImages } from '../lib';

const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
const rssMB = () => process.memoryUsage().rss / 2 ** 20;

// Runs first, before other tests leave freed memory for it to reuse.
test('many models alive at once, disposed and made again, reuse the same memory', () => {
  const make = () => Array.from({ length: 40 }, (_, i) => Autoencoder.curves({ seed: i }));  // 40 x 3.4 MB of weights
  const before = rssMB();
  let models = make();
  const alive = rssMB() - before;
  for (let round = 0; round < 3; round++) {
    models.forEach((m) => m.dispose());
    models = make();
  }
  const after = rssMB() - before;
  models.forEach((m) => m.dispose());
  console.log(`40 CURVES models alive: +${alive.toFixed(0)} MB; after three more make/dispose rounds: +${after.toFixed(0)} MB`);
  expect(alive).toBeGreaterThan(100);
  // A leak would add one round (about +120 MB) per make/dispose; the allocator's fragmentation adds far less.
  expect(after).toBeLessThan(2 * alive);
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

