/**
 * The files the CLI writes whole (settings, reports, figures): through the library's safe write, like
 * checkpoints, so an output path that names a device, a FIFO or a socket is refused instead of replaced.
 */
import { InvalidArgumentError } from '../errors';
import { writeRegularFile, writeTarget } from '../files';

export function writeOutput(file: string, data: string | Uint8Array): void {
  writeRegularFile(file, typeof data === 'string' ? Buffer.from(data) : data, (message) => new InvalidArgumentError(message));
}

/** Refuses, before any work, an output path that writeOutput or save would refuse; the message names the flag. */
export function checkOutput(flag: string, file: string): void {
  writeTarget(file, (message) => new InvalidArgumentError(`${flag} ${message}`));
}
