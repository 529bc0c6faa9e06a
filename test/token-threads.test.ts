// The token layers split their work over the engine's threads (attention by sample and head, layer norm and
// the embedding by rows, the loss by rows; algorithm.md §18.8) so that every value they write is computed the
// same way whatever the thread count. A few training steps of a small GPT at 1 and 2 threads: the sizes are the
// smallest at which every token layer's passes are split (at least 2 x 65,536 values: 2,048 token rows of
// width 64 and of 64 logits, 256 (sample, head) pairs).
import { Adam, Sequential, type LayerWeights, type Optimizer } from '../lib';
import { seeded } from './helpers';

const CONTEXT = 32, VOCABULARY = 64, ROWS = 128, BATCH = 64;

function tokenRows(seed: number) {
  const rnd = seeded(seed);
  const ids = () => Int32Array.from({ length: ROWS * CONTEXT }, () => Math.floor(rnd() * VOCABULARY));
  return { x: { data: ids(), rows: ROWS, cols: CONTEXT }, y: { data: ids(), rows: ROWS, cols: CONTEXT } };
}

async function train(threads: number, optimizer: Optimizer): Promise<{ weights: LayerWeights[]; losses: number[] }> {
  const model = Sequential.gpt({ vocabulary: VOCABULARY, context: CONTEXT, width: 64, heads: 4, blocks: 1, seed: 4 });
  try {
    const history = await model.fit(tokenRows(9), { optimizer, epochs: 2, batchSize: BATCH, shuffle: false, threads });
    return { weights: model.getWeights(), losses: history.history.loss };
  } finally {
    model.dispose();
  }
}

const bits = (w: LayerWeights[]) => w.map((l) => [Array.from(new Uint32Array(l.weight.buffer.slice(0))),
  Array.from(new Uint32Array(l.bias.buffer.slice(0)))]);

const largestDifference = (a: LayerWeights[], b: LayerWeights[]) => {
  let d = 0;
  a.forEach((l, i) => l.weight.forEach((v, j) => { d = Math.max(d, Math.abs(v - b[i].weight[j])); }));
  return d;
};

// The WebAssembly engine's GEMM sums every element in the same order whatever its thread count
// (native/wasm/blas/gemm.cc), so there the whole model is thread-count invariant. OpenBLAS's products may sum
// in another order at another thread count (a property of the library, not of the token layers), so on the
// native engine two runs at 2 threads must agree bit for bit (the threads do not race) and the 1-thread run
// to float rounding.
const invariantProducts = process.env.KBFGS_ENGINE === 'wasm';

describe('token layers on threads', () => {
  test(`Adam: 4 steps of a small GPT give the same weights with 1 and 2 threads (${invariantProducts ? 'bit for bit' : 'to rounding; 2 threads twice bit for bit'})`,
    async () => {
      const make = () => new Adam({ lr: 3e-3 });
      const one = await train(1, make()), two = await train(2, make());
      expect(one.losses[1]).toBeLessThan(one.losses[0]);  // it trained: the weights moved on the loss
      if (invariantProducts) {
        expect(two.losses).toEqual(one.losses);
        expect(bits(two.weights)).toEqual(bits(one.weights));
      } else {
        const again = await train(2, make());
        expect(again.losses).toEqual(two.losses);
        expect(bits(again.weights)).toEqual(bits(two.weights));
        expect(largestDifference(two.weights, one.weights)).toBeLessThan(1e-4);
      }
    });
});
