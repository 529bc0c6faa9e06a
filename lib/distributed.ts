/**
 * Data-parallel training over Open MPI (docs/algorithm.md §13): one process per rank, the same program on every
 * rank, each taking its share of every minibatch; the sums the methods need are added up over the ranks so that
 * every rank holds the same weights and optimizer state.
 */
import { addon, type BackendName, type NativeWorld } from './binding';
import { cudaLibrarySearchPath } from './devices';
import { InvalidArgumentError, native } from './errors';
import { describeValue } from './options';

/** This process's place in the MPI job. */
export type World = NativeWorld;

/** fit()'s `distributed` option, when given as an object (`true` takes the defaults). */
export interface DistributedOptions {
  /**
   * Who does each layer's curvature work (K-BFGS's H_a and H_g updates, KFAC's inversions): 'replicated'
   * (default), every rank for every layer; 'layer', each layer on one rank chosen by cost, the result broadcast
   * (KAISA's split). Both give the same weights. Shampoo and SOAP always replicate theirs.
   */
  curvature?: 'replicated' | 'layer';
  /** Seconds a rank waits for the others before fit() rejects with DistributedError. Default 60. */
  timeout?: number;
  /**
   * What carries the sums: 'auto' (default) NCCL for a CUDA model and MPI for a CPU model; 'mpi' always MPI
   * (a CUDA model's sums then pass through host memory); 'nccl' needs a CUDA model and libnccl.so.2.
   */
  engine?: 'auto' | 'mpi' | 'nccl';
}

let world: World | undefined;

/**
 * Starts MPI (once per process) and returns this process's rank and the number of ranks. Open MPI is loaded at
 * run time (libmpi.so.40, or the one file KBFGS_MPI_LIBRARY names); when it is missing this throws
 * DistributedError listing what was tried. fit() with `distributed` calls it itself. MPI is finalized when the
 * process exits.
 */
export function initDistributed(): World {
  if (world) return world;
  const joined = native(() => addon.distributedInit());
  world = joined;
  let stopped = false;
  process.on('exit', () => {
    if (stopped) return;  // the launcher is ending the job: MPI_Finalize would wait for ranks that are gone
    try {
      addon.distributedFinalize();
    } catch {
      // exiting anyway
    }
  });
  // mpirun ends the other ranks with SIGTERM when one dies: say so instead of vanishing (unless the program
  // handles SIGTERM itself).
  if (joined.size > 1 && process.listenerCount('SIGTERM') === 0) {
    process.once('SIGTERM', () => {
      stopped = true;
      process.stderr.write(`kbfgs-native: rank ${joined.rank} of ${joined.size} was stopped by the MPI launcher (SIGTERM): ` +
        'another rank ended or the job was cancelled\n');
      process.exit(143);
    });
  }
  return world;
}

/** The world initDistributed() joined, or undefined when this process does not train distributed. */
export function distributedWorld(): World | undefined {
  return world;
}

/** The native fit settings for fit()'s `distributed` option. */
export function distributedConfig(where: string, option: boolean | DistributedOptions | undefined, device: BackendName):
  { splitCurvature: boolean; distributedTimeout: number; distributedEngine: 'mpi' | 'nccl'; librarySearchPath: string[] } {
  if (option === undefined || option === false)
    return { splitCurvature: false, distributedTimeout: 0, distributedEngine: 'mpi', librarySearchPath: [] };
  // A plain object only: a Date, Map or array has no options of its own and would start MPI with the defaults.
  const plain = typeof option === 'object' && option !== null && [Object.prototype, null].includes(Object.getPrototypeOf(option));
  if (option !== true && !plain)
    throw new InvalidArgumentError(`${where}: distributed must be true, false or { curvature, timeout, engine }, got ${describeValue(option)}`);
  const { curvature = 'replicated', timeout = 60, engine = 'auto', ...rest } = option === true ? {} : option;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new InvalidArgumentError(`${where}: distributed has no option '${unknown[0]}' (curvature, timeout, engine)`);
  if (engine !== 'auto' && engine !== 'mpi' && engine !== 'nccl')
    throw new InvalidArgumentError(`${where}: distributed.engine must be 'auto', 'mpi' or 'nccl', got ${describeValue(engine)}`);
  if (engine === 'nccl' && device !== 'cuda')
    throw new InvalidArgumentError(`${where}: distributed.engine 'nccl' needs a model on device 'cuda' (this one is on the CPU)`);
  if (curvature !== 'replicated' && curvature !== 'layer')
    throw new InvalidArgumentError(`${where}: distributed.curvature must be 'replicated' or 'layer', got ${describeValue(curvature)}`);
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout))
    throw new InvalidArgumentError(`${where}: distributed.timeout must be a positive number of seconds, got ${describeValue(timeout)}`);
  initDistributed();
  const nccl = engine === 'nccl' || (engine === 'auto' && device === 'cuda');
  return { splitCurvature: curvature === 'layer', distributedTimeout: timeout, distributedEngine: nccl ? 'nccl' : 'mpi',
    librarySearchPath: nccl ? cudaLibrarySearchPath() : [] };
}
