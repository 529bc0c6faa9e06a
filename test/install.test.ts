// The published package: prebuildify makes the linux-x64 binary (OpenBLAS inside), `npm pack` makes the
// tarball, and a fresh project installs it and trains with no compiler, CMake or OpenBLAS on its PATH.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
jest.setTimeout(600_000);

test('npm pack tarball installs into an empty project and trains without build tools', () => {
  execFileSync('npx', ['prebuildify', '--napi', '--strip'], { cwd: root, stdio: 'ignore' });
  const binary = path.join(root, 'prebuilds', 'linux-x64', 'kbfgs-native.node');
  expect(fs.existsSync(binary)).toBe(true);
  expect(execFileSync('ldd', [binary], { encoding: 'utf8' })).not.toMatch(/openblas|gfortran|lapack|blas/);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-install-'));
  const tarball = execFileSync('npm', ['pack', '--pack-destination', tmp, '--silent'], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
  const project = path.join(tmp, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  execFileSync('npm', ['install', path.join(tmp, tarball), '--omit=optional', '--no-audit', '--no-fund'], { cwd: project, stdio: 'ignore' });
  const installed = path.join(project, 'node_modules', 'kbfgs-native');
  expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);  // only the prebuilt binary can load
  for (const file of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'prebuilds/linux-x64/kbfgs-native.node', 'LICENSE', 'NOTICE', 'THIRD_PARTY_NOTICES', 'CHANGELOG.md'])
    expect(fs.existsSync(path.join(installed, file))).toBe(true);
  expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);

  // A PATH with node alone: no compiler, no cmake, no make.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const script = `
    const { Autoencoder, Adam, datasets } = require('kbfgs-native');
    const d = datasets.curvesSynth({ trainSize: 300, testSize: 50 });
    const m = Autoencoder.curves({ seed: 1 });
    m.fit(d.train, { optimizer: new Adam({ lr: 1e-3 }), epochs: 3, batchSize: 100 }).then((h) => {
      console.log(JSON.stringify(h.history.loss));
    });`;
  const out = execFileSync(path.join(bin, 'node'), ['-e', script], { cwd: project, encoding: 'utf8', env: { PATH: bin } });
  const losses = JSON.parse(out);
  expect(losses).toHaveLength(3);
  expect(losses[2]).toBeLessThan(losses[0]);
  fs.rmSync(tmp, { recursive: true, force: true });
});
