// The error codes the engine raises (native/core/errors.h) and the typed classes lib/errors.ts maps them to:
// one list on each side, and they must agree.
import * as fs from 'fs';
import * as path from 'path';
import { KbfgsError } from '../lib';
import { NATIVE_ERROR_CODES, fromNative } from '../lib/errors';

const header = fs.readFileSync(path.join(__dirname, '..', 'native', 'core', 'errors.h'), 'utf8');
const engineCodes = [...header.matchAll(/case ErrorKind::(\w+): return "(KBFGS_\w+)";/g)].map((m) => m[2]);
const kinds = /enum class ErrorKind \{([^}]*)\}/.exec(header)![1].split(',').map((k) => k.trim()).filter(Boolean);

test('every engine error kind has a code, and every code a typed class', () => {
  expect(engineCodes).toHaveLength(kinds.length);
  for (const code of engineCodes) expect(NATIVE_ERROR_CODES).toContain(code);
});

test('fromNative turns each engine code into its class, keeping the message', () => {
  for (const code of engineCodes) {
    const typed = fromNative(Object.assign(new Error('what happened'), { code })) as KbfgsError;
    expect(typed).toBeInstanceOf(KbfgsError);
    expect([typed.code, typed.message, typed.constructor.name]).toEqual([code, 'what happened', typed.name]);
    expect(typed.constructor).not.toBe(KbfgsError);
  }
});
