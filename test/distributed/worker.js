// One rank of the distributed tests (test/distributed.test.ts), or the single-process run they compare with.
// Usage: node worker.js '<json settings>' (mpirun -np N for the distributed runs); prints one JSON line per epoch on rank 0 (every rank with allRanks):
// { rank, epoch, loss, batchLoss, steps, weights: hash of the weights }.
'use strict';
const crypto = require('crypto');
const kb = require('../../dist');

const settings = JSON.parse(process.argv[2]);
const { problem = 'dense', method, epochs = 4, batchSize = 32, distributed = false, curvature, allRanks = false,
  save, load, killRank, killEpoch, hangRank, hangEpoch, timeout, seedOfRank1, lrOfRank1, clipOfRank1, device = 'cpu', engine,
  stopRank, abortRank, atStep, saveAtStep, budgetRank, stepsPerEpochOfRank1 } = settings;
const stepsPerEpoch = world => (world.rank === 1 && stepsPerEpochOfRank1 !== undefined ? stepsPerEpochOfRank1 : settings.stepsPerEpoch);

// Data and model from fixed seeds: every rank builds the same ones.
function data(rows, cols, seed) {
  const rand = kb.mulberry32(seed);
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < x.length; ++i) x[i] = rand();
  return x;
}
function build(modelSeed) {
  if (problem === 'cnn') {
    const rows = 96, rand = kb.mulberry32(7);
    const x = data(rows, 2 * 6 * 6, 3), labels = new Int32Array(rows).map(() => Math.floor(rand() * 3));
    const model = new kb.Sequential({
      inputShape: [2, 6, 6], seed: modelSeed ?? 5, device, loss: 'softmaxCrossEntropy',
      layers: [
        { type: 'conv2d', filters: 3, kernel: 3, padding: 1, activation: 'relu' },
        { type: 'maxPool2d', pool: 2 },
        { type: 'flatten' },
        { units: 3, activation: 'linear' },
      ],
    });
    return { model, train: { x: kb.matrix(x, rows, 72), y: kb.oneHot(labels, 3) } };
  }
  if (problem === 'tokens') {
    // A tiny pre-norm transformer (algorithm.md §18) on sequences of a stream where each id mostly follows from the
    // one before; dropout draws its masks by the value's place in the whole batch (§18.5), so every rank's rows
    // are masked as in one process.
    const rows = 64, context = 6, vocabulary = 11, width = 8, rand = kb.mulberry32(7), stream = [3];
    for (let k = 1; k <= rows * context; ++k) stream.push(rand() < 0.7 ? (3 * stream[k - 1] + 1) % vocabulary : Math.floor(rand() * vocabulary));
    const ids = (from) => ({ data: Int32Array.from(stream.slice(from, from + rows * context)), rows, cols: context });
    const model = new kb.Sequential({
      inputDim: context, seed: modelSeed ?? 5, device, loss: 'softmaxCrossEntropy',
      layers: [
        { type: 'embedding', vocabulary, width },
        { type: 'residual', layers: [{ type: 'layerNorm' }, { type: 'attention', heads: 2 }, { type: 'dropout', rate: 0.1, seed: 3 }] },
        { type: 'residual', layers: [{ type: 'layerNorm' }, { units: 2 * width, activation: 'gelu' }, { units: width }] },
        { type: 'layerNorm' },
        { units: vocabulary },
      ],
    });
    return { model, train: { x: ids(0), y: ids(1) } };
  }
  const rows = 256, x = data(rows, 12, 11);
  const model = new kb.Autoencoder({ encoder: [12, 8, 4], activation: 'tanh', loss: 'sigmoidCrossEntropy', seed: modelSeed ?? 3, device });
  return { model, train: kb.matrix(x, rows, 12) };
}

const optimizers = {
  kbfgs: (lr = 0.1) => new kb.KBFGS({ lr, damping: 0.3 }),
  'kbfgs-l': (lr = 0.1) => new kb.KBFGSL({ lr, damping: 0.3, memory: 4 }),
  'kbfgs-every-3': (lr = 0.1) => new kb.KBFGS({ lr, damping: 0.3, curvatureEvery: 3 }),
  kfac: (lr = 0.1) => new kb.KFAC({ lr, damping: 0.3 }),
  'kfac-every-3': (lr = 0.1) => new kb.KFAC({ lr, damping: 0.3, curvatureEvery: 3, inverseEvery: 4 }),
  // λ split by the factors' traces (algorithm.md §5.2): π from the factors summed over the ranks
  'kfac-trace': (lr = 0.1) => new kb.KFAC({ lr, damping: 0.3, dampingSplit: 'trace' }),
  sgd: (lr = 0.1) => new kb.SGD({ lr, momentum: 0.9 }),
  adam: (lr = 0.003) => new kb.Adam({ lr }),
  rmsprop: (lr = 0.001) => new kb.RMSprop({ lr }),
  // The step rules (algorithm.md §15): the global norm clips some of the steps on both problems.
  'adamw-rules': (lr = 0.003) => new kb.AdamW({ lr, weightDecay: 0.1, clipNorm: 0.3, schedule: new kb.WarmupCosine({ warmupSteps: 4, totalSteps: 24 }) }),
  'kbfgs-rules': (lr = 0.1) => new kb.KBFGS({ lr, damping: 0.3, clipNorm: 0.3, schedule: new kb.WarmupCosine({ warmupSteps: 4, totalSteps: 24 }) }),
  // Adaptive damping (algorithm.md §19): λ judged every 2 steps from losses summed over the ranks.
  'kbfgs-adaptive': (lr = 0.1) => new kb.KBFGS({ lr, damping: 'adaptive', adaptiveDamping: { every: 2 } }),
  'kfac-adaptive': (lr = 0.1) => new kb.KFAC({ lr, damping: 'adaptive', adaptiveDamping: { every: 2 } }),
  shampoo: (lr = 0.003) => new kb.Shampoo({ lr, precondEvery: 3, startPreconditioningStep: 2 }),
  // SOAP's first basis once the statistics have full rank (algorithm.md §17.3: the basis of a repeated
  // eigenvalue is the solver's choice, and another summation order may choose another)
  soap: (lr = 0.003) => new kb.SOAP({ lr, precondEvery: 2, startPreconditioningStep: 9 }),
};

function weightsHash(model) {
  const h = crypto.createHash('sha256');
  for (const w of model.getWeights()) {
    h.update(Buffer.from(w.weight.buffer, w.weight.byteOffset, w.weight.byteLength));
    h.update(Buffer.from(w.bias.buffer, w.bias.byteOffset, w.bias.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

async function main() {
  const world = distributed ? kb.initDistributed() : { rank: 0, size: 1 };
  let { model, train } = build(world.rank === 1 && seedOfRank1 !== undefined ? seedOfRank1 : undefined);
  let optimizer = optimizers[method](world.rank === 1 ? lrOfRank1 : undefined);
  if (world.rank === 1 && clipOfRank1 !== undefined) optimizer = kb.optimizerFromJSON({ ...optimizer.toJSON(), clipNorm: clipOfRank1 });
  if (load) {
    model = kb.Sequential.load(load, { device });
    optimizer = model.optimizer;
  }
  const report = (line) => { if (world.rank === 0 || allRanks) process.stdout.write(JSON.stringify({ rank: world.rank, ...line }) + '\n'); };
  const controller = new AbortController();
  // Rank budgetRank alone has a time budget of 50 ms and waits 60 ms after every step: out of time after the first.
  const budgeted = budgetRank === world.rank;
  await model.fit(train, {
    optimizer, epochs, batchSize, threads: 1, seed: 1, signal: controller.signal, stepsPerEpoch: stepsPerEpoch(world),
    ...(budgeted ? { timeBudget: 0.05 } : {}),
    // One rank's callback stops training or aborts it after step atStep (the others must follow at once), or
    // rank 0's saves a checkpoint after step saveAtStep (the others have no batch callback).
    onBatchEnd: stopRank === world.rank || abortRank === world.rank || (saveAtStep && world.rank === 0) || budgeted ? async (batch, logs) => {
      if (budgeted) await new Promise((resolve) => setTimeout(resolve, 60));
      if (logs.step === saveAtStep) model.save(save);
      if (logs.step !== atStep) return;
      if (stopRank === world.rank) model.stopTraining = true;
      else controller.abort();
    } : undefined,
    distributed: distributed ? { ...(curvature ? { curvature } : {}), ...(timeout ? { timeout } : {}), ...(engine ? { engine } : {}) } : false,
    onEpochEnd: (epoch, logs) => {
      report({ epoch, loss: logs.loss, batchLoss: logs.batchLoss, steps: model.steps, weights: weightsHash(model),
        bytes: logs.diagnostics?.summedBytes, broadcastBytes: logs.diagnostics?.broadcastBytes,
        calls: logs.diagnostics?.collectiveCalls, clipped: logs.diagnostics?.clippedSteps, damping: optimizer.settings.damping,
        dampingMoves: (logs.diagnostics?.dampingRaised ?? 0) + (logs.diagnostics?.dampingLowered ?? 0),
        partial: logs.partial, stoppedBy: logs.stoppedBy });
      if (save && !saveAtStep) model.save(save);
      if (killRank === world.rank && killEpoch === epoch) process.kill(process.pid, 'SIGKILL');
      // A rank that stops taking part without dying: its callback never returns.
      if (hangRank === world.rank && hangEpoch === epoch) return new Promise((resolve) => setTimeout(resolve, 1e8));
    },
  });
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ error: error.constructor.name, code: error.code, message: error.message,
    epochs: error.history?.epoch.length }) + '\n');
  process.exitCode = 3;
});
