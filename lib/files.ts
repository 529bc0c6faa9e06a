/**
 * Reading and writing files that users name. Only regular files are read: a FIFO, a device such as /dev/zero,
 * a socket or a directory gets the reader's typed error at once (a FIFO is opened without blocking, so a
 * missing writer cannot stall the event loop), and a file larger than the caller's bound is refused before it
 * is read. Only regular files are written, atomically, and through symbolic links (see writeRegularFile).
 */
import { constants as bufferConstants } from 'buffer';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { KbfgsError, tidyUp } from './errors';

export interface ReadOptions {
  /** Refuse files larger than this many bytes. Default: no bound beyond Node's largest Buffer. */
  maxBytes?: number;
  /** Checks the file's size before a byte is read; throws to refuse it. */
  checkSize?: (size: number) => void;
  /** How many leading bytes `inspect` sees before the rest is read. Default 0 (no inspection). */
  headBytes?: number;
  /** Checks the head of the file (and its size) before the whole file is read; throws to refuse it. */
  inspect?: (head: Uint8Array, size: number) => void;
}

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** What a path that is not a regular file is, for messages ("is a FIFO (named pipe)"). */
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
  let bytes: Buffer;
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw makeError(`${file}: is ${kindOf(stat)}, not a regular file`);
    const maxBytes = Math.min(options.maxBytes ?? Infinity, BUFFER_MAX_LENGTH);
    if (stat.size > maxBytes)
      throw makeError(`${file}: is ${stat.size} bytes, more than the limit of ${maxBytes} bytes`);
    options.checkSize?.(stat.size);
    if (options.inspect) options.inspect(readAt(fd, 0, Math.min(options.headBytes ?? 0, stat.size)), stat.size);
    bytes = readAt(fd, 0, stat.size);
    if (bytes.length !== stat.size) throw makeError(`${file}: changed while it was read`);
  } catch (e) {
    tidyUp(() => fs.closeSync(fd));
    if (e instanceof KbfgsError) throw e;
    throw makeError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  tidyUp(() => fs.closeSync(fd));  // read only: a failed close loses nothing
  return bytes;
}

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);

// Linux's own limit on the links one path may pass through.
const MAX_LINKS = 40;

/**
 * The path a write replaces: `file` itself when it is a regular file or absent, else the regular file that
 * its symbolic links lead to. Anything else is refused: renaming over a device, FIFO or socket would replace
 * the node with a regular file, and a link to nothing would create a file where the link's owner chose.
 */
export function writeTarget(file: string, makeError: (message: string) => Error): string {
  let target = file;
  for (let links = 0; ; links++) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(target);
    } catch (e) {
      if (links > 0 && (e as NodeJS.ErrnoException).code === 'ENOENT')
        throw makeError(`${file}: is a symbolic link to ${target}, which does not exist`);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return target;  // a new file (a missing folder fails on writing)
      throw makeError(`${file}: cannot write (${errorCode(e)})`);
    }
    if (stat.isFile()) return target;
    if (!stat.isSymbolicLink())
      throw makeError(`${file}: is ${kindOf(stat)}${links > 0 ? ` (the symbolic link leads to ${target})` : ''}, not a regular file`);
    if (links === MAX_LINKS) throw makeError(`${file}: too many levels of symbolic links`);
    try {
      // A relative link is read from the folder the link is really in (its folder may itself be a link).
      target = path.resolve(fs.realpathSync(path.dirname(target)), fs.readlinkSync(target));
    } catch (e) {
      throw makeError(`${file}: cannot write (${errorCode(e)})`);
    }
  }
}

/** Writes all of bytes at the file position (one writeSync may write less). */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes bytes to a file the caller names, atomically: a temporary file beside the target, fsync, rename.
 * The target must be a regular file or absent (see writeTarget); a symbolic link is written through, so the
 * link stays and the file it leads to is replaced. Every failure is makeError's error naming the file and the
 * reason; tidying up after a failure is best-effort and never replaces that error.
 */
export function writeRegularFile(file: string, bytes: Uint8Array, makeError: (message: string) => Error): void {
  const target = writeTarget(file, makeError);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  let created = false;
  let refusal: Error | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');  // exclusive: never opens (or follows a link at) a path that already exists
    created = true;
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    // Checked again just before the rename: the path may have changed while the bytes were written.
    try {
      if (writeTarget(file, makeError) !== target) refusal = makeError(`${file}: changed while it was written`);
    } catch (e) {
      refusal = e as Error;
    }
    if (refusal) throw refusal;
    fs.renameSync(tmp, target);
  } catch (error) {
    if (fd !== undefined) tidyUp(() => fs.closeSync(fd!));
    if (created) tidyUp(() => fs.unlinkSync(tmp));
    throw refusal ?? makeError(`${file}: cannot write (${errorCode(error)})`);
  }
}
