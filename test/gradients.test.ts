// Layer and loss gradients of the native engine against central finite differences of its own loss.
import { Sequential, type ActivationName, type LossName, type LayerWeights } from '../lib';
import { randomArray, seeded } from './helpers';

function perturbed(weights: LayerWeights[], direction: LayerWeights[], h: number): LayerWeights[] {
  return weights.map((w, l) => ({
    weight: w.weight.map((v, i) => v + h * direction[l].weight[i]),
    bias: w.bias.map((v, i) => v + h * direction[l].bias[i]),
  }));
}

function dotAll(a: LayerWeights[], b: LayerWeights[]): number {
  let s = 0;
  a.forEach((w, l) => {
    w.weight.forEach((v, i) => (s += v * b[l].weight[i]));
    w.bias.forEach((v, i) => (s += v * b[l].bias[i]));
  });
  return s;
}

const cases: Array<[ActivationName, LossName, ActivationName]> = [
  ['tanh', 'halfSquaredError', 'linear'],
  ['sigmoid', 'sigmoidCrossEntropy', 'linear'],
  ['tanh', 'softmaxCrossEntropy', 'linear'],
  ['relu', 'sigmoidCrossEntropy', 'linear'],
  ['sigmoid', 'halfSquaredError', 'tanh'],
];

describe.each(cases)('hidden %s, loss %s, output %s', (hidden, loss, output) => {
  test('directional derivatives match central differences; per-coordinate checks on the first layer', () => {
    const rnd = seeded(7);
    const inputDim = 5, outDim = 4, rows = 6;
    const model = new Sequential({
      inputDim, loss, seed: 3,
      layers: [{ units: 7, activation: hidden }, { units: 6, activation: hidden }, { units: outDim, activation: output }],
    });
    const x = { data: randomArray(rows * inputDim, rnd), rows, cols: inputDim };
    let y = { data: Float32Array.from({ length: rows * outDim }, () => rnd()), rows, cols: outDim };
    if (loss === 'softmaxCrossEntropy') {
      y = { data: new Float32Array(rows * outDim), rows, cols: outDim };
      for (let i = 0; i < rows; i++) y.data[i * outDim + (i % outDim)] = 1;
    }
    const data = { x, y };
    const w0 = model.getWeights();
    const { loss: l0, gradients } = model.computeGradients(data);
    expect(Number.isFinite(l0)).toBe(true);
    const lossAt = (w: LayerWeights[]) => {
      model.setWeights(w);
      return model.computeGradients(data).loss;
    };
    const h = 1e-2;
    for (let trial = 0; trial < 4; trial++) {
      const direction = w0.map((w) => ({ weight: randomArray(w.weight.length, rnd), bias: randomArray(w.bias.length, rnd) }));
      const fd = (lossAt(perturbed(w0, direction, h)) - lossAt(perturbed(w0, direction, -h))) / (2 * h);
      const analytic = dotAll(gradients, direction);
      expect(Math.abs(fd - analytic)).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
    }
    // a few single coordinates of the first layer's weight and bias
    for (const [kind, index] of [['weight', 0], ['weight', 17], ['bias', 3]] as const) {
      const direction = w0.map((w) => ({ weight: new Float32Array(w.weight.length), bias: new Float32Array(w.bias.length) }));
      direction[0][kind][index] = 1;
      const fd = (lossAt(perturbed(w0, direction, h)) - lossAt(perturbed(w0, direction, -h))) / (2 * h);
      expect(Math.abs(fd - gradients[0][kind][index])).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    }
    model.dispose();
  });
});
