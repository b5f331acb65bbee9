/**
 * The data of the demo's event-detection step: long mixtures built from the
 * demo's labeled clips (spoken prompts), each clip trimmed to its speech and
 * placed at a seeded time in low-passed background noise, with the strong
 * labels of where speech starts and stops (one class, `speech`). The same
 * seed builds the same mixtures on any machine.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { loadAudio, TARGET_RATE } from "../audio/load.ts";
import type { SoundEvent } from "../probe/events/strong_labels.ts";

/** The event class of the mixtures. */
export const SPEECH = "speech";

/** Sizes of a set of mixtures. */
export interface MixtureOptions {
  files: number;
  seconds: number;
  seed: number;
}

/** One mixture: 16 kHz samples and its speech events (sorted, not overlapping). */
export interface Mixture {
  samples: Float32Array;
  events: SoundEvent[];
}

// Background RMS; each clip is scaled to a seeded SNR over it, so loudness alone does not
// separate the clips from each other (the prompts are recorded at different levels).
const NOISE_RMS = 0.01;
const SNR_DB: [number, number] = [6, 20];
// Seconds of background before the first clip and between clips.
const GAP: [number, number] = [0.5, 3];

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/**
 * `samples` without the leading and trailing 10 ms frames quieter than
 * `belowPeakDb` under the loudest frame: a studio prompt's silent edges, so
 * its event starts and ends with the speech.
 *
 * @example
 * ```ts
 * const x = new Float32Array(3200); x.fill(0.5, 800, 2400);
 * trimSilence(x).length; // 1600
 * ```
 */
export function trimSilence(samples: Float32Array, belowPeakDb = 40): Float32Array {
  const hop = TARGET_RATE / 100;
  const frames = Math.floor(samples.length / hop);
  const level = Array.from({ length: frames }, (_, k) => rms(samples, k * hop, (k + 1) * hop));
  const floor = Math.max(0, ...level) * 10 ** (-belowPeakDb / 20);
  const first = level.findIndex((v) => v > floor);
  if (first < 0) return samples.subarray(0, 0);
  const last = level.findLastIndex((v) => v > floor);
  return samples.subarray(first * hop, (last + 1) * hop);
}

/**
 * Mixes `clips` (16 kHz, already trimmed) into `opts.files` mixtures of
 * `opts.seconds` each: background noise throughout, clips taken in a seeded
 * order (cycling when all are used) and laid end to end with seeded gaps,
 * each ending at least 0.3 s before the end of its file.
 */
export function mixClips(clips: Float32Array[], opts: MixtureOptions): Mixture[] {
  const rng = new Rng(opts.seed);
  const order = rng.shuffle(clips.map((_, i) => i));
  const n = Math.round(opts.seconds * TARGET_RATE);
  let next = 0;
  const out: Mixture[] = [];
  for (let f = 0; f < opts.files; f++) {
    const x = new Float32Array(n);
    let lp = 0;
    for (let k = 0; k < n; k++) {
      lp = 0.95 * lp + 0.05 * rng.normal(); // low-passed, as tools/event_set.ts's background
      x[k] = lp;
    }
    const g = NOISE_RMS / rms(x);
    for (let k = 0; k < n; k++) x[k]! *= g;
    const events: SoundEvent[] = [];
    let t = rng.uniform(...GAP);
    // A clip too long for the space left is passed over; a few in a row end the file.
    for (let misses = 0; misses < 8;) {
      const clip = clips[order[next++ % order.length]!]!;
      const onset = Math.round(t * 1000) / 1000;
      const start = Math.round(onset * TARGET_RATE);
      if (start + clip.length > n - 0.3 * TARGET_RATE) {
        misses++;
        continue;
      }
      const gain = (NOISE_RMS * 10 ** (rng.uniform(...SNR_DB) / 20)) / rms(clip);
      for (let k = 0; k < clip.length; k++) x[start + k]! += gain * clip[k]!;
      const offset = Math.round(((start + clip.length) / TARGET_RATE) * 1000) / 1000;
      events.push({ label: SPEECH, onset, offset });
      misses = 0;
      t = offset + rng.uniform(...GAP);
    }
    out.push({ samples: x, events });
  }
  return out;
}

/** Loads `paths` (any rate; resampled to 16 kHz) and trims each to its speech. */
export async function loadTrimmed(paths: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of paths) out.push(trimSilence((await loadAudio(p)).samples));
  return out.filter((c) => c.length > 0);
}

/**
 * Loudness of `samples` every `hopMs` (RMS in dB), mapped to 0..1 from the
 * quietest tenth of its frames (the background) to its loudest: the level
 * lane of the activity figure.
 */
export function levelCurve(samples: Float32Array, hopMs = 40): number[] {
  const hop = Math.round((TARGET_RATE * hopMs) / 1000);
  const db = Array.from(
    { length: Math.floor(samples.length / hop) },
    (_, k) => 20 * Math.log10(rms(samples, k * hop, (k + 1) * hop) + 1e-9),
  );
  const sorted = [...db].sort((a, b) => a - b);
  const lo = sorted[Math.floor(sorted.length / 10)] ?? 0, hi = sorted.at(-1) ?? 0;
  return db.map((v) => (hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0));
}
