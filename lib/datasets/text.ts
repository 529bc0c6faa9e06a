/**
 * Text for a byte-level language model: `datasets.text({ file, context })` reads UTF-8 text, splits it into
 * training and validation text and cuts each into token sequences with next-token targets.
 *
 * - Tokens are the text's UTF-8 bytes: ids 0-255, a vocabulary of 256 that does not depend on the text, with
 *   no unknown token (any file works, and a model trained on one text reads another). ASCII text has one byte
 *   per character; other characters take two to four tokens.
 * - The split is per file: the last `validationFraction` (default 0.1) of each file's bytes, moved forward to
 *   the start of a character, is validation text, the rest training text; the files' parts are joined in the
 *   order given. So every file (each fortune file is one topic) is in both splits, and the split is the same on
 *   every run.
 * - Sequences: row r of a split holds `context` ids starting at byte r·stride of its text, and its targets are
 *   the ids one byte later (the next token of each position); `inputs` and `targets` are Int32Arrays of shape
 *   [rows, context], row-major: the integer input an embedding layer takes, and the class of each position
 *   for a per-token softmax cross-entropy.
 * - The default text is the fortune files that Debian's `fortunes` package installs in /usr/share/games/fortunes
 *   (about 2.7 MB; BSD licence, see THIRD_PARTY_NOTICES); the package reads them there and ships none of them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { InvalidArgumentError, KbfgsError } from '../errors';
import { readRegularFile } from '../files';
import { checkKeys, checkNumber, describeValue } from '../options';
import type { TokenMatrix } from '../tokens';

/** An empty file or one that is not UTF-8 text: names the file and the problem. */
export class TextFormatError extends KbfgsError {
  constructor(message: string) {
    super(message, 'KBFGS_TEXT_FORMAT');
    this.name = 'TextFormatError';
  }
}

/** Where Debian's `fortunes` and `fortunes-min` packages install their fortune files. */
export const FORTUNES_DIR = '/usr/share/games/fortunes';

export interface TextOptions {
  /** A UTF-8 text file, or several read in this order. Default: every fortune file in {@link FORTUNES_DIR}. */
  file?: string | readonly string[];
  /** Tokens per sequence (the model's context length). */
  context: number;
  /** The share of each file's text, from its end, kept for validation. Default 0.1. */
  validationFraction?: number;
  /** Bytes between the starts of consecutive sequences. Default `context` (sequences do not overlap). */
  stride?: number;
}

/** One split's text and its sequences. */
export interface TokenSequences {
  readonly name: 'train' | 'validation';
  /** rows × context token ids, row-major (shape [rows, context]). */
  readonly inputs: Int32Array;
  /** The next token of each input position, same shape: targets[r·context + t] = tokens[r·stride + t + 1]. */
  readonly targets: Int32Array;
  readonly rows: number;
  readonly context: number;
  /** inputs and targets as the { x, y } matrices a token model's fit, evaluate and validationData take. */
  readonly x: TokenMatrix;
  readonly y: TokenMatrix;
  /** The split's whole text as token ids (its bytes), e.g. to draw windows of one's own. */
  readonly tokens: Uint8Array;
  /** Characters (Unicode code points) in the split's text: tokens.length / characters bytes per character. */
  readonly characters: number;
}

export interface TextDataset {
  readonly name: 'text';
  /** The files read, in order. */
  readonly files: readonly string[];
  /** 256: one token per byte value. */
  readonly vocabularySize: number;
  readonly context: number;
  readonly train: TokenSequences;
  readonly validation: TokenSequences;
  /** The token ids (UTF-8 bytes) of a string, e.g. a prompt. */
  encode(text: string): Int32Array;
  /** The text of token ids; bytes that do not form UTF-8 (a cut character) become U+FFFD. */
  decode(ids: ArrayLike<number>): string;
}

/**
 * A mean loss in nats per token as bits per character: loss / ln 2 per token, times the tokens per character
 * (1 for ASCII text; a split's tokens.length / characters in general).
 */
export function bitsPerCharacter(loss: number, tokensPerCharacter = 1): number {
  checkNumber('bitsPerCharacter', 'loss', loss, NaN, { min: 0 });
  checkNumber('bitsPerCharacter', 'tokensPerCharacter', tokensPerCharacter, NaN, { min: 1 });
  return (loss / Math.LN2) * tokensPerCharacter;
}

/** The fortune files: the regular files of FORTUNES_DIR except the `.dat` indexes (the `.u8` names are links). */
function fortuneFiles(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(FORTUNES_DIR);
  } catch {
    throw new InvalidArgumentError(`text: ${FORTUNES_DIR} does not exist; install Debian's fortunes package or pass { file }`);
  }
  const files = names.filter((n) => !n.endsWith('.dat')).sort().map((n) => path.join(FORTUNES_DIR, n))
    .filter((f) => fs.lstatSync(f).isFile());
  if (files.length === 0) throw new InvalidArgumentError(`text: ${FORTUNES_DIR} holds no fortune files; install Debian's fortunes package or pass { file }`);
  return files;
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** Throws TextFormatError at the first byte that is not well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates). */
function checkUtf8(bytes: Uint8Array, file: string): void {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    // The second byte's range where the lead byte narrows it (overlong forms, surrogates, beyond U+10FFFF).
    const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80, high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    let ok = length > 0 && i + length <= bytes.length;
    for (let j = 1; ok && j < length; j++) ok = j === 1 ? bytes[i + 1] >= low && bytes[i + 1] <= high : isContinuation(bytes[i + j]);
    if (!ok) throw new TextFormatError(`${file}: not UTF-8 text (byte ${i} is 0x${b.toString(16).padStart(2, '0')})`);
    i += length;
  }
}

function sequences(name: 'train' | 'validation', tokens: Uint8Array, context: number, stride: number): TokenSequences {
  const rows = Math.floor((tokens.length - 1 - context) / stride) + 1;
  const inputs = new Int32Array(rows * context), targets = new Int32Array(rows * context);
  for (let r = 0; r < rows; r++) {
    inputs.set(tokens.subarray(r * stride, r * stride + context), r * context);
    targets.set(tokens.subarray(r * stride + 1, r * stride + context + 1), r * context);
  }
  let characters = 0;
  for (const byte of tokens) characters += +!isContinuation(byte);
  return {
    name, inputs, targets, rows, context, tokens, characters,
    x: { data: inputs, rows, cols: context }, y: { data: targets, rows, cols: context },
  };
}

export function text(options: TextOptions): TextDataset {
  const where = 'text';
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError(`${where}: options { context } are required, got ${describeValue(options)}`);
  checkKeys(where, options, ['file', 'context', 'validationFraction', 'stride']);
  if (options.context === undefined) throw new InvalidArgumentError(`${where}: context is required (tokens per sequence)`);
  const context = checkNumber(where, 'context', options.context, NaN, { min: 1, max: 2 ** 24, integer: true });
  const fraction = checkNumber(where, 'validationFraction', options.validationFraction, 0.1, { above: 0, below: 1 });
  const stride = checkNumber(where, 'stride', options.stride, context, { min: 1, max: 2 ** 24, integer: true });
  const given = options.file;
  if (given !== undefined && typeof given !== 'string' && !(Array.isArray(given) && given.length > 0 && given.every((f) => typeof f === 'string')))
    throw new InvalidArgumentError(`${where}: file must be a path or a non-empty array of paths, got ${describeValue(given)}`);
  const files: string[] = given === undefined ? fortuneFiles() : typeof given === 'string' ? [given] : [...given];

  const trainParts: Uint8Array[] = [], validationParts: Uint8Array[] = [];
  for (const file of files) {
    const bytes = readRegularFile(file, (message) => new TextFormatError(message));
    if (bytes.length === 0) throw new TextFormatError(`${file}: is empty`);
    checkUtf8(bytes, file);
    let cut = Math.floor(bytes.length * (1 - fraction));
    while (cut < bytes.length && isContinuation(bytes[cut])) cut++;  // a character stays whole
    trainParts.push(bytes.subarray(0, cut));
    validationParts.push(bytes.subarray(cut));
  }
  const join = (parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
  const train = join(trainParts), validation = join(validationParts);
  for (const [name, tokens] of [['training', train], ['validation', validation]] as const)
    if (tokens.length < context + 1)
      throw new InvalidArgumentError(`${where}: context ${context} needs at least ${context + 1} bytes of ${name} text, the ${name} text has ${tokens.length}` +
        ` (${name === 'validation' ? 'raise validationFraction, ' : ''}lower context or give more text)`);

  return {
    name: 'text', files, vocabularySize: 256, context,
    train: sequences('train', train, context, stride),
    validation: sequences('validation', validation, context, stride),
    encode: (s: string) => {
      if (typeof s !== 'string') throw new InvalidArgumentError(`text.encode: expected a string, got ${describeValue(s)}`);
      return Int32Array.from(Buffer.from(s, 'utf8'));
    },
    decode: (ids: ArrayLike<number>) => {
      if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number')
        throw new InvalidArgumentError(`text.decode: expected an array of token ids, got ${describeValue(ids)}`);
      for (let i = 0; i < ids.length; i++)
        if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] > 255)
          throw new InvalidArgumentError(`text.decode: token ${i} is ${describeValue(ids[i])}, not an id from 0 to 255`);
      return Buffer.from(Uint8Array.from(ids)).toString('utf8');
    },
  };
}
