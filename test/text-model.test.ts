// A GPT on datasets.text: Sequential.gpt's layers, fit on what datasets.text returns (with validation loss),
// and generate: greedy continuation of a learned string, seeded sampling, the prompt window, typed errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Adam, AdamW, InvalidArgumentError, Sequential, bitsPerCharacter, datasets, type LayerConfig } from '../lib';

const REPEATED = 'the cat sat on the mat. ';
const CONTEXT = 12;

function textFile(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-text-')), 'text.txt');
  fs.writeFileSync(file, text);
  return file;
}

test('Sequential.gpt gives the pre-norm GPT of the README, with one dropout seed per dropout layer', () => {
  const model = Sequential.gpt({ context: 8, width: 16, heads: 2, blocks: 2, dropout: 0.1, seed: 7 });
  const block = (a: number, b: number): LayerConfig[] => [
    { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }, { type: 'dropout', rate: 0.1, seed: a }] },
    { type: 'residual', layers: [{ type: 'layerNorm' }, { units: 64, activation: 'gelu' }, { units: 16 }, { type: 'dropout', rate: 0.1, seed: b }] },
  ];
  const want = new Sequential({
    inputDim: 8, loss: 'softmaxCrossEntropy', seed: 7,
    layers: [{ type: 'embedding', vocabulary: 256, width: 16 }, { type: 'dropout', rate: 0.1, seed: 7 }, ...block(8, 9), ...block(10, 11),
      { type: 'layerNorm' }, { units: 256 }],
  });
  expect(model.layers).toEqual(want.layers);
  expect(model.inputDim).toBe(8);
  expect(model.vocabulary).toBe(256);
  expect(model.getWeights()).toEqual(want.getWeights());  // the same seed, the same initialisation
  model.dispose();
  want.dispose();
  const plain = Sequential.gpt({ context: 4, width: 8, heads: 1, blocks: 1, vocabulary: 10 });
  expect(plain.layers.some((l) => 'type' in l && l.type === 'dropout')).toBe(false);
  expect(plain.outputDim).toBe(40);
  plain.dispose();
});

test('Sequential.gpt refuses bad options with typed errors', () => {
  expect(() => Sequential.gpt({ context: 8, width: 16, heads: 3, blocks: 1 })).toThrow(/heads/);
  expect(() => Sequential.gpt({ context: 8, width: 16, blocks: 1 } as never)).toThrow(/heads is required/);
  expect(() => Sequential.gpt({ context: 8, width: 16, heads: 2, blocks: 1, dropout: 1 })).toThrow(InvalidArgumentError);
  expect(() => Sequential.gpt({ context: 8, width: 16, heads: 2, blocks: 1, depth: 3 } as never)).toThrow(/depth/);
});

describe('a GPT trained on datasets.text', () => {
  const file = textFile(REPEATED.repeat(40));
  const data = datasets.text({ file, context: CONTEXT, stride: 1, validationFraction: 0.2 });
  const model = Sequential.gpt({ context: CONTEXT, width: 32, heads: 2, blocks: 1, seed: 3 });
  let valLoss: number[] = [];
  beforeAll(async () => {
    const history = await model.fit(data.train, { optimizer: new Adam({ lr: 1e-2 }), epochs: 3, batchSize: 32, seed: 1, validationData: data.validation });
    valLoss = history.history.valLoss!;
  });
  afterAll(() => {
    model.dispose();
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  test('fit takes the splits as they are and reports a falling validation loss', async () => {
    expect(data.train.x).toEqual({ data: data.train.inputs, rows: data.train.rows, cols: CONTEXT });
    expect(valLoss).toHaveLength(3);
    expect(valLoss[0]).toBeLessThan(Math.log(256));
    expect(valLoss[2]).toBeLessThan(0.3 * valLoss[0]);
    expect(await model.evaluate(data.validation)).toBeCloseTo(valLoss[2], 5);
    expect(bitsPerCharacter(valLoss[2])).toBeLessThan(1);
  });

  test('greedy generation continues the repeated string, from a string or from ids', async () => {
    const prompt = 'the cat sat';
    const { ids, text } = await model.generate(prompt, { tokens: 2 * REPEATED.length, temperature: 0 });
    expect(text).toBe((REPEATED.repeat(3)).slice(prompt.length, prompt.length + 2 * REPEATED.length));
    expect(Array.from(ids)).toEqual(Array.from(Buffer.from(text!)));
    const fromIds = await model.generate(data.encode(prompt), { tokens: 8, temperature: 0, seed: 5 });
    expect(fromIds.text).toBe(text!.slice(0, 8));
  });

  test('the same seed gives the same sample, another seed another; topK 1 is greedy', async () => {
    const options = { tokens: 40, temperature: 3, seed: 11 };
    const a = await model.generate('the', options), b = await model.generate('the', options);
    const c = await model.generate('the', { ...options, seed: 12 });
    expect(b.ids).toEqual(a.ids);
    expect(c.ids).not.toEqual(a.ids);
    const greedy = await model.generate('the', { tokens: 40, temperature: 0 });
    expect((await model.generate('the', { ...options, topK: 1 })).ids).toEqual(greedy.ids);
  });

  test('a prompt longer than the context is cropped to its last context tokens', async () => {
    const long = REPEATED.repeat(2) + 'the ';
    const cropped = Buffer.from(long).subarray(-CONTEXT).toString();
    const options = { tokens: 10, temperature: 1, seed: 2 };
    expect((await model.generate(long, options)).ids).toEqual((await model.generate(cropped, options)).ids);
  });

  test('bad arguments are typed errors that name the problem', async () => {
    await expect(model.generate('', { tokens: 3 })).rejects.toThrow(/prompt is empty/);
    await expect(model.generate([1, 256], { tokens: 3 })).rejects.toThrow(/prompt token 1 is 256/);
    await expect(model.generate(42 as never, { tokens: 3 })).rejects.toThrow(InvalidArgumentError);
    await expect(model.generate('a', {} as never)).rejects.toThrow(/tokens is required/);
    await expect(model.generate('a', { tokens: 3, temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(model.generate('a', { tokens: 3, topK: 0 })).rejects.toThrow(/topK/);
    await expect(model.generate('a', { tokens: 3, top: 2 } as never)).rejects.toThrow(/top/);
    const small = Sequential.gpt({ vocabulary: 10, context: 4, width: 8, heads: 1, blocks: 1 });
    await expect(small.generate('a', { tokens: 1 })).rejects.toThrow(/vocabulary 256/);
    const ids = await small.generate([1, 2], { tokens: 3 });
    expect(ids.text).toBeUndefined();
    expect(Array.from(ids.ids).every((id) => id >= 0 && id < 10)).toBe(true);
    small.dispose();
    const dense = new Sequential({ inputDim: 3, layers: [{ units: 2 }], loss: 'halfSquaredError' });
    await expect(dense.generate([1], { tokens: 1 })).rejects.toThrow(/not a token model/);
    dense.dispose();
  });
});

test('AdamW trains the GPT on the same data (decoupled weight decay)', async () => {
  const file = textFile(REPEATED.repeat(20));
  const data = datasets.text({ file, context: 8, stride: 4 });
  const model = Sequential.gpt({ context: 8, width: 16, heads: 2, blocks: 1, seed: 1 });
  const history = await model.fit(data.train, { optimizer: new AdamW({ lr: 1e-2, weightDecay: 0.01 }), epochs: 4, batchSize: 8, validationData: data.validation });
  const v = history.history.valLoss!;
  expect(v[3]).toBeLessThan(v[0]);
  model.dispose();
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('the draws follow softmax(z / T) of the last position, over the top K when topK is given', async () => {
  const model = Sequential.gpt({ vocabulary: 4, context: 3, width: 8, heads: 2, blocks: 1, seed: 4 });
  model.setWeights(model.getWeights().map((w, l) => ({ weight: w.weight.map((v, i) => v + (l === 0 ? Math.sin(i) : 0)), bias: w.bias })));
  const prompt = [2, 1];
  const logits = (await model.predict({ data: Int32Array.from([...prompt, 0]), rows: 1, cols: 3 }, { logits: true })).data.subarray(4, 8);
  const softmax = (ids: number[], t: number) => {
    const e = ids.map((i) => Math.exp(logits[i] / t)), sum = e.reduce((a, b) => a + b, 0);
    return Object.fromEntries(ids.map((id, k) => [id, e[k] / sum]));
  };
  const draws = 1500;
  const frequencies = async (options: { temperature: number; topK?: number }) => {
    const counts = [0, 0, 0, 0];
    for (let seed = 0; seed < draws; seed++) counts[(await model.generate(prompt, { tokens: 1, seed, ...options })).ids[0]]++;
    return counts.map((c) => c / draws);
  };
  const order = [0, 1, 2, 3].sort((a, b) => logits[b] - logits[a]);
  expect(logits[order[0]] - logits[order[3]]).toBeGreaterThan(0.5);  // far from uniform, so T matters
  const want = softmax([0, 1, 2, 3], 2);
  const got = await frequencies({ temperature: 2 });
  for (let id = 0; id < 4; id++) expect(Math.abs(got[id] - want[id])).toBeLessThan(0.04);  // 1500 draws: σ ≤ 0.013
  const top2 = softmax(order.slice(0, 2), 0.5);
  const gotTop = await frequencies({ temperature: 0.5, topK: 2 });
  for (let id = 0; id < 4; id++) expect(Math.abs(gotTop[id] - (top2[id] ?? 0))).toBeLessThan(0.04);
  model.dispose();
});
