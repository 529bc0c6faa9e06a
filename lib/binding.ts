/** The typed native module. Nothing outside this file touches the addon untyped. */
import * as path from 'path';
import { KbfgsError } from './errors';
import { loadWasmEngine, wasmEngineDir } from './wasm-engine';
import type { NativeLayer } from './layers';

export type { NativeLayer } from './layers';

/** The backends a model runs on, as the engine names them (native/core/names.h). */
export const BACKENDS = ['cpu', 'cuda'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** A convolution's input image and kernel, for the image ops of the backend test surface. */
export interface NativePatchShape {
  channels: number; height: number; width: number; channelsFirst: boolean;
  kernelH: number; kernelW: number; stride: number; padding: number; bias: boolean;
}
/** A pooling window over a height-major image; kind 0 none (copy), 1 max, 2 average. */
export interface NativePoolShape {
  kind: number; channels: number; height: number; width: number; sizeH: number; sizeW: number; strideH: number; strideW: number;
}

export interface NativeEpochEvent {
  type: 'epoch';
  /** The training thread waits until resume() is called. */
  awaited: boolean;
  epoch: number;
  loss: number;
  batchLoss: number;
  valLoss: number;
  /** NaN where the loss defines no class decision. */
  accuracy: number;
  valAccuracy: number;
  seconds: number;
  steps: number;
  /** The epoch ended before its last batch: a budget or a stop ended training in it. */
  partial: boolean;
  /** The budget that ends training after this epoch ('timeBudget' or 'maxSteps'), or ''. */
  stoppedBy: '' | 'timeBudget' | 'maxSteps';
  diagnostics: Record<string, number>;
  /** lr (and damping) as the native optimizer holds them at the epoch's end. */
  hyperparameters: Record<string, number>;
}

export interface NativeBatchEvent {
  type: 'batch';
  awaited: boolean;
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
}

/** Row-major inputs and targets (null: the targets are the inputs) of `rows` samples. */
export interface NativeData {
  x: Float32Array;
  y: Float32Array | null;
  rows: number;
}

/** The MPI world this process belongs to. */
export interface NativeWorld {
  rank: number;
  size: number;
  /** The Open MPI library file that was loaded, and its version string. */
  library: string;
  version: string;
}

export interface NativeFitConfig {
  epochs: number;
  batchSize: number;
  /** 0: one pass of the data per epoch. */
  stepsPerEpoch: number;
  /** Seconds; 0: none. */
  timeBudget: number;
  /** Steps; 0: none. */
  maxSteps: number;
  /** Rows of the epoch's training loss, spread over the data; 0: all. */
  trainingLossRows: number;
  /** Batches of a method's warm start; 0: one pass. */
  warmStartBatches: number;
  shuffle: boolean;
  seed: number;
  batchEvents: boolean;
  awaitBatchEvents: boolean;
  awaitEpochEvents: boolean;
  skipNonFinite: boolean;
  /** Data-parallel training: each layer's curvature work on one rank, broadcast (lib/distributed.ts). */
  splitCurvature: boolean;
  /** Seconds a wait for the other ranks may last; 0: not distributed. */
  distributedTimeout: number;
  /** What carries a distributed fit's sums, and where NCCL is looked for. */
  distributedEngine: 'mpi' | 'nccl';
  librarySearchPath: string[];
  threads: number;
}

export interface NativeOptimizer {
  id: string;
  kind: string;
  paper: boolean;
  settings: Record<string, number>;
  /** What the trainer does around every step (algorithm.md §15): clipNorm, warmupSteps, totalSteps, minFactor. */
  rules: Record<string, number>;
}

export interface NativeModelInfo {
  paramCount: number;
  steps: number;
  epochs: number;
  seconds: number;
  backend: string;
  threads: number;
  /** lr (and damping) of the attached optimizer as the native state holds them; empty before the first fit. */
  hyperparameters: Record<string, number>;
}

/** The optimizer and training state of a model, as checkpoints store it. */
export interface NativeTrainingState {
  optimizerId: string;
  batchCapacity: number;
  trainRows: number;
  step: number;
  epochs: number;
  seconds: number;
  warm: boolean;
  /** Training passes of the network so far: where dropout masks go on (absent in older checkpoints). */
  dropoutPasses?: number;
  buffers: Record<string, Float32Array>;
  scalars: Record<string, number>;
  sampler: { order: Uint32Array; position: number; shuffle: boolean; rng: string };
}

export interface NativeModel {
  fit(options: {
    train: NativeData;
    validation: NativeData | null;
    config: NativeFitConfig;
    optimizer: NativeOptimizer;
    onEvent: (event: NativeEpochEvent | NativeBatchEvent) => void;
  }): Promise<void>;
  cancel(): void;
  /** The callback of the awaited event has returned; stop: training should end after it. */
  resume(stop: boolean): void;
  /** 'lr' or 'damping', between fits or while training waits for a callback. */
  setHyperparameter(name: string, value: number): void;
  evaluate(x: Float32Array, y: Float32Array | null, rows: number): Promise<{ loss: number; accuracy: number }>;
  predict(x: Float32Array, rows: number, logits: boolean): Promise<Float32Array>;
  getWeights(): Float32Array;
  setWeights(weights: Float32Array): void;
  gradients(x: Float32Array, y: Float32Array | null, rows: number): { loss: number; gradient: Float32Array };
  info(): NativeModelInfo;
  exportState(): NativeTrainingState | null;
  importState(optimizer: NativeOptimizer, state: Omit<NativeTrainingState, 'optimizerId'>): void;
  dispose(): void;
}

/** core/first_order_rule.h's FirstOrderUpdate, field by field. */
export interface FirstOrderUpdateSettings {
  kind: number;
  paper?: boolean;
  lr: number;
  /** Paper: ρ of the gradient EMA (every method); PyTorch SGD: heavy-ball momentum; PyTorch RMSprop: buffer momentum. */
  momentum?: number;
  /** PyTorch Adam: decay of the first moment. */
  beta1?: number;
  /** Decay of the running mean of squares: Adam's β₂, RMSprop's α. */
  squareDecay?: number;
  eps?: number;
  weightDecay?: number;
  dampening?: number;
  nesterov?: boolean;
  /** PyTorch semantics: weightDecay shrinks θ beside the step instead of entering the gradient (AdamW). */
  decoupled?: boolean;
  firstStep?: boolean;
  step?: number;
}

/** What the CUDA search found (lib/devices.ts); every field is filled whether or not CUDA is usable. */
export interface NativeCudaReport {
  /** The addon holds the CUDA module (it was built where nvcc was found). */
  compiled: boolean;
  /** A GPU, its driver, cuBLAS and cuSOLVER were all found: device 'cuda' works. */
  available: boolean;
  /** Why CUDA is not available ('' when it is). */
  reason: string;
  /** CUDA runtime linked into the addon, e.g. 13000 for 13.0; 0 without the CUDA module. */
  runtimeVersion: number;
  /** Highest CUDA version the installed driver supports; 0 without a driver. */
  driverVersion: number;
  devices: { index: number; name: string; memoryBytes: number; computeCapability: string }[];
  cublas: { path: string; version: string } | null;
  cusolver: { path: string; version: string } | null;
  /** Folders searched after the dynamic loader's own search. */
  searched: string[];
  /** Libraries or symbols that could not be found. */
  missing: string[];
}

/** A CPU as the BLAS kernel choice sees it (native/cpu/blas_kernels.h). */
export interface NativeCpuDescription {
  arch: string;
  vendor: string;
  family: number;
  model: number;
  /** Linux /proc/cpuinfo names; instruction sets the operating system does not enable are left out. */
  features: string[];
}

/** The BLAS library of the CPU backend and the kernel family it runs. */
export interface NativeBlasReport {
  library: string;
  version: string;
  /** openblas_get_config(). */
  config: string;
  /** A DYNAMIC_ARCH build: its kernel family can be chosen at run time. */
  switchable: boolean;
  /** The kernel family in use, as OpenBLAS names it. */
  kernels: string;
  /** What OpenBLAS picked by itself from the CPU model at load time. */
  openblasChoice: string;
  /**
   * Who decided: OpenBLAS's model list, the CPU's features, the user's OPENBLAS_CORETYPE, the program, or the
   * build (the WebAssembly engine has one kernel family).
   */
  chosenBy: 'openblas' | 'features' | 'OPENBLAS_CORETYPE' | 'caller' | 'build';
  reason: string;
  cpu: NativeCpuDescription;
  /** The families of this OpenBLAS that this CPU can execute, least capable first. */
  executable: string[];
  /**
   * The convolutions' direct kernels: the oneDNN found at run time ("oneDNN 2.6.3 (libdnnl.so.2)"), or why
   * none is used (algorithm.md §12.7).
   */
  convolutions: string;
}

/** Every Backend operation on Float32Arrays (row-major), for tests and diagnostics. */
export interface NativeBackendOps {
  name: string;
  gemm(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  syrk(trans: boolean, n: number, k: number, alpha: number, a: Float32Array, lda: number, beta: number,
    c: Float32Array, ldc: number): void;
  gemv(trans: boolean, m: number, n: number, alpha: number, a: Float32Array, lda: number, x: Float32Array,
    beta: number, y: Float32Array): void;
  ger(m: number, n: number, alpha: number, x: Float32Array, y: Float32Array, a: Float32Array, lda: number): void;
  potrf(n: number, a: Float32Array): number;
  potri(n: number, a: Float32Array): number;
  potrs(n: number, nrhs: number, l: Float32Array, b: Float32Array): number;
  /** A = Eᵀ diag(w) E: the rows of a become unit eigenvectors, w the eigenvalues ascending; LAPACK's info. */
  symmetricEigen(n: number, a: Float32Array, w: Float32Array): number;
  activationForward(act: number, h: Float32Array, m: number, d: number, out: Float32Array): void;
  activationBackward(act: number, h: Float32Array, m: number, d: number, g: Float32Array): void;
  loss(kind: number, z: Float32Array, t: Float32Array, m: number, d: number, grad: Float32Array | null): number;
  /** Σ_i loss_i² over the m rows (the divergence safeguard's noise estimate, algorithm.md §11.2). */
  lossSquareSum(kind: number, z: Float32Array, t: Float32Array, m: number, d: number): number;
  columnMean(a: Float32Array, m: number, cols: number, out: Float32Array): void;
  im2col(shape: NativePatchShape, x: Float32Array, m: number, patches: Float32Array): void;
  col2im(shape: NativePatchShape, dpatches: Float32Array, ld: number, m: number, dx: Float32Array): void;
  /** A convolution's passes as the conv2d layer runs them (algorithm.md §12.6): h = P̄ Wᵀ with P̄ kept in patches
   * (null: formed a chunk at a time and dropped); dw = alpha Gᵀ P̄ from kept patches (given the images x too, a
   * direct kernel may read them instead, §12.7), or from the images with the patches formed again (or that
   * kernel); dx = im2col's adjoint of G W[:, :n−1]. W is d x n, n = kernelH·kernelW·channels + 1. */
  convForward(shape: NativePatchShape, x: Float32Array, m: number, w: Float32Array, d: number, patches: Float32Array | null,
    h: Float32Array): void;
  convBackwardWeights(shape: NativePatchShape, g: Float32Array, patches: Float32Array, m: number, d: number,
    alpha: number, dw: Float32Array, x?: Float32Array | null): void;
  convBackwardWeightsFromImages(shape: NativePatchShape, g: Float32Array, x: Float32Array, m: number, d: number,
    alpha: number, dw: Float32Array): void;
  convBackwardData(shape: NativePatchShape, g: Float32Array, m: number, w: Float32Array, d: number, dx: Float32Array): void;
  poolForward(shape: NativePoolShape, x: Float32Array, m: number, y: Float32Array, ldy: number): void;
  poolBackward(shape: NativePoolShape, x: Float32Array, dy: Float32Array, lddy: number, m: number, dx: Float32Array): void;
  firstOrderUpdate(settings: FirstOrderUpdateSettings, theta: Float32Array, grad: Float32Array, m: Float32Array,
    v: Float32Array): void;
  trsmUpper(trans: boolean, k: number, ncols: number, r: Float32Array, ldr: number, b: Float32Array, ldb: number): void;
  dot(n: number, x: Float32Array, y: Float32Array): number;
  axpby(n: number, alpha: number, x: Float32Array, beta: number, y: Float32Array): void;
  link(kind: number, z: Float32Array, m: number, d: number, out: Float32Array): void;
  lossGradient(kind: number, z: Float32Array, t: Float32Array, m: number, d: number, grad: Float32Array): void;
  sampleTargets(kind: number, z: Float32Array, m: number, d: number, seed: number, out: Float32Array): void;
  /** sampleTargets into out, then lossGradient against them into grad (fused where a backend can). */
  sampledGradient(kind: number, z: Float32Array, m: number, d: number, seed: number, out: Float32Array,
    grad: Float32Array): void;
  /**
   * sampledGradient with the seed splitmix64(c), c the 64-bit counter in the bits of counter[0..1] (low word
   * first), which then becomes c + 1 (KFAC's draws on a recorded GPU step).
   */
  sampledGradientCounted(kind: number, z: Float32Array, m: number, d: number, counter: Float32Array, out: Float32Array,
    grad: Float32Array): void;
  sumSquares(x: Float32Array): number;
  /** Σ_i A[i][i] for i < n (A n x n with stride lda), summed in double. */
  trace(a: Float32Array, n: number, lda: number): number;
  firstNonFinite(x: Float32Array): number;
  /** flag[0] = 1 if x holds a NaN or an infinity; flag[0] is left as it is otherwise. */
  markNonFinite(x: Float32Array, flag: Float32Array): void;
  addDiagonal(a: Float32Array, n: number, lda: number, value: number): void;
  addDiagonalFrom(a: Float32Array, n: number, lda: number, src: Float32Array, stride: number): void;
  gatherRows(dst: Float32Array, ldDst: number, src: Float32Array, cols: number, rows: Uint32Array): void;
  setColumn(a: Float32Array, rows: number, ld: number, col: number, value: number): void;
  /** Backend::copy of n values from offset src to offset dst of x (the ranges may overlap). */
  copyWithin(x: Float32Array, dst: number, src: number, n: number): void;
  fill(x: Float32Array, value: number): void;
  gradientMomentum(rho: number, tau: number, theta: Float32Array, grad: Float32Array, m: Float32Array): void;
  runningMeanOfSquares(j: number, tau: number, theta: Float32Array, grad: Float32Array, v: Float32Array): void;
  /** Double damping of (s, y) in place given hy = H y; gate[0] = 1 when degenerate; counts[0..1] += Powell, LM. */
  dampPair(d: number, s: Float32Array, y: Float32Array, hy: Float32Array, mu1: number, mu2: number, gate: Float32Array,
    counts: Float32Array): void;
  /** The guarded BFGS inverse update of H (n x n); skipped[0] += 1 when the pair is not used. */
  bfgsUpdate(n: number, h: Float32Array, s: Float32Array, y: Float32Array, hy: Float32Array, ref: Float32Array,
    threshold: number, gate: Float32Array | null, skipped: Float32Array): void;
  /**
   * K-BFGS(L)'s memory: unless gate[0] != 0, keeps (s, y) when sᵀs is finite and yᵀs > threshold·sᵀs·‖ref‖, as
   * row size[0] of S and Y (memory x d), dropping the oldest row when full; size[0] grows; else skipped[0] += 1.
   */
  lbfgsAppend(d: number, memory: number, S: Float32Array, Y: Float32Array, s: Float32Array, y: Float32Array, ref: Float32Array,
    threshold: number, gate: Float32Array | null, size: Float32Array, skipped: Float32Array): void;
  /** A[i][i] = value for count[0] <= i < n. */
  padDiagonal(a: Float32Array, n: number, lda: number, count: Float32Array, value: number): void;
  // The token layers' operations (algorithm.md §18.9); rows of width values, each buffer with its row stride.
  copyRows(src: Float32Array, ldSrc: number, dst: Float32Array, ldDst: number, rows: number, width: number): void;
  addRows(a: Float32Array, lda: number, b: Float32Array, ldb: number, out: Float32Array, ldo: number, rows: number, width: number): void;
  multiplyRows(a: Float32Array, lda: number, b: Float32Array, ldb: number, out: Float32Array, ldo: number, rows: number,
    width: number): void;
  /** The index r·cols + c of the first id that is not a whole number in [0, classes), or −1. */
  firstBadId(ids: Float32Array, rows: number, cols: number, ld: number, classes: number): number;
  oneHot(ids: Float32Array, classes: number, out: Float32Array): void;
  embeddingForward(shape: NativeEmbeddingShape, ids: Float32Array, ldIds: number, m: number, w: Float32Array, abar: Float32Array,
    h: Float32Array, out: Float32Array, ldo: number): void;
  embeddingWeightGradient(shape: NativeEmbeddingShape, ids: Float32Array, ldIds: number, m: number, abar: Float32Array,
    g: Float32Array, ldg: number, scale: number, weightGrad: Float32Array): void;
  layerNormForward(x: Float32Array, ldx: number, rows: number, width: number, w: Float32Array, xhat: Float32Array,
    invStd: Float32Array, y: Float32Array, ldy: number): void;
  layerNormBackward(g: Float32Array, ldg: number, xhat: Float32Array, invStd: Float32Array, rows: number, width: number,
    w: Float32Array, batch: number, weightGrad: Float32Array | null, dx: Float32Array | null, lddx: number): void;
  attentionForward(shape: NativeAttentionShape, qkv: Float32Array, ld: number, m: number, P: Float32Array, out: Float32Array,
    ldo: number): void;
  attentionBackward(shape: NativeAttentionShape, qkv: Float32Array, ld: number, P: Float32Array, dout: Float32Array,
    lddout: number, m: number, dqkv: Float32Array, lddqkv: number): void;
  /** Mask values 0 (probability rate) or 1/(1 − rate), numbered from first, for the pass count in counter[0..1]. */
  dropoutMask(rate: number, seed: number, counter: Float32Array, first: number, mask: Float32Array): void;
  /** The 64-bit counter in the bits of counter[0..1] (low word first) + 1. */
  advanceCounter(counter: Float32Array): void;
}

/** An embedding's shape for backendOps (algorithm.md §18.1): W is width x (vocabulary + tokens if positional + 1). */
export interface NativeEmbeddingShape {
  vocabulary: number;
  tokens: number;
  width: number;
  positional: boolean;
}

/** Causal attention's shape for backendOps (algorithm.md §18.4): input rows [q | k | v] of heads·headWidth each. */
export interface NativeAttentionShape {
  tokens: number;
  heads: number;
  headWidth: number;
}

/** The curvature building blocks of native/optim on Float32Arrays, for tests. */
export interface NativeCurvatureOps {
  bfgsUpdate(h: Float32Array, n: number, s: Float32Array, y: Float32Array, refNorm: number): boolean;
  doubleDamping(h: Float32Array, d: number, s: Float32Array, y: Float32Array, mu2: number): { powell: boolean; lm: boolean; degenerate: boolean };
  /** fixedShape: the products over all `memory` rows, the unused ones padded (as on a GPU, optim/lbfgs.h). */
  lbfgsApply(d: number, memory: number, s: Float32Array, y: Float32Array, k: number, refNorm: number, v: Float32Array,
    ncols: number, fixedShape: boolean): { out: Float32Array; size: number };
}

export interface NativeAddon {
  NativeModel: new (spec: { layers: NativeLayer[]; loss: string; seed: number; device: BackendName; tf32: boolean }) => NativeModel;
  /** The CPU backend's ops. */
  backend: NativeBackendOps;
  /** The ops of a named backend; 'cuda' throws a KBFGS_DEVICE error where CUDA is not available. */
  backendOps(device: BackendName, tf32?: boolean): NativeBackendOps;
  /** Searches for a GPU and the CUDA libraries once (later calls return the first report). */
  probeCuda(searchDirs: string[]): NativeCudaReport;
  curvature: NativeCurvatureOps;
  /** The output [height, width] of a convolution over an image [channels, height, width], or the engine's InvalidArgument error. */
  convGeometry(where: string, image: [number, number, number], kernelH: number, kernelW: number, stride: number, padding: number): [number, number];
  /** The output [height, width] of a pooling window over an image, or the engine's InvalidArgument error. */
  poolGeometry(where: string, image: [number, number, number], sizeH: number, sizeW: number, strideH: number, strideW: number): [number, number];
  blasKernels(): NativeBlasReport;
  /** Runs this kernel family from now on (only while no BLAS call is in flight); returns the family in use. */
  useBlasKernels(family: string): string;
  /** The kernel choice rule on a recorded CPU. */
  chooseBlasKernels(cpu: Omit<NativeCpuDescription, 'family' | 'model'>, openblasVersion: string, openblasChoice: string):
    { kernels: string; replaces: boolean; reason: string; executable: string[] };
  /** Sets the OpenBLAS thread count when given one; returns the current count. */
  threads(count?: number): number;
  distributedInit(): NativeWorld;
  distributedFinalize(): void;
}

/** The two builds of the one engine: the native addon (OpenBLAS, CUDA) and the WebAssembly module. */
export type EngineName = 'native' | 'wasm';
export const ENGINES = ['auto', 'native', 'wasm'] as const;
export type EngineChoice = (typeof ENGINES)[number];

/** Which engine this process runs, and why. */
export interface EngineReport {
  name: EngineName;
  reason: string;
}

const ROOT = path.join(__dirname, '..');

// The package root is one level above both lib/ (tests) and dist/ (the published build). node-gyp-build
// loads a local build (build/Release) when there is one, else the prebuilt binary in prebuilds/.
// KBFGS_ADDON names another build of the addon (the sanitizer build of scripts/sanitize.sh, the arm64 binary
// of the install test).
function loadNativeAddon(): NativeAddon {
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (process.env.KBFGS_ADDON) return require(process.env.KBFGS_ADDON) as NativeAddon;
  return require('node-gyp-build')(ROOT) as NativeAddon;
  /* eslint-enable @typescript-eslint/no-require-imports */
}

function loadWasmAddon(): NativeAddon {
  const dir = wasmEngineDir(ROOT);
  if (!dir) throw new Error('the WebAssembly engine is not in this installation (wasm/kbfgs_native.wasm; `npm run build:wasm` builds it)');
  return loadWasmEngine(dir) as NativeAddon;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}

let requested: EngineChoice | undefined;
let loaded: { addon: NativeAddon; report: EngineReport } | undefined;

// KBFGS_ENGINE=native|wasm (or useEngine()) forces an engine; otherwise the native addon where one loads, and
// the WebAssembly engine where none does (no prebuilt binary for the platform, installed with --ignore-scripts
// or after a failed build). Without either, loading says what to do.
function load(): { addon: NativeAddon; report: EngineReport } {
  if (loaded) return loaded;
  const fromEnv = process.env.KBFGS_ENGINE;
  if (requested === undefined && fromEnv !== undefined && fromEnv !== '' && !(ENGINES as readonly string[]).includes(fromEnv))
    throw new KbfgsError(`KBFGS_ENGINE must be one of ${ENGINES.join(', ')}, not '${fromEnv}'`);
  const choice: EngineChoice = requested ?? ((fromEnv || 'auto') as EngineChoice);
  const forcedBy = requested !== undefined ? `useEngine('${choice}')` : `KBFGS_ENGINE=${choice}`;
  const platform = `${process.platform}-${process.arch}`;
  if (choice === 'native') {
    try {
      loaded = { addon: loadNativeAddon(), report: { name: 'native', reason: `forced by ${forcedBy}` } };
    } catch (error) {
      throw new KbfgsError(`kbfgs-native: the native engine (forced by ${forcedBy}) did not load on ${platform} ` +
        `(${firstLine(error)})`);
    }
  } else if (choice === 'wasm') {
    try {
      loaded = { addon: loadWasmAddon(), report: { name: 'wasm', reason: `forced by ${forcedBy}` } };
    } catch (error) {
      throw new KbfgsError(`kbfgs-native: the WebAssembly engine (forced by ${forcedBy}) did not load: ${firstLine(error)}`);
    }
  } else {
    let nativeFailure: string;
    try {
      loaded = { addon: loadNativeAddon(), report: { name: 'native', reason: `the native addon loaded for ${platform}` } };
      return loaded;
    } catch (error) {
      nativeFailure = firstLine(error);
    }
    try {
      loaded = { addon: loadWasmAddon(), report: { name: 'wasm', reason: `no native addon loaded for ${platform} (${nativeFailure})` } };
    } catch (error) {
      throw new KbfgsError(`kbfgs-native: no native addon for ${platform} (${nativeFailure}), and the WebAssembly ` +
        `engine did not load either (${firstLine(error)}). Prebuilt binaries exist for linux-x64 and linux-arm64 ` +
        'with glibc; elsewhere install a C++ compiler, CMake and OpenBLAS and run `npm rebuild kbfgs-native` to ' +
        'build it from source (README: Installing the package).');
    }
  }
  return loaded;
}

/**
 * Chooses the engine before the first use ('auto': the native addon where one loads, else WebAssembly); it
 * overrides KBFGS_ENGINE. Once an engine runs, asking for the other one throws: a process runs one engine.
 */
export function useEngine(engine: EngineChoice): void {
  if (!(ENGINES as readonly string[]).includes(engine))
    throw new KbfgsError(`engine must be one of ${ENGINES.join(', ')}, not '${String(engine)}'`);
  if (loaded && engine !== 'auto' && engine !== loaded.report.name)
    throw new KbfgsError(`the ${loaded.report.name} engine already runs in this process (${loaded.report.reason}); ` +
      `useEngine('${engine}') must come before the first model or native call`);
  if (!loaded) requested = engine;
}

/** The engine this process runs (loading it if nothing has yet). */
export function engineReport(): EngineReport {
  return { ...load().report };
}

/** The engine's module, loaded on first use. */
export const addon: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_target, key) => (load().addon as unknown as Record<string | symbol, unknown>)[key],
  has: (_target, key) => key in (load().addon as object),
});
