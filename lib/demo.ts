/**
 * The main job at this stage: train a small MNIST-shaped autoencoder on the 100 MNIST test images that ship
 * with the package, with each optimizer, and print the losses. Run with `npm run demo`.
 */
import * as path from 'path';
import { Adam, Autoencoder, RMSprop, SGD, readIdxImages, type Optimizer } from './index';

async function main(): Promise<void> {
  const images = readIdxImages(path.join(__dirname, '..', 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
  console.log(`data: ${images.rows} MNIST images of ${images.cols} pixels (x/255)`);
  const runs: Array<[string, () => Optimizer]> = [
    ['SGD (paper protocol)', () => new SGD({ lr: 0.1, protocol: 'paper' })],
    ['Adam', () => new Adam({ lr: 1e-3 })],
    ['RMSprop', () => new RMSprop({ lr: 1e-3 })],
  ];
  for (const [name, make] of runs) {
    const model = new Autoencoder({ encoder: [784, 256, 64, 16], loss: 'sigmoidCrossEntropy', seed: 9999 });
    const history = await model.fit(images, { optimizer: make(), epochs: 30, batchSize: 20 });
    const loss = history.history.loss;
    const every = [0, 4, 9, 19, 29].map((e) => `epoch ${e + 1}: ${loss[e].toFixed(2)}`).join(', ');
    console.log(`${name.padEnd(22)} ${every}  (${history.history.seconds.at(-1)!.toFixed(2)} s)`);
    model.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
