/**
 * Typed errors. Every error this package throws is a {@link KbfgsError} with a stable `code`; errors raised
 * in native code carry the same codes and are rethrown as these classes (see {@link fromNative}).
 */
import type { History } from './records';

/** The stable code of every error this package throws. */
export type ErrorCode =
  | 'KBFGS_ERROR' | 'KBFGS_INVALID_ARGUMENT' | 'KBFGS_SHAPE' | 'KBFGS_INVALID_DATA' | 'KBFGS_BUSY' | 'KBFGS_DISPOSED'
  | 'KBFGS_ABORTED' | 'KBFGS_NUMERICAL' | 'KBFGS_NOT_POSITIVE_DEFINITE' | 'KBFGS_OUT_OF_MEMORY' | 'KBFGS_DEVICE'
  | 'KBFGS_DISTRIBUTED' | 'KBFGS_INTERNAL' | 'KBFGS_IDX_FORMAT' | 'KBFGS_MAT_FORMAT' | 'KBFGS_CIFAR_FORMAT' | 'KBFGS_TEXT_FORMAT' | 'KBFGS_CHECKPOINT'
  | 'KBFGS_CALLBACK' | 'KBFGS_NO_FILE_SYSTEM';

export class KbfgsError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'KBFGS_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A hyperparameter, option or argument is missing, unknown, of the wrong type or out of range. */
export class InvalidArgumentError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_INVALID_ARGUMENT');
  }
}

/** Data whose shape does not fit the model or the declared rows x cols. */
export class ShapeError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_SHAPE');
  }
}

/** Data containing NaN or Infinity; the message names the row and column. */
export class InvalidDataError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_INVALID_DATA');
  }
}

/** A second fit/evaluate/predict on a model that is still working. */
export class BusyError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_BUSY');
  }
}

/** Use of a model after dispose(). */
export class DisposedError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_DISPOSED');
  }
}

/** Training stopped by an AbortSignal; `history` holds the epochs that finished. The model stays valid. */
export class AbortError extends KbfgsError {
  history?: History;
  constructor(message = 'training was aborted') {
    super(message, 'KBFGS_ABORTED');
    this.name = 'AbortError';
  }
}

/** Training produced a non-finite loss or quantity; the message names the step. */
export class NumericalError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_NUMERICAL');
  }
}

/** A curvature factor that must be symmetric positive definite is not (Cholesky failed). */
export class NotPositiveDefiniteError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_NOT_POSITIVE_DEFINITE');
  }
}

/** The native addon could not allocate memory. */
export class OutOfMemoryError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_OUT_OF_MEMORY');
  }
}

/** The requested compute device cannot be used (no GPU, driver or CUDA library), or a device call failed. */
export class DeviceError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_DEVICE');
  }
}

/**
 * Data-parallel training failed: MPI could not be loaded or started, the ranks do not train the same run, or a
 * rank stopped answering (it died, failed or left training) within the timeout.
 */
export class DistributedError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_DISTRIBUTED');
  }
}

/**
 * A callback threw or rejected with something that is not an Error (undefined, a string, a plain object); the
 * message names the callback and the hook and shows the value, which `value` holds. Errors pass on as they are.
 */
export class CallbackError extends KbfgsError {
  readonly value: unknown;
  constructor(message: string, value?: unknown) {
    super(message, 'KBFGS_CALLBACK');
    this.value = value;
  }
}

/** A fault inside the native engine that no input should cause; please report it with the message. */
export class InternalError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_INTERNAL');
  }
}

/**
 * In a browser: the call reads or writes files (a dataset folder, a checkpoint path), and a page has none. The
 * message says what to pass instead (the file's bytes, an ArrayBuffer or a Blob).
 */
export class NoFileSystemError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_NO_FILE_SYSTEM');
  }
}

const byCode: Partial<Record<ErrorCode, new (message: string) => KbfgsError>> = {
  KBFGS_INVALID_ARGUMENT: InvalidArgumentError,
  KBFGS_SHAPE: ShapeError,
  KBFGS_INVALID_DATA: InvalidDataError,
  KBFGS_BUSY: BusyError,
  KBFGS_DISPOSED: DisposedError,
  KBFGS_ABORTED: AbortError,
  KBFGS_NUMERICAL: NumericalError,
  KBFGS_NOT_POSITIVE_DEFINITE: NotPositiveDefiniteError,
  KBFGS_OUT_OF_MEMORY: OutOfMemoryError,
  KBFGS_DEVICE: DeviceError,
  KBFGS_DISTRIBUTED: DistributedError,
  KBFGS_INTERNAL: InternalError,
};

/** The codes native errors carry, each with its class (test/errors.test.ts checks them against the engine's list). */
export const NATIVE_ERROR_CODES: readonly string[] = Object.keys(byCode);

/** Turns an error thrown by the addon (a plain Error with a `code`) into the matching typed error. */
export function fromNative(error: unknown): unknown {
  // Duck-typed: errors from the addon may come from another realm (jest's vm), where instanceof Error fails.
  if (error instanceof KbfgsError || typeof error !== 'object' || error === null) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !code.startsWith('KBFGS_') || typeof message !== 'string') return error;
  const Type = byCode[code as ErrorCode];
  return Type ? new Type(message) : new KbfgsError(message, code as ErrorCode);
}

/** Calls fn and rethrows native errors as typed errors. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}

/**
 * Runs a clean-up step while an error is on its way (closing, removing a temporary file, disposing): the step is
 * best-effort, and its own failure is dropped so that the caller gets the error that mattered.
 */
export function tidyUp(step: () => unknown): void {
  try {
    step();
  } catch {
    // dropped: see above
  }
}
