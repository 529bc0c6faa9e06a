/**
 * Benchmark reports: per problem one figure (training loss on a log axis against epochs and against
 * wall-clock seconds, one line per method; for classifiers a second one of test accuracy) rendered by Vega-Lite
 * to SVG and, through sharp, to PNG; and a markdown table of final losses, seconds per epoch and the time each
 * method needs to reach target losses (classifiers: and target test accuracies).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeOutput } from './output';
import type { EpochRecord } from './run';

// Vega and Vega-Lite are ESM-only (with top-level await): load them with a real dynamic import, which the
// CommonJS output of tsc would otherwise turn into require().
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<any>;  // eslint-disable-line @typescript-eslint/no-explicit-any

/** The progress axis of the first panel: epochs by default, or another field of the values such as steps. */
export interface ProgressAxis { field: string; title: string; subtitle: string }
const EPOCHS: ProgressAxis = { field: 'epoch', title: 'epochs trained', subtitle: 'against epochs' };

/** One quantity against progress (epochs, or `progress`) and against seconds, one line per method. */
export function twoPanels(title: string, values: object[], y: object, progress: ProgressAxis = EPOCHS): object {
  const panel = (field: string, xTitle: string, subtitle: string) => ({
    width: 360, height: 260, title: subtitle,
    mark: { type: 'line', point: { size: 18 } },
    encoding: {
      x: { field, type: 'quantitative', title: xTitle },
      y,
      color: { field: 'method', type: 'nominal', title: 'method' },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, data: { values },
    hconcat: [panel(progress.field, progress.title, progress.subtitle),
      panel('seconds', 'wall-clock seconds (evaluation excluded)', 'against time')],
  };
}

export function lossFigureSpec(problem: string, records: EpochRecord[]): object {
  const values = records.map((r) => ({ method: r.optimizer, epoch: r.epoch + 1, seconds: r.seconds, loss: r.trainLoss }));
  return twoPanels(`${problem}: regularised training loss`, values,
    { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'training loss (log scale)' });
}

export function accuracyFigureSpec(problem: string, records: EpochRecord[]): object {
  const values = records.filter((r) => r.testAccuracy !== undefined)
    .map((r) => ({ method: r.optimizer, epoch: r.epoch + 1, seconds: r.seconds, accuracy: r.testAccuracy }));
  return twoPanels(`${problem}: test accuracy`, values,
    { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy' });
}

/**
 * Renders a Vega-Lite spec to SVG (and PNG when sharp is installed); returns the files written. The plotting
 * packages are optional dependencies: without them (`npm install --omit=optional`) the figure is skipped with a
 * notice and the tables and logs are written as usual.
 */
export async function renderFigure(spec: object, basePath: string): Promise<string[]> {
  let vl, vega;
  try {
    [vl, vega] = [await importEsm('vega-lite'), await importEsm('vega')];
  } catch (error) {
    process.stderr.write(`plot skipped: the optional packages vega and vega-lite do not load (${(error as Error).message.split('\n')[0]})\n`);
    return [];
  }
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg: string = await view.toSVG();
  view.finalize();
  writeOutput(`${basePath}.svg`, svg);
  const written = [`${basePath}.svg`];
  try {
    const sharp = (await importEsm('sharp')).default;
    writeOutput(`${basePath}.png`, await sharp(Buffer.from(svg), { density: 144 }).flatten({ background: '#ffffff' }).png().toBuffer());
    written.push(`${basePath}.png`);
  } catch (error) {
    process.stderr.write(`PNG skipped (${(error as Error).message.split('\n')[0]})\n`);
  }
  return written;
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(1) : v.toFixed(3));

/** v rounded up to 4 significant digits, so that a method whose final loss is v reaches the target. */
function roundUp4(v: number): number {
  if (!(v > 0)) return Number(v.toPrecision(4));
  const scale = 10 ** (3 - Math.floor(Math.log10(v)));
  return Number((Math.ceil(v * scale - 1e-9) / scale).toPrecision(4));
}

/** Target losses every reader can compare: what the worst method reaches at the end, the median, the best +1%. */
export function targetLosses(finals: number[]): number[] {
  const sorted = finals.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return [...new Set([sorted[sorted.length - 1], median, sorted[0] * 1.01].map(roundUp4))].sort((a, b) => b - a);
}

export function markdownTable(problem: string, records: EpochRecord[], failed: ReadonlySet<string> = new Set()): string {
  const methods = [...new Set(records.map((r) => r.optimizer))];
  const byMethod = new Map(methods.map((m) => [m, records.filter((r) => r.optimizer === m)]));
  // targets come from the runs that finished; a diverged run's last loss says nothing about the others
  const finals = methods.filter((m) => !failed.has(m)).map((m) => byMethod.get(m)!.at(-1)!.trainLoss);
  const targets = targetLosses(finals);
  // classifiers: the best test accuracy, and when each method first reaches accuracies every reader can compare
  const classifier = records.some((r) => r.testAccuracy !== undefined);
  // (Fashion-MNIST's are lower: good small networks end near 0.91-0.92 on it)
  const accuracyTargets = !classifier ? [] : problem.startsWith('fashion') ? [0.85, 0.9, 0.91, 0.92] : [0.9, 0.95, 0.97, 0.98];
  const head = ['method', 'settings', 'epochs', 'final train loss', 'final test loss', 's / epoch',
    ...targets.map((t) => `s to loss ≤ ${t}`),
    ...(classifier ? ['final test accuracy', 'best test accuracy (epoch)', ...accuracyTargets.map((a) => `s (epochs) to test accuracy ≥ ${a}`)] : [])];
  const rows = methods.map((m) => {
    const rs = byMethod.get(m)!;
    const last = rs.at(-1)!;
    const settings = Object.entries(last.settings).map(([k, v]) => `${k}=${v}`).join(' ');
    const reach = targets.map((t) => fmt(rs.find((r) => r.trainLoss <= t)?.seconds));
    const accuracy = (a: number | undefined) => (a === undefined ? '—' : a.toFixed(4));
    const best = rs.reduce((b, r) => ((r.testAccuracy ?? -1) > (b.testAccuracy ?? -1) ? r : b), rs[0]);
    const reachAccuracy = accuracyTargets.map((a) => {
      const r = rs.find((x) => (x.testAccuracy ?? 0) >= a);
      return r ? `${fmt(r.seconds)} (${r.epoch + 1})` : '—';
    });
    return [failed.has(m) ? `${m} (diverged)` : m, settings, String(last.epoch + 1), fmt(last.trainLoss), fmt(last.testLoss), fmt(last.seconds / (last.epoch + 1)), ...reach,
      ...(classifier ? [accuracy(last.testAccuracy), `${accuracy(best.testAccuracy)} (${best.epoch + 1})`, ...reachAccuracy] : [])];
  });
  return [`### ${problem}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
}

export async function writeReport(outDir: string, problem: string, records: EpochRecord[], failed: ReadonlySet<string> = new Set()):
  Promise<{ table: string; files: string[] }> {
  fs.mkdirSync(outDir, { recursive: true });
  // a diverged run's last points (up to 1e30 and beyond) would flatten every other curve on the log axis
  const plotted = records.filter((r) => !failed.has(r.optimizer) || r.trainLoss < 1e4);
  const files = await renderFigure(lossFigureSpec(problem, plotted), path.join(outDir, `${problem}-loss`));
  if (records.some((r) => r.testAccuracy !== undefined))
    files.push(...await renderFigure(accuracyFigureSpec(problem, records), path.join(outDir, `${problem}-accuracy`)));
  const table = markdownTable(problem, records, failed);
  writeOutput(path.join(outDir, `${problem}-table.md`), table);
  files.push(path.join(outDir, `${problem}-table.md`));
  return { table, files };
}
