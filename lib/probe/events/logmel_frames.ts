/**
 * The no-model baseline for the events probe: the log-mel features ATST
 * consumes (lib/features/mel.ts), averaged over each group of 4 frames (one
 * 40 ms encoder patch), so the baseline has the encoder's frame rate and
 * timestamps (patch centres, 40 k + 15 ms) and is probed the same way.
 *
 * @module
 */
import { DEFAULT_MEL, logMel } from "../../features/mel.ts";
import type { FrameEmbedding } from "../../embed/pooling.ts";

/** Mel frames per baseline frame: one encoder patch. */
export const PATCH_FRAMES = 4;

/**
 * Patch-rate log-mel frames of 16 kHz `samples`: `[floor(T / 4), 64]`,
 * each row the mean of 4 consecutive mel frames, in the embed frame layout.
 *
 * @example
 * ```ts
 * const f = logMelFrames(new Float32Array(16000)); // 25 frames of 64 values
 * f.timesMs[0]; // 15
 * ```
 */
export function logMelFrames(samples: Float32Array): FrameEmbedding {
  const mel = logMel(samples, DEFAULT_MEL);
  const M = mel.nMels;
  const frames = Math.floor(mel.frames / PATCH_FRAMES);
  const data = new Float32Array(frames * M);
  for (let k = 0; k < frames; k++) {
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let j = 0; j < PATCH_FRAMES; j++) s += mel.data[m * mel.frames + k * PATCH_FRAMES + j]!;
      data[k * M + m] = s / PATCH_FRAMES;
    }
  }
  const timesMs = Float64Array.from(
    { length: frames },
    (_, k) => (k * PATCH_FRAMES + (PATCH_FRAMES - 1) / 2) * 10,
  );
  return { data, frames, dim: M, timesMs };
}
