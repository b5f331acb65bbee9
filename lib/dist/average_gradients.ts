/**
 * Data-parallel gradient averaging: the gradients of one step, packed into
 * a few flat float32 buffers (buckets of at most {@link BUCKET_FLOATS}
 * values), each summed over the ranks by one allreduce and divided by
 * their number. One call per bucket instead of one per tensor: the
 * per-call latency of MPI dominates for the many small tensors of a
 * transformer (norms, biases).
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import type { Collective } from "./world.ts";

/** Values per allreduce buffer: 32 MiB, large enough to reach the link's bandwidth. */
export const BUCKET_FLOATS = 8 * 1024 * 1024;

/** What {@link averageGradients} moved: buffers (allreduce calls), bytes and milliseconds. */
export interface AllreduceStats {
  calls: number;
  bytes: number;
  ms: number;
}

/**
 * The mean over all ranks of each gradient in `grads` (same names, new
 * tensors; the caller disposes both). Ranks must pass the same names in
 * the same order with the same shapes.
 *
 * @example
 * ```ts
 * const { grads: mean } = averageGradients(grads, world);
 * optimizer.update(mean, lr, wd);
 * ```
 */
export function averageGradients(
  grads: Record<string, Tensor>,
  world: Collective,
  opts: { bucketFloats?: number } = {},
): { grads: Record<string, Tensor>; stats: AllreduceStats } {
  const limit = opts.bucketFloats ?? BUCKET_FLOATS;
  const names = Object.keys(grads);
  const out: Record<string, Tensor> = {};
  const stats: AllreduceStats = { calls: 0, bytes: 0, ms: 0 };
  for (let i = 0; i < names.length;) {
    // One bucket: consecutive tensors up to `limit` values (a larger tensor goes alone).
    const bucket: string[] = [];
    let floats = 0;
    while (i < names.length && (bucket.length === 0 || floats + grads[names[i]!]!.size <= limit)) {
      floats += grads[names[i]!]!.size;
      bucket.push(names[i++]!);
    }
    const flat = tf.tidy(() => tf.concat(bucket.map((n) => tf.reshape(grads[n]!, [-1])))); // [floats]
    // A copy: the backend may hand out its own storage.
    const buf = Float32Array.from(flat.dataSync() as Float32Array);
    flat.dispose();
    const t0 = performance.now();
    world.allreduce(buf);
    stats.ms += performance.now() - t0;
    stats.calls++;
    stats.bytes += buf.byteLength;
    const scale = 1 / world.size;
    for (let k = 0; k < buf.length; k++) buf[k]! *= scale;
    let at = 0;
    for (const n of bucket) {
      const g = grads[n]!;
      out[n] = tf.tensor(buf.subarray(at, at + g.size), g.shape, "float32");
      at += g.size;
    }
  }
  return { grads: out, stats };
}
