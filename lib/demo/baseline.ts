/**
 * The demo's baseline (a): no learned model at all, each clip summarised by
 * the mean and standard deviation over time of every log-mel bin of the
 * features ATST itself consumes (lib/features/mel.ts), giving a
 * 2 x 64 = 128-d vector. A learned encoder has to beat this to be worth its
 * cost.
 *
 * @module
 */
import { loadAudio } from "../audio/load.ts";
import { DEFAULT_MEL, type Features, logMel } from "../features/mel.ts";

/** Length of the baseline vector: mean then std of each of the 64 mel bins. */
export const BASELINE_DIM = 2 * DEFAULT_MEL.nMels;

/**
 * Mean and (population) standard deviation over frames of each mel bin of
 * `features` (`[nMels, T]` row-major): `[mean_0..mean_{M-1}, std_0..std_{M-1}]`.
 *
 * @example
 * ```ts
 * const vec = meanStdPool(logMel(samples)); // Float32Array(128)
 * ```
 */
export function meanStdPool(features: Features): Float32Array {
  const { data, nMels, frames } = features;
  if (frames < 1) throw new Error("Cannot pool features with no frames");
  const out = new Float32Array(2 * nMels);
  for (let m = 0; m < nMels; m++) {
    let sum = 0;
    for (let t = 0; t < frames; t++) sum += data[m * frames + t]!;
    const mean = sum / frames;
    let sq = 0;
    for (let t = 0; t < frames; t++) sq += (data[m * frames + t]! - mean) ** 2;
    out[m] = mean;
    out[nMels + m] = Math.sqrt(sq / frames);
  }
  return out;
}

/**
 * Baseline vectors of `paths`, row-major `[paths.length, 128]`. Loading
 * errors propagate (the demo's clips are known-good).
 */
export async function baselineFeatures(paths: string[]): Promise<Float32Array> {
  const out = new Float32Array(paths.length * BASELINE_DIM);
  for (const [i, path] of paths.entries()) {
    const { samples } = await loadAudio(path);
    out.set(meanStdPool(logMel(samples)), i * BASELINE_DIM);
  }
  return out;
}
