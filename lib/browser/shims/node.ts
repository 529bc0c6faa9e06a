/**
 * Stand-ins for the Node modules that lib/ imports, for the browser bundles (scripts/build-browser.js maps
 * fs, path, os, util, crypto, zlib and buffer here). What needs a file system throws NoFileSystemError saying so;
 * the rest is the little that the models, optimizers and readers use.
 */
import { KbfgsError, NoFileSystemError } from '../../errors';

function noFileSystem(what: string): never {
  throw new NoFileSystemError(`${what} needs a file system, which a browser does not have: read the file into an ` +
    'ArrayBuffer (fetch, an <input type="file">) and pass the bytes (parseIdx, parseMat, parseCifar10)');
}

// fs
export const existsSync = (): boolean => false;
export const readFileSync = (file: unknown): never => noFileSystem(`reading ${String(file)}`);
export const writeFileSync = (file: unknown): never => noFileSystem(`writing ${String(file)}`);
export const openSync = (file: unknown): never => noFileSystem(`opening ${String(file)}`);
export const statSync = (file: unknown): never => noFileSystem(`reading ${String(file)}`);
export const lstatSync = statSync;
export const readdirSync = (dir: unknown): never => noFileSystem(`listing ${String(dir)}`);

// path (POSIX joins; no file is ever read through them in a browser)
export const sep = '/';
export function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/').replace(/\/+/g, '/');
}
export const resolve = join;
export const dirname = (p: string): string => p.replace(/\/[^/]*$/, '') || '/';
export const basename = (p: string): string => p.replace(/^.*\//, '');

// os
export const availableParallelism = (): number =>
  (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
export const cpus = (): unknown[] => new Array(availableParallelism()).fill({});

// util
export const types = { isNativeError: (value: unknown): boolean => value instanceof Error };
export function inspect(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return `[Function ${value.name || '(anonymous)'}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 100 ? `${text.slice(0, 100)}...` : text;
  } catch {
    return String(value);
  }
}

// crypto
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

// zlib: gzip data is decompressed before parsing in a browser (see gunzip in lib/browser/index.ts)
const noZlib = (): never => {
  throw new KbfgsError('gzip data: decompress it first in a browser (gunzip() of kbfgs-native, or DecompressionStream)');
};
export const inflateSync = noZlib;
export const gunzipSync = noZlib;
export const inflateRawSync = noZlib;
export const constants = { MAX_LENGTH: 2 ** 32 - 1, Z_SYNC_FLUSH: 2, Z_FINISH: 4 };

export default {
  existsSync, readFileSync, writeFileSync, openSync, statSync, lstatSync, readdirSync, sep, join, resolve, dirname,
  basename, availableParallelism, cpus, types, inspect, randomBytes, inflateSync, gunzipSync, inflateRawSync, constants,
};
