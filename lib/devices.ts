/**
 * Compute devices: the CPU always, a CUDA GPU when this build has the CUDA module, a GPU and driver are present,
 * and cuBLAS and cuSOLVER (CUDA 13, else 12) can be loaded at run time.
 */
import * as fs from 'fs';
import * as path from 'path';
import { addon, BACKENDS, engineReport, type BackendName, type EngineReport, type NativeBlasReport, type NativeCudaReport } from './binding';
import { DeviceError } from './errors';

/** 'auto' picks CUDA when available and the CPU otherwise; 'cuda' fails with DeviceError when unavailable. */
export const DEVICES = ['auto', ...BACKENDS] as const;
export type DeviceName = (typeof DEVICES)[number];

export interface DevicesReport {
  /** The engine that runs: the native addon, or the WebAssembly build of the same engine, and why. */
  engine: EngineReport;
  /**
   * The CPU backend: always available. `blas` says which BLAS and kernels run: natively OpenBLAS (linked in)
   * with the best kernel family the CPU's features allow unless OPENBLAS_CORETYPE names one (README: BLAS
   * kernels); on WebAssembly the engine's own SIMD128 kernels.
   */
  cpu: { available: true; threads: number; blas: NativeBlasReport };
  cuda: NativeCudaReport;
}

/**
 * Folders searched for cuBLAS/cuSOLVER (and NCCL for distributed training) after the dynamic loader's own
 * search (LD_LIBRARY_PATH, ldconfig):
 * KBFGS_CUDA_LIBRARY_PATH (colon-separated), CUDA_PATH/CUDA_HOME, /usr/local/cuda, and the `nvidia/cu13/lib`,
 * `nvidia/cu12/lib` or per-library `nvidia/<lib>/lib` folders of pip wheels in the Python environments whose
 * `bin` is on PATH (a virtualenv or conda env) or named by VIRTUAL_ENV / CONDA_PREFIX.
 */
export function cudaLibrarySearchPath(env: Record<string, string | undefined> = process.env): string[] {
  const dirs: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && !dirs.includes(dir) && isDirectory(dir)) dirs.push(dir);
  };
  for (const dir of (env.KBFGS_CUDA_LIBRARY_PATH ?? '').split(path.delimiter)) add(dir);
  for (const root of [env.CUDA_PATH, env.CUDA_HOME, '/usr/local/cuda']) {
    if (!root) continue;
    add(path.join(root, 'lib64'));
    add(path.join(root, 'lib'));
  }
  const prefixes = new Set<string>();
  for (const prefix of [env.VIRTUAL_ENV, env.CONDA_PREFIX]) if (prefix) prefixes.add(prefix);
  for (const bin of (env.PATH ?? '').split(path.delimiter)) if (bin.endsWith(`${path.sep}bin`)) prefixes.add(path.dirname(bin));
  for (const prefix of prefixes) {
    for (const sitePackages of pythonSitePackages(prefix)) {
      const nvidia = path.join(sitePackages, 'nvidia');
      add(path.join(nvidia, 'cu13', 'lib'));
      add(path.join(nvidia, 'cu12', 'lib'));
      for (const lib of ['cublas', 'cusolver', 'cusparse', 'nvjitlink', 'nccl']) add(path.join(nvidia, lib, 'lib'));
    }
  }
  return dirs;
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function pythonSitePackages(prefix: string): string[] {
  const lib = path.join(prefix, 'lib');
  let entries: string[];
  try {
    entries = fs.readdirSync(lib);
  } catch {
    return [];
  }
  // site-packages in virtual environments and conda, dist-packages in Debian's system Python
  return entries.filter((name) => /^python3\.\d+$/.test(name))
    .flatMap((name) => ['site-packages', 'dist-packages'].map((folder) => path.join(lib, name, folder)));
}

let report: NativeCudaReport | undefined;

/** What this process can use. The CUDA search runs once, on the first call (or the first model on 'auto'/'cuda'). */
export function devices(): DevicesReport {
  report ??= addon.probeCuda(cudaLibrarySearchPath());
  return { engine: engineReport(), cpu: { available: true, threads: addon.threads(), blas: addon.blasKernels() }, cuda: report };
}

/** What computes on a device, in a few words for logs: "cpu: OpenBLAS 0.3.21, Zen kernels", "cuda: <GPU name>". */
export function engineSummary(device: BackendName): string {
  if (device === 'cuda') return `cuda: ${devices().cuda.devices[0]?.name ?? 'GPU'}`;
  const blas = addon.blasKernels();
  const where = engineReport().name === 'wasm' ? 'cpu (WebAssembly)' : 'cpu';
  return `${where}: ${[blas.library, blas.version].filter(Boolean).join(' ')}, ${blas.kernels} kernels`;
}

let warned = false;

/**
 * The backend a model asking for `requested` gets: 'cpu' or 'cuda', with the reason when 'auto' fell back to
 * the CPU (also emitted once per process as a Node warning, code KBFGS_CUDA_FALLBACK, unless `warn` is false:
 * the command line says it its own way).
 */
export function resolveDevice(requested: DeviceName, warn = true): { device: BackendName; fallbackReason?: string } {
  if (requested === 'cpu') return { device: 'cpu' };
  const { cuda } = devices();
  if (cuda.available) return { device: 'cuda' };
  if (requested === 'cuda') throw new DeviceError(`device 'cuda' is not available: ${cuda.reason}`);
  if (warn && !warned) {
    warned = true;
    process.emitWarning(`kbfgs-native: device 'auto' runs on the CPU: ${cuda.reason}`, { code: 'KBFGS_CUDA_FALLBACK' });
  }
  return { device: 'cpu', fallbackReason: cuda.reason };
}
