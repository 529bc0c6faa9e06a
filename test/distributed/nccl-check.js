#!/usr/bin/env node
// The one-rank NCCL check of test/distributed.test.ts without jest, for a GPU machine: for each method, the
// worker's undistributed GPU run and a one-rank world whose sums and broadcasts all go through NCCL must give
// the same trajectory (steps equal, losses within 1e-6 relative). Exits 1 if any differs or fails.
//   node test/distributed/nccl-check.js [--methods kbfgs,kfac,adam] [--problem dense|cnn] [--singleton]
// (--device cpu --engine mpi runs the same comparison on the CPU over MPI: the script's own check, anywhere.)
// Under mpirun -np 1 by default (MPIRUN names another launcher); --singleton starts the MPI world without a
// launcher (MPI_Init in a plain process), where a machine has Open MPI's library but no mpirun.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({ options: {
  methods: { type: 'string', default: 'kbfgs,kfac,adam' }, problem: { type: 'string', default: 'dense' },
  singleton: { type: 'boolean', default: false }, device: { type: 'string', default: 'cuda' },
  engine: { type: 'string', default: 'nccl' },
} });
const worker = path.join(__dirname, 'worker.js');
const launcher = process.env.MPIRUN || 'mpirun';

function run(args, what) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 120_000 });
  const lines = (r.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  if (r.status !== 0 || r.error || lines.length === 0)
    throw new Error(`${what}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${(r.stdout || '').slice(-1000)}${(r.stderr || '').slice(-2000)}`);
  return lines;
}

let failed = 0;
for (const method of values.methods.split(',')) {
  try {
    const settings = { method, problem: values.problem, device: values.device };
    const alone = run([process.execPath, worker, JSON.stringify(settings)], `${method} undistributed`);
    const world = JSON.stringify({ ...settings, distributed: true, engine: values.engine });
    const launch = values.singleton ? [process.execPath, worker, world]
      : [launcher, '--allow-run-as-root', '--oversubscribe', '-np', '1', process.execPath, worker, world];
    const nccl = run(launch, `${method} one ${values.engine} rank`);
    const worst = Math.max(...alone.map((line, i) => {
      const other = nccl[i];
      if (!other || other.epoch !== line.epoch || other.steps !== line.steps) return Infinity;
      return Math.max(...['loss', 'batchLoss'].map((k) => Math.abs(other[k] - line[k]) / Math.abs(line[k])));
    }), nccl.length === alone.length ? 0 : Infinity);
    const ok = worst <= 1e-6;
    failed += !ok;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${method} (${values.problem}): ${alone.length} epochs, largest relative loss difference ${worst.toExponential(2)}` +
      ` (final loss ${alone.at(-1).loss} alone, ${nccl.at(-1).loss} over ${values.engine})`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${method}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
