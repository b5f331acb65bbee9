/**
 * Featurizes many files, in this thread or on a pool of workers, yielding
 * results in input order (so JSON Lines output is deterministic whatever
 * the parallelism); the one per-file job every audio pool runs
 * ({@link loadFile}); and writes one file's features as `.npy`.
 *
 * @module
 */
import { InputError, UserError } from "../errors.ts";
import { longCompressed, openAudio } from "../audio/load.ts";
import { writeNpy } from "../io/npy.ts";
import { DEFAULT_MEL, type Features, logMel, type MelConfig } from "./mel.ts";
import { orderedMap, WorkerPool } from "./worker_pool.ts";

/** One file's outcome: features, or the InputError that stopped it. */
export type FeaturizeResult =
  | { index: number; ok: true; sourceRate: number; channels: number; features: Features }
  | { index: number; ok: false; error: InputError };

/** One file for an audio pool: decode it, and compute its log-mel unless only samples are wanted. */
export interface AudioJob {
  path: string;
  /** "samples": the 16 kHz samples; "features": their log-mel. */
  output: "samples" | "features";
  mel?: MelConfig;
  /** Centre crop to at most this many seconds before the log-mel (the embed protocol). */
  maxSeconds?: number | null;
  /** A file without samples is an error (rather than empty output). */
  requireAudio?: boolean;
  /**
   * A WAV longer than this many 16 kHz samples is not read: the reply says
   * `streamed`, and the caller reads it by range (lib/audio/load.ts `openAudio`).
   */
  streamAbove?: number;
  /**
   * The caller reads `streamed` files in order only (the cache build): then a
   * long FLAC, MP3, Ogg Vorbis or Opus file (load.ts `longCompressed`) is not
   * decoded either, and comes back `streamed` with NaN for what its header
   * does not say.
   */
  sequential?: boolean;
}

/** What {@link loadFile} gives back: `seconds` is the whole file's length at 16 kHz. */
export type AudioReply =
  | { sourceRate: number; channels: number; seconds: number; samples: Float32Array }
  | { sourceRate: number; channels: number; seconds: number; features: Features }
  | { sourceRate: number; channels: number; seconds: number; streamed: true }
  | { error: { path: string; reason: string } };

/**
 * Does `job` in this thread (workers call the same function). An unreadable
 * file is an `{ error }` reply; anything else that goes wrong is thrown.
 *
 * @example
 * ```ts
 * const r = await loadFile({ path: "a.wav", output: "features" });
 * if ("features" in r) console.log(r.features.frames);
 * ```
 */
export async function loadFile(job: AudioJob): Promise<AudioReply> {
  const mel = job.mel ?? DEFAULT_MEL;
  try {
    const long = job.sequential && job.streamAbove !== undefined
      ? longCompressed(job.path, job.streamAbove)
      : null;
    if (long) {
      return {
        sourceRate: NaN,
        channels: NaN,
        seconds: (long.length ?? NaN) / mel.sampleRate,
        streamed: true,
      };
    }
    // A WAV is read by range: only the part used (a centre crop) is ever decoded.
    const src = await openAudio(job.path);
    const n = src.length;
    const base = {
      sourceRate: src.sourceRate,
      channels: src.channels,
      seconds: n / mel.sampleRate,
    };
    if (job.requireAudio && n === 0) {
      throw new InputError(job.path, "the file holds no audio samples");
    }
    if (job.streamAbove !== undefined && src.streamed && n > job.streamAbove) {
      return { ...base, streamed: true };
    }
    if (job.output === "samples") return { ...base, samples: src.read(0, n) };
    let start = 0, end = n;
    if (job.maxSeconds !== undefined && job.maxSeconds !== null) {
      const keep = Math.floor(job.maxSeconds * mel.sampleRate);
      // The reference's centre crop: start = (N - max) // 2, no padding.
      if (n > keep) {
        start = Math.floor((n - keep) / 2);
        end = start + keep;
      }
    }
    return { ...base, features: logMel(src.read(start, end), mel) };
  } catch (err) {
    if (err instanceof InputError) return { error: { path: err.path, reason: err.reason } };
    throw err;
  }
}

/**
 * Files one worker should have before another is worth starting. A fresh
 * worker spends about 0.2 s of CPU before it runs at full speed (V8
 * compiling the decoder, resampler and mel code again in its own isolate,
 * the resampling kernels of each source rate); loading its modules is only
 * about 20 ms. A clip costs about 1.1 ms of CPU per second of audio, so
 * the warm-up is a few dozen clips' work: `atst featurize` on 48 WAVs of
 * 4 s took the same wall time with 2 workers as on its own thread on 2
 * cores (0.36 against 0.38 s), on 200 of them 0.81 against 1.15 s.
 */
export const FILES_PER_WORKER = 48;

/**
 * The default worker count for `fileCount` files: one per
 * {@link FILES_PER_WORKER} files, at least 1 (this thread only) and at most
 * `cores`.
 *
 * @example
 * ```ts
 * defaultJobs(7, 8); // 1: a handful of files stays on this thread
 * defaultJobs(1000, 8); // 8
 * ```
 */
export function defaultJobs(fileCount: number, cores = navigator.hardwareConcurrency): number {
  return Math.max(1, Math.min(cores, Math.floor(fileCount / FILES_PER_WORKER)));
}

/** A pool of `jobs` audio workers (lib/features/featurize_worker.ts). */
export function audioPool(jobs: number): WorkerPool<AudioJob, AudioReply> {
  return new WorkerPool(new URL("./featurize_worker.ts", import.meta.url), jobs);
}

/**
 * {@link loadFile} over `jobs`, replies in order: on this thread when
 * `workers` <= 1, else on an {@link audioPool} of that many.
 *
 * @example
 * ```ts
 * for await (const r of loadFiles([{ path: "a.wav", output: "samples" }], 1)) console.log(r);
 * ```
 */
export async function* loadFiles(jobs: AudioJob[], workers: number): AsyncGenerator<AudioReply> {
  if (workers <= 1) {
    for (const job of jobs) yield await loadFile(job);
    return;
  }
  const pool = audioPool(workers);
  try {
    yield* orderedMap(pool, jobs);
  } finally {
    pool.close();
  }
}

function toResult(index: number, r: AudioReply): FeaturizeResult {
  if ("error" in r) {
    return { index, ok: false, error: new InputError(r.error.path, r.error.reason) };
  }
  if (!("features" in r)) throw new Error("featurize: a worker returned samples");
  return { index, ok: true, sourceRate: r.sourceRate, channels: r.channels, features: r.features };
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
  const job = (path: string): AudioJob => ({ path, output: "features", mel });
  let i = 0;
  for await (const r of loadFiles(paths.map(job), jobs)) yield toResult(i++, r);
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
