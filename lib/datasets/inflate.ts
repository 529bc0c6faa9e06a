/**
 * Decompression bounded by what the format itself declares. The start of the stream is inflated alone to read
 * the declared size (an IDX header, a MAT element tag); the whole stream may then produce at most that many
 * bytes plus one, so a forged stream fails once it passes its declaration instead of filling memory.
 */
import * as zlib from 'zlib';

export type Codec = 'gzip' | 'zlib';

/** Compressed bytes inflated to read a header: deflate expands at most about 1032:1, so this stays near 4 MB. */
export const HEAD_INPUT_BYTES = 4096;

/** Why inflation failed, in words for an error message. */
export class InflateFailure {
  constructor(readonly reason: string) {}
}

function run(codec: Codec, input: Uint8Array, options: zlib.ZlibOptions): Buffer {
  return codec === 'gzip' ? zlib.gunzipSync(input, options) : zlib.inflateSync(input, options);
}

/**
 * The most bytes a gzip file of `declared` inflated bytes can take: deflate grows data by at most about 0.03 %
 * (zlib's deflateBound); this allows 1/64 more and 1 MiB for gzip's headers (file names, comments, members).
 */
export function largestGzip(declared: number): number {
  return declared + Math.ceil(declared / 64) + (1 << 20);
}

/** The first bytes the stream inflates to (all of them for a short stream). */
export function inflateHead(codec: Codec, compressed: Uint8Array): Buffer | InflateFailure {
  try {
    return run(codec, compressed.subarray(0, HEAD_INPUT_BYTES), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    return new InflateFailure(`corrupt ${codec} data (${(e as Error).message})`);
  }
}

/** The whole stream, which must not inflate to more than `declared` bytes. */
export function inflateBounded(codec: Codec, compressed: Uint8Array, declared: number): Buffer | InflateFailure {
  try {
    return run(codec, compressed, { maxOutputLength: declared + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      return new InflateFailure(`inflates to more than the ${declared} bytes its header declares`);
    return new InflateFailure(`corrupt ${codec} data (${(e as Error).message})`);
  }
}
