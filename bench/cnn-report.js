#!/usr/bin/env node
// Joins the per-method logs of separate `kbfgs-native bench` runs of one problem into one table and one pair of
// figures (the bench command reports only the methods of its own run). Each argument is a JSON-lines log,
// optionally renamed in the table and figures with `name=file`, so that two runs of one method (say K-BFGS
// with curvatureEvery 1 and 10) can stand side by side.
//   node bench/cnn-report.js --out <dir> --problem fashion-mnist-cnn [name=]runs/a.jsonl [name=]runs/b.jsonl ...
const fs = require('fs');
const { parseArgs } = require('util');
const { writeReport } = require('../dist/cli/report');

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
  out: { type: 'string' }, problem: { type: 'string', default: 'fashion-mnist-cnn' },
} });
if (!values.out || positionals.length === 0) {
  console.error('usage: node bench/cnn-report.js --out <dir> [--problem <name>] [name=]log.jsonl ...');
  process.exit(2);
}
const records = positionals.flatMap((arg) => {
  const at = arg.indexOf('=');
  const [name, file] = at > 0 ? [arg.slice(0, at), arg.slice(at + 1)] : [undefined, arg];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const record = JSON.parse(line);
    return name ? { ...record, optimizer: name } : record;
  });
});
writeReport(values.out, values.problem, records).then(({ table, files }) => {
  process.stdout.write(table + '\n');
  console.error(files.join(', '));
}).catch((error) => { console.error(error); process.exitCode = 1; });
