/**
 * Frame probabilities -> events, as DCASE baselines decode them: a
 * threshold per frame, a median filter along time on the binary decisions
 * (scipy.ndimage.median_filter, `reflect` edges), then each run of active
 * frames becomes one event from its first frame's start boundary to its
 * last frame's end boundary.
 *
 * @module
 */
import { frameBoundaries } from "./frame_targets.ts";
import type { SoundEvent } from "./strong_labels.ts";

/** Decoding settings. */
export interface PostProcessing {
  /** A frame is active when its probability is at least this (default 0.5). */
  threshold: number;
  /** Median filter length in frames, odd (1 = no filter). */
  medianFrames: number;
}

/** Default decoding: threshold 0.5, median filter of about 280 ms. */
export const DEFAULT_THRESHOLD = 0.5;
/** Median filter length in milliseconds before rounding to whole frames. */
export const DEFAULT_MEDIAN_MS = 280;

/**
 * The odd number of frames closest to `ms` at frame hop `hopMs` (an even
 * round-off goes up by one, so the filter has a centre).
 *
 * @example
 * ```ts
 * medianFramesFor(280, 40); // 7
 * ```
 */
export function medianFramesFor(ms: number, hopMs: number): number {
  const n = Math.max(1, Math.round(ms / hopMs));
  return n % 2 === 1 ? n : n + 1;
}

/**
 * Median filter of a 0/1 sequence with an odd `width` and scipy's
 * `reflect` edges (`d c b a | a b c d | d c b a`); for binary input the
 * median is the majority.
 *
 * @example
 * ```ts
 * medianFilterBinary(Uint8Array.of(0, 1, 0, 0, 1, 1, 1), 3); // [0, 0, 0, 0, 1, 1, 1]
 * ```
 */
export function medianFilterBinary(x: Uint8Array, width: number): Uint8Array {
  if (width % 2 !== 1) throw new Error(`Median filter width must be odd, got ${width}`);
  const n = x.length;
  const half = (width - 1) / 2;
  const at = (i: number): number => {
    // Reflect about the outer edges until inside (several times for short inputs).
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return x[i]!;
  };
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let ones = 0;
    for (let k = -half; k <= half; k++) ones += at(i + k);
    out[i] = ones > half ? 1 : 0;
  }
  return out;
}

/**
 * Events of one file from its frame probabilities `[frames, classes]` on
 * frames centred at `timesMs`, sorted by onset then label.
 *
 * @example
 * ```ts
 * decodeEvents(Float32Array.of(0.1, 0.9, 0.8, 0.2), Float64Array.of(15, 55, 95, 135), ["a"], {
 *   threshold: 0.5, medianFrames: 1,
 * }); // [{ label: "a", onset: 0.035, offset: 0.115 }]
 * ```
 */
export function decodeEvents(
  probs: Float32Array,
  timesMs: ArrayLike<number>,
  classes: string[],
  pp: PostProcessing,
): SoundEvent[] {
  const n = timesMs.length;
  const C = classes.length;
  const bounds = frameBoundaries(timesMs);
  const events: SoundEvent[] = [];
  const active = new Uint8Array(n);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < n; k++) active[k] = probs[k * C + c]! >= pp.threshold ? 1 : 0;
    const smooth = pp.medianFrames > 1 ? medianFilterBinary(active, pp.medianFrames) : active;
    let start = -1;
    for (let k = 0; k <= n; k++) {
      const on = k < n && smooth[k] === 1;
      if (on && start < 0) start = k;
      if (!on && start >= 0) {
        events.push({ label: classes[c]!, onset: bounds[start]!, offset: bounds[k]! });
        start = -1;
      }
    }
  }
  return events.sort((a, b) => a.onset - b.onset || (a.label < b.label ? -1 : 1));
}
