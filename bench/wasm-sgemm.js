#!/usr/bin/env node
// Single-thread SGEMM of the WebAssembly engine's own BLAS (native/wasm/blas) against native OpenBLAS, at the
// MNIST autoencoder's sizes (784-1000-500-250-30-250-500-1000-784, batch 1000): for each layer the three
// GEMMs of a training step (forward h = ā Wᵀ, weight gradient gᵀ ā, input gradient g W), through the
// backend test surface (`kbfgs-native/internal`), each engine in a process of its own (KBFGS_ENGINE), one
// thread, best of --repeats calls after one warm-up, on arrays of each product's own size. On WebAssembly each
// call through that surface also copies A, B and C into the module's memory and C back (emnapi): the column
// "copies" is that part, timed as the same call with alpha = 0 and beta = 1 (which computes nothing), and
// "wasm GEMM" is the call less it.
//   node bench/wasm-sgemm.js [--repeats 5] [--threads 1]
const { spawnSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '5' }, threads: { type: 'string', default: '1' }, child: { type: 'boolean' } } });
const m = 1000, widths = [784, 1000, 500, 250, 30, 250, 500, 1000, 784];
const shapes = [];  // [name, ta, tb, M, N, K]
widths.slice(1).forEach((d, l) => {
  const n = widths[l] + 1;
  shapes.push([`L${l} forward ${m}x${d}x${n}`, false, true, m, d, n]);
  shapes.push([`L${l} dW ${d}x${n}x${m}`, true, false, d, n, m]);
  if (l > 0) shapes.push([`L${l} dX ${m}x${n - 1}x${d}`, false, false, m, n - 1, d]);
});

if (values.child) {
  const { native } = require(path.join(__dirname, '..', 'dist', 'internal'));
  const lib = require(path.join(__dirname, '..', 'dist'));
  native.threads(Number(values.threads));
  const be = native.backend;
  const rnd = (n) => new Float32Array(n).map(() => Math.random() - 0.5);
  const out = { engine: lib.devices().engine.name, threads: native.threads(), ms: [], copies: [] };
  const best = (call) => {
    call();
    let ms = Infinity;
    for (let r = 0; r < Number(values.repeats); r++) {
      const t = process.hrtime.bigint();
      call();
      ms = Math.min(ms, Number(process.hrtime.bigint() - t) / 1e6);
    }
    return ms;
  };
  for (const [, ta, tb, M, N, K] of shapes) {
    const a = rnd(M * K), b = rnd(K * N), c = new Float32Array(M * N);
    const lda = ta ? M : K, ldb = tb ? K : N;
    out.ms.push(best(() => be.gemm(ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N)));
    out.copies.push(best(() => be.gemm(ta, tb, M, N, K, 0, a, lda, b, ldb, 1, c, N)));
  }
  console.log(JSON.stringify(out));
} else {
  const runs = {};
  for (const engine of ['native', 'wasm']) {
    const r = spawnSync(process.execPath, [__filename, '--child', '--repeats', values.repeats, '--threads', values.threads],
      { encoding: 'utf8', env: { ...process.env, KBFGS_ENGINE: engine } });
    if (r.status !== 0) throw new Error(`${engine}: ${r.stderr}`);
    runs[engine] = JSON.parse(r.stdout.trim().split('\n').pop());
    if (runs[engine].engine !== engine) throw new Error(`asked for ${engine}, ran ${runs[engine].engine}`);
  }
  const gflops = (i, ms) => (2 * shapes[i][3] * shapes[i][4] * shapes[i][5]) / (ms * 1e6);
  console.log(`single-thread SGEMM (threads: native ${runs.native.threads}, wasm ${runs.wasm.threads}), best of ${values.repeats}`);
  console.log('| GEMM (M x N x K) | OpenBLAS ms | GFLOP/s | wasm call ms | copies ms | wasm GEMM ms | GFLOP/s | wasm GEMM / OpenBLAS |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  let tn = 0, tw = 0, tc = 0, flops = 0;
  shapes.forEach((s, i) => {
    const n = runs.native.ms[i], call = runs.wasm.ms[i], copies = runs.wasm.copies[i], w = Math.max(call - copies, 1e-3);
    tn += n; tw += w; tc += copies; flops += 2 * s[3] * s[4] * s[5];
    console.log(`| ${s[0]} | ${n.toFixed(2)} | ${gflops(i, n).toFixed(1)} | ${call.toFixed(2)} | ${copies.toFixed(2)} | ${w.toFixed(2)} | ` +
      `${gflops(i, w).toFixed(1)} | ${(w / n).toFixed(2)} |`);
  });
  console.log(`| all ${shapes.length} GEMMs of a step | ${tn.toFixed(1)} | ${(flops / (tn * 1e6)).toFixed(1)} | ${(tw + tc).toFixed(1)} | ` +
    `${tc.toFixed(1)} | ${tw.toFixed(1)} | ${(flops / (tw * 1e6)).toFixed(1)} | ${(tw / tn).toFixed(2)} |`);
}
