// datasets.text: the per-file split, the token sequences and their next-token targets, UTF-8 checks and typed
// errors, bits per character, and the default text (Debian's fortune files, installed by scripts/setup.sh).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FORTUNES_DIR, InvalidArgumentError, TextFormatError, bitsPerCharacter, datasets } from '../lib';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kbfgs-text-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, content: string | Uint8Array) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
};

describe('datasets.text', () => {
  // 20 bytes: the last 10% (2 bytes) is validation text.
  const abc = write('abc.txt', 'abcdefghijklmnopqrst');

  test('sequences of `context` byte ids with the next byte as target, shape [rows, context]', () => {
    const data = datasets.text({ file: abc, context: 4, validationFraction: 0.25 });
    expect(data.vocabularySize).toBe(256);
    expect(data.files).toEqual([abc]);
    const { train } = data;
    expect(Buffer.from(train.tokens).toString()).toBe('abcdefghijklmno');
    // rows = floor((15 − 1 − 4)/4) + 1 = 3: starts 0, 4, 8 (the last target is byte 12)
    expect(train.rows).toBe(3);
    expect(train.inputs).toBeInstanceOf(Int32Array);
    expect(train.inputs).toHaveLength(3 * 4);
    expect(data.decode(train.inputs.subarray(4, 8))).toBe('efgh');
    expect(data.decode(train.targets.subarray(4, 8))).toBe('fghi');
    expect(data.decode(train.inputs.subarray(8, 12))).toBe('ijkl');
    expect(data.decode(train.targets.subarray(8, 12))).toBe('jklm');
    expect(train.characters).toBe(15);
  });

  test('stride sets how far apart sequences start; validationFraction the split', () => {
    const data = datasets.text({ file: abc, context: 3, stride: 1, validationFraction: 0.25 });
    expect(Buffer.from(data.validation.tokens).toString()).toBe('pqrst');
    expect(data.validation.rows).toBe(2);  // starts 0 and 1 of "pqrst"
    expect(data.decode(data.validation.inputs)).toBe('pqrqrs');
    expect(data.decode(data.validation.targets)).toBe('qrsrst');
    expect(data.train.rows).toBe(15 - 1 - 3 + 1);
  });

  test('each file is split on its own and the parts joined in order; a character is never cut', () => {
    // "é" is two bytes (c3 a9): the cut at byte 9 of the second file falls inside it and moves to its end.
    const second = write('accents.txt', 'aaaaaaaaé');
    expect(fs.statSync(second).size).toBe(10);
    const data = datasets.text({ file: [abc, second], context: 1 });
    expect(Buffer.from(data.train.tokens).toString()).toBe('abcdefghijklmnopqraaaaaaaaé');
    expect(Buffer.from(data.validation.tokens).toString()).toBe('st');
    expect(data.train.characters).toBe(27);
    expect(data.train.tokens).toHaveLength(28);
    expect(bitsPerCharacter(Math.LN2, 28 / 27)).toBeCloseTo(28 / 27, 12);
  });

  test('encode and decode: UTF-8 bytes, and back', () => {
    const data = datasets.text({ file: abc, context: 1 });
    expect(Array.from(data.encode('aé€'))).toEqual([0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac]);
    expect(data.decode(data.encode('Zippy: “yow”'))).toBe('Zippy: “yow”');
    expect(data.decode([0xe2, 0x82])).toBe('\ufffd');  // a cut character
    expect(() => data.decode([256])).toThrow(/token 0 is 256, not an id from 0 to 255/);
    expect(() => data.decode([1.5])).toThrow(InvalidArgumentError);
    expect(() => data.encode(5 as never)).toThrow(InvalidArgumentError);
  });

  test('typed errors name the file or the option', () => {
    const empty = write('empty.txt', '');
    const cases: Array<[string | string[], RegExp]> = [
      [empty, /empty\.txt: is empty/],
      [path.join(dir, 'missing.txt'), /missing\.txt: cannot read \(ENOENT\)/],
      [dir, /is a directory, not a regular file/],
      [write('latin1.txt', Uint8Array.from([0x61, 0x62, 0xe9, 0x63])), /latin1\.txt: not UTF-8 text \(byte 2 is 0xe9\)/],
      [write('overlong.txt', Uint8Array.from([0x61, 0xc0, 0x80])), /not UTF-8 text \(byte 1 is 0xc0\)/],
      [write('surrogate.txt', Uint8Array.from([0xed, 0xa0, 0x80])), /not UTF-8 text \(byte 0 is 0xed\)/],
      [write('truncated.txt', Uint8Array.from([0x61, 0x61, 0xe2, 0x82])), /not UTF-8 text \(byte 2 is 0xe2\)/],
    ];
    for (const [file, message] of cases) {
      expect(() => datasets.text({ file, context: 1 })).toThrow(TextFormatError);
      expect(() => datasets.text({ file, context: 1 })).toThrow(message);
    }
    const options: Array<[unknown, RegExp]> = [
      [{ file: abc, context: 2 }, /context 2 needs at least 3 bytes of validation text, the validation text has 2 \(raise validationFraction/],
      [{ file: abc, context: 18 }, /context 18 needs at least 19 bytes of training text, the training text has 18/],
      [{ file: abc }, /context is required/],
      [{ file: abc, context: 0 }, /context must be >= 1/],
      [{ file: abc, context: 2.5 }, /context must be an integer/],
      [{ file: abc, context: 1, validationFraction: 1 }, /validationFraction must be < 1/],
      [{ file: abc, context: 1, stride: 0 }, /stride must be >= 1/],
      [{ file: 42, context: 1 }, /file must be a path or a non-empty array of paths/],
      [{ file: [], context: 1 }, /file must be a path or a non-empty array of paths/],
      [{ file: abc, context: 1, contxt: 1 }, /did you mean 'context'/],
      [undefined, /options \{ context \} are required/],
    ];
    for (const [o, message] of options) {
      expect(() => datasets.text(o as never)).toThrow(InvalidArgumentError);
      expect(() => datasets.text(o as never)).toThrow(message);
    }
  });

  test('the default text: every fortune file of Debian\'s fortunes package, split 90/10', () => {
    const data = datasets.text({ context: 128 });
    const files = fs.readdirSync(FORTUNES_DIR).filter((n) => !n.endsWith('.dat') && fs.lstatSync(path.join(FORTUNES_DIR, n)).isFile());
    expect(data.files).toHaveLength(files.length);
    expect(data.files.length).toBeGreaterThan(40);  // fortunes installs 43 files, fortunes-min only one
    const bytes = data.train.tokens.length + data.validation.tokens.length;
    expect(bytes).toBeGreaterThan(2_000_000);
    expect(data.validation.tokens.length / bytes).toBeCloseTo(0.1, 2);
    expect(data.train.rows).toBe(Math.floor((data.train.tokens.length - 129) / 128) + 1);
    // mostly ASCII: close to one byte per character
    expect(data.train.tokens.length / data.train.characters).toBeLessThan(1.01);
  });
});

test('bitsPerCharacter: nats per token over ln 2, times tokens per character', () => {
  expect(bitsPerCharacter(Math.LN2)).toBeCloseTo(1, 15);
  expect(bitsPerCharacter(Math.log(256))).toBeCloseTo(8, 12);  // the uniform distribution over bytes
  expect(bitsPerCharacter(1, 2)).toBeCloseTo(2 / Math.LN2, 15);
  expect(() => bitsPerCharacter(-1)).toThrow(InvalidArgumentError);
  expect(() => bitsPerCharacter(1, 0.5)).toThrow(/tokensPerCharacter must be >= 1/);
});
