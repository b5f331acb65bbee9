/**
 * A cheap fingerprint of a set of tensors, compared across ranks to catch
 * ranks whose weights have drifted apart (they must stay bit-identical:
 * every rank applies the same averaged gradients to the same weights).
 *
 * @module
 */
import type { Tensor } from "../backend/tf.ts";
import type { Collective } from "./world.ts";

/**
 * Two 32-bit hashes (FNV-1a and a multiply-rotate one) of the bits of every
 * value, in the order given; equal tensors give equal checksums.
 */
export async function checksum(tensors: Iterable<Tensor>): Promise<[number, number]> {
  let a = 0x811c9dc5, b = 0x9e3779b9;
  for (const t of tensors) {
    const f = await t.data();
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    for (let i = 0; i < bits.length; i++) {
      const v = bits[i]!;
      a = Math.imul(a ^ v, 0x01000193);
      b = Math.imul((b << 5) | (b >>> 27), 0x85ebca6b) ^ v;
    }
  }
  return [a >>> 0, b >>> 0];
}

/**
 * Whether every rank holds the same checksum (two allreduces: the minimum
 * and the maximum over the ranks).
 *
 * @example
 * ```ts
 * if (!sameEverywhere(world, await checksum(params))) throw new Error("ranks differ");
 * ```
 */
export function sameEverywhere(world: Collective, sum: [number, number]): boolean {
  if (world.size === 1) return true;
  const lo = Float64Array.from(sum), hi = Float64Array.from(sum);
  world.allreduce(lo, "min");
  world.allreduce(hi, "max");
  return lo[0] === hi[0] && lo[1] === hi[1];
}
