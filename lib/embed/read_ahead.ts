/**
 * The files of `embed` and `probe --model`, decoded and featurized ahead of
 * the encoder: while it runs on one group, workers decode and compute the
 * log-mel of the next ones (lib/features/featurize_pool.ts's `loadFile`,
 * the same function as in this thread, so the same bits). Results come in
 * input order; a file that fails is an InputError in its place.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { type AudioJob, audioPool, type AudioReply, loadFile } from "../features/featurize_pool.ts";
import type { MelConfig } from "../features/mel.ts";
import { orderedMap } from "../features/worker_pool.ts";
import type { FeatureClip } from "./pooling.ts";

/**
 * One file's features and its whole length, a long WAV left to be read by
 * range (with `streamAbove`), or why it failed.
 */
export type LoadedClip =
  | { clip: FeatureClip; seconds: number }
  | { streamed: true; seconds: number }
  | InputError;

/** Options of {@link ReadAhead}. */
export interface ReadAheadOptions {
  mel: MelConfig;
  /** Centre crop to at most this many seconds (clip mode); null: whole files. */
  maxSeconds: number | null;
  /** Files per group of the encoder: two groups are read ahead. */
  group: number;
  /**
   * Decoding workers (default: cores - 1, at least 1; 0: each file in turn,
   * on this thread). A single group is always read here: nothing to overlap.
   */
  workers?: number;
  /** WAVs longer than this many 16 kHz samples come back `streamed`, unread. */
  streamAbove?: number;
}

function toLoaded(path: string, r: AudioReply): LoadedClip {
  if ("error" in r) return new InputError(r.error.path, r.error.reason);
  if ("streamed" in r) return { streamed: true, seconds: r.seconds };
  if (!("features" in r)) throw new Error(`read-ahead: no features for '${path}'`);
  return { clip: r.features, seconds: r.seconds };
}

/**
 * The features of `paths`, one {@link next} call per file, in order.
 *
 * @example
 * ```ts
 * const ahead = new ReadAhead(["a.wav", "b.wav"], { mel: DEFAULT_MEL, maxSeconds: 12, group: 8 });
 * try { const first = await ahead.next(); } finally { ahead.close(); }
 * ```
 */
export class ReadAhead {
  #close: () => void = () => {};
  #results: AsyncGenerator<LoadedClip>;

  constructor(paths: string[], opts: ReadAheadOptions) {
    const { mel, maxSeconds } = opts;
    const jobs = paths.map((path): AudioJob => ({
      path,
      output: "features",
      mel,
      maxSeconds,
      requireAudio: true,
      streamAbove: opts.streamAbove,
    }));
    const workers = paths.length <= opts.group
      ? 0
      : opts.workers ?? Math.max(1, navigator.hardwareConcurrency - 1);
    if (workers === 0) {
      this.#results = (async function* () {
        for (const job of jobs) {
          try {
            yield toLoaded(job.path, await loadFile(job));
          } catch (err) {
            yield new InputError(job.path, err instanceof Error ? err.message : String(err));
          }
        }
      })();
      return;
    }
    const pool = audioPool(workers);
    this.#close = () => pool.close();
    const replies = orderedMap(pool, jobs, {
      ahead: 2 * opts.group,
      onError: (err, job) => ({ error: { path: job.path, reason: err.message.split("\n")[0]! } }),
    });
    this.#results = (async function* () {
      let i = 0;
      for await (const r of replies) yield toLoaded(jobs[i++]!.path, r);
    })();
  }

  /** The next file's features (in input order). */
  async next(): Promise<LoadedClip> {
    const r = await this.#results.next();
    if (r.done) throw new Error("read-ahead: no more files");
    return r.value;
  }

  /** Stops the workers. */
  close(): void {
    this.#close();
  }
}
