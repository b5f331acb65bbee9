/**
 * The frame grid of a file and the per-frame targets of its events: a frame
 * is active for a class when its centre lies inside an event of that class
 * (onset included, offset excluded). Frame boundaries lie halfway between
 * neighbouring centres; they are where predicted events start and stop.
 *
 * @module
 */
import { UserError } from "../../errors.ts";
import type { EventFile, SoundEvent } from "./strong_labels.ts";

/**
 * Boundaries (seconds) of frames centred at `timesMs`: `frames + 1` values,
 * halfway between centres, the first clamped at 0 and the outer ones half a
 * hop from the outer centres.
 *
 * @example
 * ```ts
 * frameBoundaries(Float64Array.of(15, 55, 95)); // [0, 0.035, 0.075, 0.115]
 * ```
 */
export function frameBoundaries(timesMs: ArrayLike<number>): Float64Array {
  const n = timesMs.length;
  const hop = n > 1 ? timesMs[n - 1]! - timesMs[n - 2]! : 40;
  const out = new Float64Array(n + 1);
  out[0] = Math.max(0, (timesMs[0]! - (n > 1 ? timesMs[1]! - timesMs[0]! : hop) / 2) / 1000);
  for (let k = 1; k < n; k++) out[k] = (timesMs[k - 1]! + timesMs[k]!) / 2000;
  out[n] = (timesMs[n - 1]! + hop / 2) / 1000;
  return out;
}

/**
 * Multi-hot targets `[frames, classes]` of `events` on frames centred at
 * `timesMs`.
 *
 * @example
 * ```ts
 * frameTargets([{ label: "a", onset: 0.05, offset: 0.1 }], Float64Array.of(15, 55, 95), ["a"]);
 * // Float32Array [0, 1, 1]
 * ```
 */
export function frameTargets(
  events: SoundEvent[],
  timesMs: ArrayLike<number>,
  classes: string[],
): Float32Array {
  const C = classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = new Float32Array(timesMs.length * C);
  for (const e of events) {
    const c = index.get(e.label);
    if (c === undefined) continue;
    for (let k = 0; k < timesMs.length; k++) {
      const t = timesMs[k]! / 1000;
      if (t >= e.onset && t < e.offset) y[k * C + c] = 1;
    }
  }
  return y;
}

/**
 * Refuses events that end after a file's audio: the embedding's frames
 * bound the duration, so an offset more than one hop past the last frame's
 * end boundary is outside the file (one line naming the TSV row).
 */
export function checkEventsInside(
  source: string,
  files: EventFile[],
  times: ArrayLike<number>[],
): void {
  files.forEach((f, i) => {
    const t = times[i]!;
    const b = frameBoundaries(t);
    const hop = b.length > 2 ? b[b.length - 1]! - b[b.length - 2]! : 0.04;
    const end = b[b.length - 1]! + hop;
    for (const e of f.events) {
      if (e.offset > end + 1e-9) {
        throw new UserError(
          `Strong labels '${source}' line ${e.line}: event '${e.label}' of '${f.path}' ends at ${e.offset} s, after the end of the audio (about ${
            b[b.length - 1]!.toFixed(2)
          } s)`,
        );
      }
    }
  });
}
