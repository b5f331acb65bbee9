/**
 * One accelerator per rank. Under an MPI launcher each rank of a node gets
 * the GPU of its local rank, where the backend allows choosing one: the
 * CUDA runtime behind `@tensorflow/tfjs-node-gpu` reads
 * `CUDA_VISIBLE_DEVICES` when it starts, so setting it before the backend
 * loads pins the rank to one GPU. Deno's WebGPU picks its own adapter and
 * has no such switch (data-parallel training refuses it anyway); the CPU
 * backends need none.
 *
 * @module
 */
import type { Collective } from "./world.ts";

/**
 * Sets `CUDA_VISIBLE_DEVICES` to the local rank when several ranks run and
 * the user has not set it; returns what it set, or null. Call before the
 * backend is loaded. Assumes one rank per GPU on each node.
 *
 * @example
 * ```ts
 * const set = bindLocalDevice(world); // "1" on the second rank of a node
 * ```
 */
export function bindLocalDevice(world: Pick<Collective, "size" | "localRank">): string | null {
  if (world.size <= 1 || Deno.env.get("CUDA_VISIBLE_DEVICES") !== undefined) return null;
  const device = String(world.localRank);
  Deno.env.set("CUDA_VISIBLE_DEVICES", device);
  return device;
}
