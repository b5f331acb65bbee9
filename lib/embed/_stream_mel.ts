/**
 * Log-mel features of a whole clip read a range of frames at a time, equal
 * to the same frames of `logMel(samples)` (the top_db floor from the max
 * over the whole clip, REFERENCE.md §8.2) without holding all of them:
 * one pass finds the clip's maximum power, then each range is computed
 * from just the samples its windows read. The samples may themselves be
 * read by range (lib/audio/load.ts `openAudio`), so an hour-long WAV is
 * never held: the first pass reads it once, each range again.
 *
 * @module
 */
import { type MelConfig, melPower, numFrames, powerToDb, scaleDb } from "../features/mel.ts";
import type { FeatureSource } from "./frame_pooling.ts";

/** Mono 16 kHz samples readable by range (an `AudioSource`, or an array). */
export interface SampleRange {
  readonly length: number;
  read(start: number, end: number): Float32Array;
}

/** Frames per range in the first pass (the frame family's chunk). */
const PASS_FRAMES = 1001;

/**
 * A {@link FeatureSource} over mono 16 kHz samples.
 *
 * @example
 * ```ts
 * const src = new StreamedLogMel(await openAudio("hour.wav"), DEFAULT_MEL);
 * const first = src.read(0, Math.min(1001, src.frames)); // [64, width]
 * ```
 */
export class StreamedLogMel implements FeatureSource {
  readonly frames: number;
  readonly nMels: number;
  #samples: SampleRange;
  #cfg: MelConfig;
  #maxPower = -Infinity;

  constructor(samples: Float32Array | SampleRange, cfg: MelConfig) {
    if (samples.length === 0) throw new RangeError("Cannot compute features of an empty clip");
    const array = samples instanceof Float32Array ? samples : null;
    this.#samples = array
      ? { length: array.length, read: (a, b) => array.subarray(a, b) }
      : samples as SampleRange;
    this.#cfg = cfg;
    this.nMels = cfg.nMels;
    this.frames = numFrames(samples.length, cfg);
    for (let s = 0; s < this.frames; s += PASS_FRAMES) {
      const p = this.#power(s, Math.min(PASS_FRAMES, this.frames - s));
      for (let i = 0; i < p.length; i++) if (p[i]! > this.#maxPower) this.#maxPower = p[i]!;
    }
  }

  /** Frames [start, start + width) as [nMels, width] row-major float32. */
  read(start: number, width: number): Float32Array {
    if (start < 0 || width < 0 || start + width > this.frames) {
      throw new RangeError(`Frames [${start}, ${start + width}) outside the clip's ${this.frames}`);
    }
    const power = this.#power(start, width);
    // The clip's maximum rides along as one extra value, so powerToDb (the one dB
    // implementation) clamps at the whole clip's floor, not this range's.
    const withMax = new Float64Array(power.length + 1);
    withMax.set(power);
    withMax[power.length] = this.#maxPower;
    powerToDb(withMax, this.#cfg);
    return scaleDb(withMax.subarray(0, power.length), this.#cfg);
  }

  /**
   * Mel power of frames [start, start + width), [nMels, width]: melPower on
   * the samples those windows read, starting a whole number of hops before
   * the first, so each window sees the same samples as in the whole clip.
   * Reflection at a cut edge only touches frames that are dropped.
   */
  #power(start: number, width: number): Float64Array {
    const { hop, nFft, nMels } = this.#cfg;
    const n = this.#samples.length, half = nFft / 2;
    const lead = Math.ceil(half / hop); // frames whose windows reach before the cut
    const first = Math.max(0, start - lead);
    const a = first * hop;
    const b = Math.min(n, (start + width - 1) * hop + half + hop);
    // Near the start (or for short clips) the whole head is used, as logMel does.
    const seg = this.#samples.read(a, b);
    const { power, frames } = melPower(seg, this.#cfg);
    const off = start - first;
    const out = new Float64Array(nMels * width);
    for (let m = 0; m < nMels; m++) {
      out.set(power.subarray(m * frames + off, m * frames + off + width), m * width);
    }
    return out;
  }
}
