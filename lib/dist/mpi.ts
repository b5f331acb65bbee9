/**
 * Open MPI through `Deno.dlopen` of `libmpi.so.40` (Debian `libopenmpi3`):
 * the few calls data-parallel training needs, behind the {@link Collective}
 * interface. Loaded only when a launcher started this process
 * (lib/dist/world.ts decides), so a plain run never needs the library.
 *
 * In Open MPI 4.1 the handles `MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, ...
 * are the addresses of exported globals (`ompi_mpi_comm_world`, ...), which
 * `Deno.dlopen` returns for statics declared `{ type: "pointer" }`.
 * `MPI_IN_PLACE` is `(void *) 1`. Every call blocks the event loop until
 * the collective completes, which is what a training step wants.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { Collective, ReduceOp } from "./world.ts";

const LIBRARY = "libmpi.so.40";

const SYMBOLS = {
  MPI_Init: { parameters: ["pointer", "pointer"], result: "i32" },
  MPI_Finalize: { parameters: [], result: "i32" },
  MPI_Abort: { parameters: ["pointer", "i32"], result: "i32" },
  MPI_Comm_rank: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Comm_size: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Comm_split_type: {
    parameters: ["pointer", "i32", "i32", "pointer", "buffer"],
    result: "i32",
  },
  MPI_Allreduce: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  MPI_Bcast: { parameters: ["buffer", "i32", "pointer", "i32", "pointer"], result: "i32" },
  MPI_Barrier: { parameters: ["pointer"], result: "i32" },
  ompi_mpi_comm_world: { type: "pointer" },
  ompi_mpi_float: { type: "pointer" },
  ompi_mpi_double: { type: "pointer" },
  ompi_mpi_byte: { type: "pointer" },
  ompi_mpi_op_sum: { type: "pointer" },
  ompi_mpi_op_min: { type: "pointer" },
  ompi_mpi_op_max: { type: "pointer" },
  ompi_mpi_info_null: { type: "pointer" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** `MPI_COMM_TYPE_SHARED` of Open MPI's mpi.h: ranks that share memory (one node). */
const COMM_TYPE_SHARED = 0;
/** Largest element count of one call (MPI counts are C ints). */
const MAX_COUNT = 2 ** 30;

/** MPI_COMM_WORLD over Open MPI; create with {@link openMpi}. */
class MpiWorld implements Collective {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly #lib: Lib;
  readonly #close: () => void;
  readonly #inPlace = Deno.UnsafePointer.create(1n);
  #finalized = false;

  constructor(dl: Deno.DynamicLibrary<typeof SYMBOLS>) {
    this.#lib = dl.symbols;
    this.#close = () => dl.close();
    const lib = this.#lib;
    this.#check(lib.MPI_Init(null, null), "MPI_Init");
    const world = lib.ompi_mpi_comm_world;
    this.rank = this.#intOut((p) => lib.MPI_Comm_rank(world, p), "MPI_Comm_rank");
    this.size = this.#intOut((p) => lib.MPI_Comm_size(world, p), "MPI_Comm_size");
    // The local rank is this rank's place among the ranks of its node.
    const node = new BigUint64Array(1);
    this.#check(
      lib.MPI_Comm_split_type(world, COMM_TYPE_SHARED, this.rank, lib.ompi_mpi_info_null, node),
      "MPI_Comm_split_type",
    );
    const nodeComm = Deno.UnsafePointer.create(node[0]!);
    this.localRank = this.#intOut((p) => lib.MPI_Comm_rank(nodeComm, p), "MPI_Comm_rank");
  }

  allreduce(buf: Float32Array | Float64Array, op: ReduceOp = "sum"): void {
    const lib = this.#lib;
    const type = buf instanceof Float32Array ? lib.ompi_mpi_float : lib.ompi_mpi_double;
    const ops = { sum: lib.ompi_mpi_op_sum, min: lib.ompi_mpi_op_min, max: lib.ompi_mpi_op_max };
    for (let at = 0; at < buf.length; at += MAX_COUNT) {
      const part = buf.subarray(at, Math.min(buf.length, at + MAX_COUNT));
      this.#check(
        lib.MPI_Allreduce(this.#inPlace, part, part.length, type, ops[op], lib.ompi_mpi_comm_world),
        "MPI_Allreduce",
      );
    }
  }

  broadcast(buf: Uint8Array, root = 0): void {
    const lib = this.#lib;
    this.#check(
      lib.MPI_Bcast(buf, buf.length, lib.ompi_mpi_byte, root, lib.ompi_mpi_comm_world),
      "MPI_Bcast",
    );
  }

  barrier(): void {
    this.#check(this.#lib.MPI_Barrier(this.#lib.ompi_mpi_comm_world), "MPI_Barrier");
  }

  abort(code: number): never {
    this.#lib.MPI_Abort(this.#lib.ompi_mpi_comm_world, code);
    Deno.exit(code); // not reached: MPI_Abort ends every rank
  }

  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#lib.MPI_Finalize();
    this.#close();
  }

  #intOut(call: (out: Int32Array) => number, name: string): number {
    const out = new Int32Array(1);
    this.#check(call(out), name);
    return out[0]!;
  }

  #check(status: number, name: string): void {
    // Open MPI's default error handler aborts the job before a non-zero status gets here.
    if (status !== 0) throw new Error(`${name} failed with MPI error ${status}`);
  }
}

/**
 * Initialises MPI and returns MPI_COMM_WORLD. `why` names the launcher
 * variable that made the caller ask, for the error when the library is
 * missing.
 *
 * @example
 * ```ts
 * const world = openMpi("OMPI_COMM_WORLD_SIZE=2");
 * world.allreduce(grads); // summed over ranks, in place
 * world.finalize();
 * ```
 */
export function openMpi(why: string): Collective {
  let dl: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    dl = Deno.dlopen(LIBRARY, SYMBOLS);
  } catch (err) {
    throw new UserError(
      `Started by an MPI launcher (${why}) but cannot load ${LIBRARY} ` +
        `(${
          (err as Error).message.split("\n")[0]
        }); install Open MPI (apt-get install libopenmpi3)`,
    );
  }
  return new MpiWorld(dl);
}
