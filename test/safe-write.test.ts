// Saving onto what is not a regular file: a device node, a FIFO, a socket or a directory is refused with a
// CheckpointError naming the path and what it is, and is left as it was; a symbolic link is written through
// to the regular file it leads to; a failed save never hides its error behind one from tidying up. Every
// special file is made here, in a private folder (device nodes with mknod: the tests run as root).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Adam, CheckpointError, IdxFormatError, ModelCheckpoint, Sequential, readIdx } from '../lib';

const root = path.join(__dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-safe-write-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tiny = (seed = 1) => new Sequential({ inputDim: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 3 }], loss: 'halfSquaredError', seed });
const x = { data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)), rows: 20, cols: 3 };

/** A device node like /dev/null (1, 3) or /dev/full (1, 7), private to this test. */
function deviceNode(name: string, minor: number): string {
  const file = path.join(dir, name);
  const r = spawnSync('mknod', [file, 'c', '1', String(minor)], { encoding: 'utf8' });
  expect([r.status, r.stderr]).toEqual([0, '']);
  return file;
}

function fifo(name: string): string {
  const file = path.join(dir, name);
  expect(spawnSync('mkfifo', [file]).status).toBe(0);
  return file;
}

let socketServer: net.Server;
let socketFile: string;
beforeAll(async () => {
  socketFile = path.join(dir, 'socket');
  socketServer = net.createServer();
  await new Promise<void>((resolve) => socketServer.listen(socketFile, resolve));
});
afterAll(() => new Promise<void>((resolve) => socketServer.close(() => resolve())));

/** What lstat says of a path, enough to see that it was not replaced. */
const identity = (file: string) => {
  const s = fs.lstatSync(file);
  return { kind: s.isCharacterDevice() ? 'char' : s.isFIFO() ? 'fifo' : s.isSocket() ? 'socket' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other', rdev: s.rdev, ino: s.ino };
};
const temporaries = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('save refuses what is not a regular file and leaves it as it was', () => {
  test.each([
    ['a /dev/null-like device node', () => deviceNode('null', 3), /is a character device, not a regular file/],
    ['a /dev/full-like device node', () => deviceNode('full', 7), /is a character device, not a regular file/],
    ['a FIFO', () => fifo('pipe'), /is a FIFO \(named pipe\), not a regular file/],
    ['a Unix socket', () => socketFile, /is a socket, not a regular file/],
    ['a directory', () => fs.mkdtempSync(path.join(dir, 'folder-')), /is a directory, not a regular file/],
  ])('%s', (_, make, what) => {
    const target = make();
    const before = identity(target);
    const model = tiny();
    let error: unknown;
    try {
      model.save(target);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect((error as Error).message).toMatch(what);
    expect(identity(target)).toEqual(before);
    expect(temporaries()).toEqual([]);
    model.dispose();
  });

  test('ModelCheckpoint pointed at a device node: fit rejects with CheckpointError, the node stays', async () => {
    const node = deviceNode('checkpoint-null', 3);
    const before = identity(node);
    const model = tiny();
    const error = await model.fit(x, { optimizer: new Adam(), epochs: 3, batchSize: 5, threads: 1, callbacks: [new ModelCheckpoint(node)] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(/checkpoint-null: is a character device, not a regular file/);
    expect(model.epochsTrained).toBe(1);
    expect(identity(node)).toEqual(before);
    model.dispose();
  });
});

describe('symbolic links', () => {
  test('a link to a checkpoint is written through: the file it leads to is replaced, the link stays', async () => {
    const real = path.join(dir, 'run-7.safetensors');
    const link = path.join(dir, 'latest.safetensors');
    const first = tiny(1);
    first.save(real);
    fs.symlinkSync('run-7.safetensors', link);
    const second = tiny(2);
    await second.fit(x, { optimizer: new Adam(), epochs: 1, batchSize: 5, threads: 1 });
    second.save(link);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe('run-7.safetensors');
    const loaded = Sequential.load(real);
    expect(loaded.getWeights()).toEqual(second.getWeights());
    expect(loaded.getWeights()).not.toEqual(first.getWeights());
    expect(temporaries()).toEqual([]);
    [first, second, loaded].forEach((m) => m.dispose());
  });

  test('a chain of links through a linked folder reaches the regular file', () => {
    const folder = fs.mkdtempSync(path.join(dir, 'real-folder-'));
    const real = path.join(folder, 'model.safetensors');
    tiny(1).save(real);
    const folderLink = path.join(dir, 'folder-link');
    fs.symlinkSync(folder, folderLink);
    const inner = path.join(dir, 'inner-link');
    fs.symlinkSync(path.join('folder-link', 'model.safetensors'), inner);
    const outer = path.join(dir, 'outer-link');
    fs.symlinkSync('inner-link', outer);
    const model = tiny(5);
    model.save(outer);
    expect([fs.lstatSync(outer).isSymbolicLink(), fs.lstatSync(inner).isSymbolicLink()]).toEqual([true, true]);
    const loaded = Sequential.load(real);
    expect(loaded.getWeights()).toEqual(model.getWeights());
    expect(fs.readdirSync(folder)).toEqual(['model.safetensors']);
    model.dispose();
    loaded.dispose();
  });

  test('a link to a device node is refused, naming the link and what it leads to', () => {
    const node = deviceNode('linked-null', 3);
    const link = path.join(dir, 'to-null');
    fs.symlinkSync(node, link);
    const before = identity(node);
    expect(() => tiny().save(link)).toThrow(CheckpointError);
    expect(() => tiny().save(link)).toThrow(/to-null: is a character device \(the symbolic link leads to .*linked-null\), not a regular file/);
    expect(identity(node)).toEqual(before);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('a link to nothing is refused and nothing is created where it points', () => {
    const link = path.join(dir, 'dangling');
    const target = path.join(dir, 'never-written.safetensors');
    fs.symlinkSync(target, link);
    expect(() => tiny().save(link)).toThrow(CheckpointError);
    expect(() => tiny().save(link)).toThrow(/dangling: is a symbolic link to .*never-written\.safetensors, which does not exist/);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('a loop of links is refused', () => {
    const a = path.join(dir, 'loop-a'), b = path.join(dir, 'loop-b');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    expect(() => tiny().save(a)).toThrow(CheckpointError);
    expect(() => tiny().save(a)).toThrow(/loop-a: too many levels of symbolic links/);
  });
});

describe('a failed save keeps its own error', () => {
  test('a parent that is a regular file: CheckpointError naming the path, not the cleanup\'s error', () => {
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    const target = path.join(file, 'model.safetensors');
    let error: unknown;
    try {
      tiny().save(target);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe(`${target}: cannot write (ENOTDIR)`);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });

  test('a rename that fails, then a cleanup that fails too: the rename\'s error, typed', () => {
    const target = path.join(dir, 'rename-fails.safetensors');
    const nodeFs = require('fs') as typeof fs;  // the module itself: the library's bindings to it are live
    const rename = jest.spyOn(nodeFs, 'renameSync').mockImplementation(() => {
      throw Object.assign(new Error('cross-device link'), { code: 'EXDEV' });
    });
    const unlink = jest.spyOn(nodeFs, 'unlinkSync').mockImplementation(() => {
      throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
    });
    const rm = jest.spyOn(nodeFs, 'rmSync').mockImplementation(() => {
      throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
    });
    let error: unknown;
    try {
      tiny().save(target);
    } catch (e) {
      error = e;
    } finally {
      [rename, unlink, rm].forEach((spy) => spy.mockRestore());
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe(`${target}: cannot write (EXDEV)`);
    expect(fs.existsSync(target)).toBe(false);
    temporaries().forEach((f) => fs.unlinkSync(path.join(dir, f)));  // the cleanup was made to fail
  });
});

describe('other clean-up keeps the error it follows', () => {
  const failing = (error: string) => () => { throw Object.assign(new Error(error), { code: error }); };

  test('a reader whose file cannot be closed after a refusal: the reader\'s typed error', () => {
    const file = path.join(dir, 'bad-magic-idx');
    fs.writeFileSync(file, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const nodeFs = require('fs') as typeof fs;
    const close = jest.spyOn(nodeFs, 'closeSync').mockImplementation(failing('EIO'));
    let error: unknown;
    try {
      readIdx(file);
    } catch (e) {
      error = e;
    } finally {
      close.mockRestore();
    }
    expect(error).toBeInstanceOf(IdxFormatError);
    expect((error as Error).message).toMatch(/bad magic/);
  });

  test('a checkpoint refused after its model was built, whose model then fails to dispose: the CheckpointError', () => {
    const file = path.join(dir, 'bad-optimizer.safetensors');
    const model = tiny();
    model.save(file, { optimizer: false });
    model.dispose();
    const { decodeSafetensors, encodeSafetensors } = require('../lib/checkpoint') as typeof import('../lib/checkpoint');
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
    fs.writeFileSync(file, encodeSafetensors(tensors, { ...metadata, optimizer: JSON.stringify({ kind: 'lbfgs', settings: {} }) }));
    const dispose = jest.spyOn(Sequential.prototype, 'dispose').mockImplementation(failing('EDISPOSE'));
    let error: unknown;
    try {
      Sequential.load(file);
    } catch (e) {
      error = e;
    } finally {
      dispose.mockRestore();
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/unknown optimizer kind/);
  });
});

describe('the CLI writes its outputs through the same checks', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), ...args],
    { encoding: 'utf8', timeout: 60_000 });

  test('tune --out onto a device node is refused before any run, the node stays', () => {
    const node = deviceNode('settings-null', 3);
    const before = identity(node);
    const r = cli('tune', '--out', node, '--quiet', '--time-budget', '0.1', '--methods', 'sgd', '--lr', '0.1', '--train-size', '100');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--out .*settings-null: is a character device, not a regular file/);
    expect(identity(node)).toEqual(before);
  });

  test('train --save onto a FIFO is refused before training', () => {
    const pipe = fifo('save-pipe');
    const r = cli('train', '--save', pipe, '--quiet', '--epochs', '1', '--train-size', '100', '--test-size', '100');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--save .*save-pipe: is a FIFO \(named pipe\), not a regular file/);
    expect(identity(pipe).kind).toBe('fifo');
  });
});
