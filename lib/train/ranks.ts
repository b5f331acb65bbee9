/**
 * What the ranks of a data-parallel run check together before and while
 * they train: that they were started with the same settings, that the run
 * directory is one filesystem they all see, and that their weights are
 * still the same. Each check is collective (every rank calls it at the same
 * point) and stops the job with one line, reported by rank 0.
 *
 * @module
 */
import { join } from "node:path";
import type { Tensor } from "../backend/tf.ts";
import { UserError } from "../errors.ts";
import { checksum, sameEverywhere } from "../dist/checksum.ts";
import { type Collective, sharedFailure } from "../dist/world.ts";
import { flagOf, settingHashes, type TrainConfig } from "./config.ts";

/**
 * Stops the job when the ranks' configs differ (naming each differing
 * flag) or when the ranks do not divide the global batch.
 */
export function checkSameSettings(world: Collective, cfg: TrainConfig): void {
  if (world.size === 1) return;
  const { keys, hashes } = settingHashes(cfg);
  const lo = Float64Array.from(hashes), hi = Float64Array.from(hashes);
  world.allreduce(lo, "min");
  world.allreduce(hi, "max");
  const differ = keys.filter((_, i) => lo[i] !== hi[i]).map(flagOf);
  if (differ.length) {
    throw sharedFailure(
      world,
      new UserError(
        `The ${world.size} ranks were started with different ${differ.join(", ")}; ` +
          `start every rank with the same flags`,
      ),
    );
  }
  if (cfg.batch % world.size !== 0) {
    throw sharedFailure(
      world,
      new UserError(
        `--batch ${cfg.batch} is the global batch and must be a multiple of the ` +
          `${world.size} ranks; use --batch ${Math.ceil(cfg.batch / world.size) * world.size}`,
      ),
    );
  }
}

/**
 * Stops the job unless every rank sees a file rank 0 writes into `runDir`
 * (ranks on nodes without a shared filesystem would each train alone on a
 * directory of their own).
 */
export async function checkSharedDir(world: Collective, runDir: string): Promise<void> {
  if (world.size === 1) return;
  const token = new Uint8Array(16);
  if (world.rank === 0) crypto.getRandomValues(token);
  world.broadcast(token);
  const hex = Array.from(token, (b) => b.toString(16).padStart(2, "0")).join("");
  const probe = join(runDir, `.atst-shared-${hex}`);
  if (world.rank === 0) {
    await Deno.mkdir(runDir, { recursive: true });
    await Deno.writeTextFile(probe, hex);
  }
  world.barrier();
  const seen = await Deno.readTextFile(probe).then((t) => t === hex, () => false);
  const first = Float64Array.of(seen ? world.size : world.rank);
  world.allreduce(first, "min");
  if (world.rank === 0) await Deno.remove(probe);
  if (first[0] !== world.size) {
    throw sharedFailure(
      world,
      new UserError(
        `Run directory '${runDir}' is not shared by all ranks (rank ${first[0]} cannot see ` +
          `what rank 0 writes there); put --run on a filesystem every node mounts`,
      ),
    );
  }
}

/** Stops the job when the ranks' training states differ after step `step`. */
export async function checkSameWeights(
  world: Collective,
  tensors: Iterable<Tensor>,
  step: number,
): Promise<void> {
  if (world.size === 1) return;
  if (!sameEverywhere(world, await checksum(tensors))) {
    throw sharedFailure(
      world,
      new UserError(
        `The ranks' weights differ after step ${step} (parameter checksums disagree); ` +
          `stopping (are all nodes running the same atst and backend?)`,
      ),
    );
  }
}
