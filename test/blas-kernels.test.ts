// The OpenBLAS kernel family (native/cpu/blas_kernels.h, docs/blas-kernels.md): the choice rule against
// recorded CPU descriptions, then on this machine: the family in use is the best it can execute, the user's
// OPENBLAS_CORETYPE wins, and every family it can execute computes the same products.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { devices } from '../lib';
import { native } from '../lib/internal';
import { naiveGemm, randomArray, seeded } from './helpers';

const SSE = ['pni', 'ssse3', 'sse4_1', 'sse4_2'];
const AVX2 = [...SSE, 'avx', 'fma', 'avx2'];
const AVX512 = [...AVX2, 'avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl'];
const intel = (features: string[]) => ({ arch: 'x86_64', vendor: 'GenuineIntel', features });
const amd = (features: string[]) => ({ arch: 'x86_64', vendor: 'AuthenticAMD', features });
const arm = (features: string[]) => ({ arch: 'aarch64', vendor: '', features });

// [CPU, its features, OpenBLAS version, what that OpenBLAS picks by itself from the model, expected family]
const recorded: Array<[string, ReturnType<typeof intel>, string, string, string]> = [
  ['Zen 2 (EPYC Rome)', amd(AVX2), '0.3.21', 'Zen', 'Haswell'],
  ['Zen 3 (EPYC Milan)', amd(AVX2), '0.3.21', 'Zen', 'Haswell'],
  ['Excavator, whose own AVX2 kernels OpenBLAS keeps', amd(AVX2), '0.3.21', 'Excavator', 'Excavator'],
  ['Zen 4 (EPYC Genoa), a model 0.3.21 files under Zen', amd([...AVX512, 'avx512_bf16']), '0.3.21', 'Zen', 'Cooperlake'],
  ['Zen 5 (EPYC Turin), unknown to 0.3.21', amd([...AVX512, 'avx512_bf16', 'avx_vnni']), '0.3.21', 'Prescott', 'Cooperlake'],
  ['Skylake-X (Xeon Scalable 1st gen)', intel(AVX512), '0.3.21', 'SkylakeX', 'SkylakeX'],
  ['Ice Lake-SP', intel([...AVX512, 'avx512_vnni', 'avx512_vbmi']), '0.3.21', 'SkylakeX', 'SkylakeX'],
  ['Cooper Lake', intel([...AVX512, 'avx512_bf16']), '0.3.21', 'Cooperlake', 'Cooperlake'],
  ['Sapphire Rapids, OpenBLAS 0.3.21', intel([...AVX512, 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16']), '0.3.21', 'Cooperlake', 'Cooperlake'],
  ['Emerald Rapids, unknown to 0.3.21', intel([...AVX512, 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16']), '0.3.21', 'Prescott', 'Cooperlake'],
  ['Emerald Rapids, unknown to 0.3.29', intel([...AVX512, 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16']), '0.3.29', 'Haswell', 'SapphireRapids'],
  ['Granite Rapids, unknown to 0.3.21', intel([...AVX512, 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16', 'amx_fp16']), '0.3.21', 'Prescott', 'Cooperlake'],
  ['Alder Lake (AVX-512 fused off)', intel([...AVX2, 'avx_vnni']), '0.3.21', 'Haswell', 'Haswell'],
  ['Raptor Lake, unknown to an older OpenBLAS', intel([...AVX2, 'avx_vnni']), '0.3.21', 'Prescott', 'Haswell'],
  ['Sapphire Rapids under an OS that saves no AVX state', intel(SSE), '0.3.21', 'Prescott', 'Nehalem'],
  ['Skylake-X in an OS without AVX-512 state', intel(AVX2), '0.3.21', 'Prescott', 'Haswell'],
  ['Graviton2 (Neoverse N1)', arm(['fp', 'asimd', 'asimddp', 'atomics']), '0.3.21', 'neoversen1', 'neoversen1'],
  ['Graviton3 (Neoverse V1)', arm(['fp', 'asimd', 'asimddp', 'sve', 'bf16', 'i8mm']), '0.3.21', 'neoversev1', 'neoversev1'],
  ['Graviton4 (Neoverse V2), unknown to 0.3.21', arm(['fp', 'asimd', 'asimddp', 'sve', 'sve2', 'bf16', 'i8mm']), '0.3.21', 'armv8', 'neoversen2'],
  ['Apple-class arm64 under Linux', arm(['fp', 'asimd', 'asimddp', 'atomics', 'i8mm', 'bf16']), '0.3.21', 'armv8', 'neoversen1'],
  ['Cortex-A53 (Raspberry Pi 3)', arm(['fp', 'asimd']), '0.3.21', 'cortexa53', 'cortexa53'],
  ['an arm64 core with plain NEON, unknown to OpenBLAS', arm(['fp', 'asimd']), '0.3.21', 'armv8', 'armv8'],
];

describe('the kernel choice on recorded CPUs', () => {
  test.each(recorded)('%s', (_name, cpu, version, openblas, expected) => {
    const choice = native.chooseBlasKernels(cpu, version, openblas);
    expect(choice.kernels).toBe(expected);
    expect(choice.replaces).toBe(expected !== openblas);
    if (choice.replaces) {
      expect(choice.executable).toContain(expected);
      expect(choice.reason).toContain(openblas);
    }
  });

  test('families need the instructions they use and the OpenBLAS release that has them', () => {
    expect(native.chooseBlasKernels(intel(AVX2), '0.3.21', 'Prescott').executable)
      .toEqual(['Prescott', 'Core2', 'Nehalem', 'Sandybridge', 'Zen', 'Haswell']);
    expect(native.chooseBlasKernels(intel([...AVX512, 'avx512_bf16']), '0.3.9', 'SkylakeX').executable).not.toContain('Cooperlake');
    expect(native.chooseBlasKernels(intel([...AVX512, 'avx512_bf16']), '0.3.9', 'SkylakeX').kernels).toBe('SkylakeX');
    expect(native.chooseBlasKernels({ arch: 'riscv64', vendor: '', features: [] }, '0.3.21', 'RISCV64_GENERIC'))
      .toEqual({ kernels: 'RISCV64_GENERIC', replaces: false, reason: expect.any(String), executable: [] });
  });

  test('a malformed description is a TypeError, not a crash', () => {
    // (the addon's TypeError comes from another realm than jest's, so it is matched by name)
    const typeError = (message: string) => expect.objectContaining({ name: 'TypeError', message: expect.stringContaining(message) });
    expect(() => native.chooseBlasKernels({ arch: 'x86_64', vendor: 'GenuineIntel', features: [1] } as never, '0.3.21', 'Zen'))
      .toThrow(typeError('cpu.features must be an array of strings'));
    expect(() => native.chooseBlasKernels(null as never, '0.3.21', 'Zen')).toThrow(typeError('chooseBlasKernels(cpu, version, openblasChoice)'));
  });
});

describe('on this machine', () => {
  const blas = devices().cpu.blas;

  test('devices().cpu names the library, its version and kernels that are the best this CPU can execute', () => {
    expect(blas.library).toBe('OpenBLAS');
    expect(blas.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(blas.executable).toContain(blas.kernels);
    if (!process.env.OPENBLAS_CORETYPE) {
      expect(['openblas', 'features']).toContain(blas.chosenBy);
      // nothing ranks above the family in use
      expect(native.chooseBlasKernels(blas.cpu, blas.version, blas.kernels).replaces).toBe(false);
    }
  });

  test.each([['Sandybridge'], ['nehalem']])('OPENBLAS_CORETYPE=%s is the user\'s choice and wins', (family) => {
    const script = "const b = require('./dist').devices().cpu.blas; console.log(JSON.stringify([b.kernels, b.chosenBy, b.reason, process.env.OPENBLAS_CORETYPE]))";
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, OPENBLAS_CORETYPE: family } });
    expect(r.status).toBe(0);
    const [kernels, chosenBy, reason, env] = JSON.parse(r.stdout);
    expect([kernels.toLowerCase(), chosenBy, reason, env]).toEqual([family.toLowerCase(), 'OPENBLAS_CORETYPE', 'set by OPENBLAS_CORETYPE', family]);
  });

  test('an OPENBLAS_CORETYPE that names no family is reported with what runs instead', () => {
    const script = "const b = require('./dist').devices().cpu.blas; console.log(JSON.stringify([b.chosenBy, b.reason]))";
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, OPENBLAS_CORETYPE: 'Pentium4000' } });
    expect(r.status).toBe(0);
    const [chosenBy, reason] = JSON.parse(r.stdout);
    expect(chosenBy).toBe('OPENBLAS_CORETYPE');
    expect(reason).toMatch(/OPENBLAS_CORETYPE=Pentium4000 names no kernel family of this OpenBLAS; it runs \w+/);
  });

  test('the choice leaves no OPENBLAS_CORETYPE behind for child processes', () => {
    if (!process.env.OPENBLAS_CORETYPE) expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
  });

  test('every family this machine can execute runs, and computes GEMM and SYRK to float32 accuracy', () => {
    const rnd = seeded(5);
    const m = 67, n = 45, k = 131;
    const a = randomArray(m * k, rnd), b = randomArray(k * n, rnd);
    const want = naiveGemm(false, false, m, n, k, a, k, b, n);
    const wantSyrk = naiveGemm(true, false, k, k, m, a, k, a, k);
    try {
      for (const family of blas.executable) {
        expect(native.useBlasKernels(family).toLowerCase()).toBe(family.toLowerCase());
        expect(devices().cpu.blas.kernels).toBe(native.blasKernels().kernels);
        const c = new Float32Array(m * n);
        native.backend.gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
        c.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(2e-5 * Math.sqrt(k) * (1 + Math.abs(want[i]))));
        const s = new Float32Array(k * k);
        native.backend.syrk(true, k, m, 1, a, k, 0, s, k);
        s.forEach((v, i) => expect(Math.abs(v - wantSyrk[i])).toBeLessThan(2e-5 * Math.sqrt(m) * (1 + Math.abs(wantSyrk[i]))));
      }
    } finally {
      native.useBlasKernels(blas.kernels);
    }
  });

  test('a family this machine cannot execute is refused with a typed error naming what can run', () => {
    const unknown = ['x86_64', 'aarch64'].includes(blas.cpu.arch) ? 'Pentium4000' : 'Zen';
    expect(() => native.useBlasKernels(unknown)).toThrow(expect.objectContaining({ code: 'KBFGS_INVALID_ARGUMENT', message: expect.stringContaining(blas.kernels) }));
    expect(native.blasKernels().kernels).toBe(blas.kernels);
  });
});
