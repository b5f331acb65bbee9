/**
 * `<run>/config.json`: written first by a new run; a resumed run must ask
 * for the recipe it holds.
 *
 * @module
 */
import { join } from "node:path";
import { exists, writeFileAtomic } from "../io/atomic.ts";
import { UserError } from "../errors.ts";
import { recipeDiff, type TrainConfig } from "./config.ts";

/** Writes `runDir/config.json`, or checks a stored one asks for the same recipe. */
export async function writeOrCheckConfig(runDir: string, cfg: TrainConfig): Promise<void> {
  const cfgPath = join(runDir, "config.json");
  if (await exists(cfgPath)) {
    const stored = JSON.parse(await Deno.readTextFile(cfgPath)) as TrainConfig;
    // A run made before families existed is ATST-Clip.
    stored.encoder = { ...stored.encoder, family: stored.encoder.family ?? "clip" };
    const diff = recipeDiff(stored, cfg);
    if (diff.length) {
      throw new UserError(
        `Run directory '${runDir}' holds a run with other settings (${diff.join(", ")}); ` +
          `rerun with the same flags to resume, or use a new --run directory`,
      );
    }
  } else {
    await writeFileAtomic(cfgPath, JSON.stringify(cfg, null, 2) + "\n");
  }
}
