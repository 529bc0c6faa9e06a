/**
 * A small mutation fuzzer for the file readers: from a valid seed file it makes truncations, bit flips,
 * overwritten length fields (huge, zero, negative) and spliced garbage, deterministically from a seed.
 */
import { seeded } from '../helpers';

export function* mutations(valid: Uint8Array, count: number, seed: number): Generator<Uint8Array> {
  const rnd = seeded(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let i = 0; i < count; i++) {
    const b = Uint8Array.from(valid);
    switch (i % 6) {
      case 0: yield b.subarray(0, int(b.length)); break;                                    // truncated
      case 1: for (let k = 0, n = 1 + int(8); k < n; k++) b[int(b.length)] ^= 1 << int(8); yield b; break;  // bit flips
      case 2: {                                                                               // a 32-bit field near the start
        const at = int(Math.min(b.length - 4, 256));
        const v = [0xffffffff, 0, 0x7fffffff, 0x80000000, int(2 ** 32)][int(5)];
        new DataView(b.buffer).setUint32(at, v, rnd() < 0.5);
        yield b;
        break;
      }
      case 3: yield Uint8Array.from([...b.subarray(0, int(b.length)), ...Array.from({ length: int(64) }, () => int(256))]); break;  // garbage tail
      case 4: { const at = int(b.length); b.fill(int(256), at, at + 1 + int(16)); yield b; break; }  // smeared bytes
      default: yield Uint8Array.from({ length: int(200) }, () => int(256));                 // noise
    }
  }
}
