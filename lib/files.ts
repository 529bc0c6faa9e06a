/**
 * Reading files that users name. Only regular files are read: a FIFO, a device such as /dev/zero, a socket or
 * a directory gets the reader's typed error at once (a FIFO is opened without blocking, so a missing writer
 * cannot stall the event loop), and a file larger than the caller's bound is refused before it is read.
 */
import { constants as bufferConstants } from 'buffer';
import * as fs from 'fs';
import { KbfgsError } from './errors';

export interface ReadOptions {
  /** Refuse files larger than this many bytes. Default: no bound beyond Node's largest Buffer. */
  maxBytes?: number;
  /** How many leading bytes `inspect` sees before the rest is read. Default 0 (no inspection). */
  headBytes?: number;
  /** Checks the head of the file (and its size) before the whole file is read; throws to refuse it. */
  inspect?: (head: Uint8Array, size: number) => void;
}

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done);
    if (n === 0) break;  // the file shrank while it was read
    done += n;
  }
  return done === length ? out : out.subarray(0, done);
}

/** Reads a whole regular file; every failure is makeError's typed error naming the file and the reason. */
export function readRegularFile(file: string, makeError: (message: string) => KbfgsError, options: ReadOptions = {}): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw makeError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw makeError(`${file}: is ${kindOf(stat)}, not a regular file`);
    const maxBytes = Math.min(options.maxBytes ?? Infinity, BUFFER_MAX_LENGTH);
    if (stat.size > maxBytes)
      throw makeError(`${file}: is ${stat.size} bytes, more than the limit of ${maxBytes} bytes`);
    if (options.inspect) options.inspect(readAt(fd, 0, Math.min(options.headBytes ?? 0, stat.size)), stat.size);
    const bytes = readAt(fd, 0, stat.size);
    if (bytes.length !== stat.size) throw makeError(`${file}: changed while it was read`);
    return bytes;
  } catch (e) {
    if (e instanceof KbfgsError) throw e;
    throw makeError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    fs.closeSync(fd);
  }
}
