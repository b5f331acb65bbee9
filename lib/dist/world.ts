/**
 * The processes of one data-parallel job, as training sees them: rank,
 * size, local rank and the collectives. A process started without an MPI
 * launcher is the {@link SOLO} world of one rank, whose collectives are
 * no-ops, and never loads an MPI library; under `mpirun` or `srun` it is
 * MPI_COMM_WORLD (lib/dist/mpi.ts).
 *
 * @module
 */

/** Reduction of {@link Collective.allreduce}. */
export type ReduceOp = "sum" | "min" | "max";

/** The ranks of one job and the collectives they run together. */
export interface Collective {
  /** This process's rank, 0..size-1. */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  /** Rank among the ranks on this node (picks the node's device). */
  readonly localRank: number;
  /** Replaces `buf` on every rank by its elementwise reduction over all ranks. */
  allreduce(buf: Float32Array | Float64Array, op?: ReduceOp): void;
  /** Copies `root`'s `buf` into every rank's `buf` (same length everywhere). */
  broadcast(buf: Uint8Array, root?: number): void;
  /** Returns when every rank has called it. */
  barrier(): void;
  /** Ends every rank of the job with `code` (for a failure only this rank saw). */
  abort(code: number): never;
  /** Leaves the job; the last call before a clean exit. */
  finalize(): void;
}

/** The world of a process started without a launcher: one rank, no communication. */
export const SOLO: Collective = {
  rank: 0,
  size: 1,
  localRank: 0,
  allreduce() {},
  broadcast() {},
  barrier() {},
  abort(code: number): never {
    Deno.exit(code);
  },
  finalize() {},
};

/**
 * Variables by which a launcher tells a process it is one rank of a job:
 * Open MPI's `mpirun` (and the Kubernetes MPI Operator, which runs it),
 * PMIx (Slurm `srun --mpi=pmix`, `prterun`) and PMI-2 (`srun --mpi=pmi2`).
 */
const LAUNCHER_VARS = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"] as const;

/** The launcher variable of this process's environment, as `NAME=value`, or null. */
export function launcherVariable(env: (name: string) => string | undefined): string | null {
  for (const name of LAUNCHER_VARS) {
    const v = env(name);
    if (v !== undefined) return `${name}=${v}`;
  }
  return null;
}

/**
 * This process's world: {@link SOLO} without a launcher, else
 * MPI_COMM_WORLD after `MPI_Init` (rank, size and local rank from MPI).
 *
 * @example
 * ```ts
 * const world = await openWorld();
 * if (world.rank === 0) console.error(`${world.size} ranks`);
 * ```
 */
export async function openWorld(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<Collective> {
  const why = launcherVariable(env);
  if (!why) return SOLO;
  const { openMpi } = await import("./mpi.ts");
  return openMpi(why);
}

/**
 * Thrown on the ranks that stop because of a failure another rank reports:
 * they exit with the same code without printing, so that the job says one
 * line, not one per rank.
 */
export class QuietExit extends Error {
  override name = "QuietExit";
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

const agreed = new WeakSet<object>();

/**
 * For a failure every rank meets at the same point of the run (a global
 * value that is bad everywhere): rank 0 gets `err` back to throw and
 * report, the other ranks a {@link QuietExit}. Both are marked as agreed,
 * so the command finalizes MPI instead of aborting the job.
 */
export function sharedFailure(world: Collective, err: Error & { exitCode?: number }): Error {
  const out = world.rank === 0 ? err : new QuietExit(err.exitCode ?? 2);
  agreed.add(out);
  return out;
}

/** Whether `err` came from {@link sharedFailure} or {@link agree} (every rank stops with it). */
export function isShared(err: unknown): boolean {
  return typeof err === "object" && err !== null && agreed.has(err);
}

/**
 * Runs a phase without collectives inside (data preparation, checkpoint
 * writing) on every rank, then agrees on its outcome: when any rank
 * failed, the lowest failing rank throws its own error (to report) and
 * the others a {@link QuietExit}.
 */
export async function agree<T>(world: Collective, phase: () => Promise<T>): Promise<T> {
  let result: T | undefined, error: unknown = null;
  try {
    result = await phase();
  } catch (err) {
    error = err;
  }
  if (world.size === 1) {
    if (error) throw error;
    return result as T;
  }
  const first = Float64Array.of(error ? world.rank : world.size);
  world.allreduce(first, "min");
  if (first[0] === world.size) return result as T;
  const reporter = first[0] === world.rank;
  const code = Float64Array.of(reporter ? exitCodeOfError(error) : 0);
  world.allreduce(code, "max");
  const out = reporter ? toError(error) : new QuietExit(code[0]!);
  agreed.add(out);
  throw out;
}

function exitCodeOfError(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === "number" ? code : 3;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
