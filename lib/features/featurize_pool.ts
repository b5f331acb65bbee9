/**
 * Featurizes many files, in this thread or on a pool of workers, yielding
 * results in input order (so JSON Lines output is deterministic whatever
 * the parallelism); and writes one file's features as `.npy`.
 *
 * @module
 */
import { InputError, UserError } from "../errors.ts";
import { loadAudio } from "../audio/load.ts";
import { writeNpy } from "../io/npy.ts";
import { DEFAULT_MEL, type Features, logMel, type MelConfig } from "./mel.ts";

/** One file's outcome: features, or the InputError that stopped it. */
export type FeaturizeResult =
  | { index: number; ok: true; sourceRate: number; channels: number; features: Features }
  | { index: number; ok: false; error: InputError };

type WorkerReply =
  & { id: number }
  & (
    | { sourceRate: number; channels: number; data: Float32Array; nMels: number; frames: number }
    | { error: { path: string; reason: string } }
    | { internal: string }
  );

async function featurizeHere(
  path: string,
  index: number,
  mel: MelConfig,
): Promise<FeaturizeResult> {
  try {
    const { samples, sourceRate, channels } = await loadAudio(path);
    return { index, ok: true, sourceRate, channels, features: logMel(samples, mel) };
  } catch (err) {
    if (err instanceof InputError) return { index, ok: false, error: err };
    throw err;
  }
}

/**
 * Yields one result per path, in order. `jobs` > 1 decodes and computes
 * features on that many workers, each given the next file when it is free
 * (at most 4 * jobs results held back for ordering). Errors other than
 * InputError are rethrown.
 *
 * @example
 * ```ts
 * for await (const r of featurizeFiles(["a.wav", "b.mp3"], { jobs: 2 })) {
 *   if (r.ok) console.log(r.index, r.features.frames);
 * }
 * ```
 */
export async function* featurizeFiles(
  paths: string[],
  opts: { jobs?: number; mel?: MelConfig } = {},
): AsyncGenerator<FeaturizeResult> {
  const mel = opts.mel ?? DEFAULT_MEL;
  const jobs = Math.max(1, Math.min(opts.jobs ?? 1, paths.length));
  if (jobs === 1) {
    for (const [i, p] of paths.entries()) yield await featurizeHere(p, i, mel);
    return;
  }
  const workers = Array.from(
    { length: jobs },
    () => new Worker(new URL("./featurize_worker.ts", import.meta.url), { type: "module" }),
  );
  const results: Promise<FeaturizeResult>[] = [];
  const settle = new Map<number, (r: FeaturizeResult) => void>();
  const failures: unknown[] = [];
  const idle = [...workers];
  let next = 0, cursor = 0;
  // Keep every worker busy, but never run far ahead of what has been yielded.
  const pump = () => {
    while (idle.length && next < paths.length && next < cursor + 4 * jobs) {
      const id = next++;
      results[id] = new Promise((resolve) => settle.set(id, resolve));
      idle.pop()!.postMessage({ id, path: paths[id], mel });
    }
  };
  const finish = (worker: Worker, r: FeaturizeResult) => {
    settle.get(r.index)?.(r);
    settle.delete(r.index);
    idle.push(worker);
    pump();
  };
  for (const w of workers) {
    w.onmessage = (e: MessageEvent<WorkerReply>) => {
      const msg = e.data, index = msg.id;
      if ("internal" in msg) {
        failures.push(new Error(`Worker failed on '${paths[index]}': ${msg.internal}`));
        finish(w, { index, ok: false, error: new InputError(paths[index]!, "internal error") });
      } else if ("error" in msg) {
        finish(w, { index, ok: false, error: new InputError(msg.error.path, msg.error.reason) });
      } else {
        const { sourceRate, channels, data, nMels, frames } = msg;
        finish(w, { index, ok: true, sourceRate, channels, features: { data, nMels, frames } });
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      failures.push(new Error(`Featurize worker crashed: ${e.message}`));
      for (const [index, resolve] of settle) {
        resolve({ index, ok: false, error: new InputError(paths[index]!, "internal error") });
      }
      settle.clear();
    };
  }
  try {
    pump();
    for (; cursor < paths.length; cursor++) {
      const r = await results[cursor]!;
      delete results[cursor];
      if (failures.length) throw failures[0];
      pump();
      yield r;
    }
  } finally {
    for (const w of workers) w.terminate();
  }
}

/**
 * Writes `features` to `path` as a [64, T] float32 `.npy` (atomically). A
 * failure stops the batch with a UserError naming the file: the output
 * folder, not the input, is at fault.
 *
 * @example
 * ```ts
 * if (r.ok) await writeFeaturesNpy("feats/a.npy", r.features);
 * ```
 */
export async function writeFeaturesNpy(path: string, features: Features): Promise<void> {
  const shape = [features.nMels, features.frames]; // [64, T]
  await writeNpy(path, { shape, data: features.data }).catch((err) => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UserError(`Cannot write '${path}': ${reason}`);
  });
}
