/**
 * ATST log-mel features (REFERENCE.md §1): torchaudio `MelSpectrogram`
 * (periodic Hann, centre reflect padding, power 2, HTK mel, no filter
 * normalisation), `AmplitudeToDB(power, top_db=80)` over the whole clip,
 * then min-max scaling with the reference's fixed constants. Pure
 * TypeScript; float64 inside, float32 out.
 *
 * @module
 */
import { RealFft } from "./fft.ts";

/** Front-end settings. {@link DEFAULT_MEL} holds the reference values. */
export interface MelConfig {
  sampleRate: number;
  nFft: number;
  winLength: number;
  hop: number;
  nMels: number;
  fMin: number;
  fMax: number;
  /** Dynamic range kept below the clip's maximum, in dB. */
  topDb: number;
  /** dB values mapped to -1 and +1 (the reference's MinMax constants). */
  scaleMin: number;
  scaleMax: number;
}

/** The reference front end (audiossl ATST): 64 mel bands, 10 ms hop at 16 kHz. */
export const DEFAULT_MEL: MelConfig = Object.freeze({
  sampleRate: 16000,
  nFft: 1024,
  winLength: 1024,
  hop: 160,
  nMels: 64,
  fMin: 60,
  fMax: 7800,
  topDb: 80,
  scaleMin: -79.6482,
  scaleMax: 50.6842,
});

/** Log-mel features of one clip: `data` is [nMels, frames], row-major. */
export interface Features {
  data: Float32Array;
  nMels: number;
  frames: number;
}

/** Floor applied to power before the log (torchaudio's `amin`). */
const AMIN = 1e-10;

/** Triangular filters as sparse rows: filter m covers bins [start[m], start[m] + weights[m].length). */
export interface MelFilterbank {
  start: Int32Array;
  weights: Float64Array[];
  /** Row lengths and all rows back to back, for the inner loop. */
  length: Int32Array;
  flat: Float64Array;
}

const HZ_TO_MEL = (f: number) => 2595 * Math.log10(1 + f / 700);
const MEL_TO_HZ = (m: number) => 700 * (10 ** (m / 2595) - 1);

/**
 * HTK mel filterbank on `nFft/2 + 1` bins linearly spaced from 0 to
 * sampleRate/2, torchaudio `melscale_fbanks(norm=None, mel_scale="htk")`.
 */
export function melFilterbank(cfg: MelConfig = DEFAULT_MEL): MelFilterbank {
  const nFreqs = cfg.nFft / 2 + 1;
  const mMin = HZ_TO_MEL(cfg.fMin), mMax = HZ_TO_MEL(cfg.fMax);
  const pts = Array.from(
    { length: cfg.nMels + 2 },
    (_, i) => MEL_TO_HZ(mMin + ((mMax - mMin) * i) / (cfg.nMels + 1)),
  );
  const start = new Int32Array(cfg.nMels);
  const weights: Float64Array[] = [];
  const step = cfg.sampleRate / 2 / (nFreqs - 1); // Hz between bins, to bound each triangle
  for (let m = 0; m < cfg.nMels; m++) {
    const lo = pts[m]!, mid = pts[m + 1]!, hi = pts[m + 2]!;
    // A triangle is non-zero on one contiguous run of bins inside (lo, hi); bins two
    // steps outside are zero whatever the rounding, so only the ones between are evaluated
    // (a worker builds this before its first clip, still in V8's interpreter).
    const k0 = Math.max(0, Math.floor(lo / step) - 2);
    const k1 = Math.min(nFreqs - 1, Math.ceil(hi / step) + 2);
    let first = -1, last = -1;
    const w = new Float64Array(Math.max(0, k1 - k0 + 1));
    for (let k = k0; k <= k1; k++) {
      const f = (k * (cfg.sampleRate / 2)) / (nFreqs - 1);
      const v = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      w[k - k0] = v;
      if (v > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    start[m] = Math.max(first, 0);
    weights.push(first < 0 ? new Float64Array(0) : w.slice(first - k0, last - k0 + 1));
  }
  const length = Int32Array.from(weights, (w) => w.length);
  const flat = new Float64Array(length.reduce((a, b) => a + b, 0));
  weights.reduce((o, w) => (flat.set(w, o), o + w.length), 0);
  return { start, weights, length, flat };
}

/** Number of frames for `n` samples: 1 + floor(n / hop) (clips <= nFft/2 count as nFft/2 + 1). */
export function numFrames(n: number, cfg: MelConfig = DEFAULT_MEL): number {
  return 1 + Math.floor(Math.max(n, cfg.nFft / 2 + 1) / cfg.hop);
}

/** Frames whose mel sums {@link melPower} computes together (melRows4 is unrolled for 4). */
const FRAME_BLOCK = 4;

interface Plan {
  fft: RealFft;
  window: Float64Array;
  bank: MelFilterbank;
}
const plans = new Map<string, Plan>();

function planFor(cfg: MelConfig): Plan {
  const key = JSON.stringify(cfg);
  let plan = plans.get(key);
  if (!plan) {
    if (cfg.winLength !== cfg.nFft) {
      throw new RangeError(`winLength must equal nFft (${cfg.nFft}), got ${cfg.winLength}`);
    }
    const window = new Float64Array(cfg.nFft);
    // Periodic Hann (torch.hann_window default): period nFft, not nFft - 1.
    for (let i = 0; i < cfg.nFft; i++) {
      window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / cfg.nFft);
    }
    plan = { fft: new RealFft(cfg.nFft), window, bank: melFilterbank(cfg) };
    plans.set(key, plan);
  }
  return plan;
}

/**
 * Centre-pads `samples` by nFft/2 on each side with reflection (torch
 * `pad_mode="reflect"`: the edge sample is not repeated). Clips of nFft/2
 * samples or fewer are first zero-padded at the end to nFft/2 + 1, where the
 * reference would crash. Throws on an empty clip.
 */
export function reflectPad(samples: Float32Array, nFft: number): Float32Array {
  if (samples.length === 0) throw new RangeError("Cannot compute features of an empty clip");
  const half = nFft / 2;
  const n = Math.max(samples.length, half + 1);
  const x = new Float32Array(n + 2 * half);
  x.set(samples, half);
  for (let i = 1; i <= half; i++) {
    x[half - i] = x[half + i]!;
    x[half + n - 1 + i] = x[half + n - 1 - i]!;
  }
  return x;
}

/**
 * Mel power spectrogram [nMels, frames] (row-major, float64), before dB.
 *
 * @example
 * ```ts
 * const { power, frames } = melPower(samples); // power.length === 64 * frames
 * ```
 */
export function melPower(
  samples: Float32Array,
  cfg: MelConfig = DEFAULT_MEL,
): { power: Float64Array; frames: number } {
  const { fft, window, bank } = planFor(cfg);
  const n = samples.length, nFft = cfg.nFft, half = nFft / 2;
  const frames = numFrames(n, cfg);
  // Windows inside the clip read it directly; windows crossing an edge read padded
  // copies of just the first or last nFft samples (their other end is never read).
  const short = n < 2 * nFft;
  const head = reflectPad(short ? samples : samples.subarray(0, nFft), nFft);
  const tailStart = n - nFft;
  const tail = short ? head : reflectPad(samples.subarray(tailStart), nFft);
  const power = new Float64Array(cfg.nMels * frames);
  // Spectra of FRAME_BLOCK frames, one row each: the filterbank then runs on all of them at
  // once (one weight load, independent sums), each sum still in bin order as for one frame.
  const spec = new Float64Array(FRAME_BLOCK * (half + 1)); // [FRAME_BLOCK, nFft/2 + 1]
  const rows = Array.from(
    { length: FRAME_BLOCK },
    (_, r) => spec.subarray(r * (half + 1), (r + 1) * (half + 1)),
  );
  for (let t = 0; t < frames; t += FRAME_BLOCK) {
    const count = Math.min(FRAME_BLOCK, frames - t);
    for (let r = 0; r < count; r++) {
      const at = (t + r) * cfg.hop - half; // first sample of the window, in clip coordinates
      if (short || at < 0) fft.power(head, rows[r]!, window, at + half);
      else if (at + nFft > n) fft.power(tail, rows[r]!, window, at - tailStart + half);
      else fft.power(samples, rows[r]!, window, at);
    }
    if (count === FRAME_BLOCK) melRows4(bank, spec, half + 1, power, frames, t);
    else for (let r = 0; r < count; r++) melRows1(bank, rows[r]!, power, frames, t + r);
  }
  return { power, frames };
}

// The filterbank loops are small functions called for every frame block, so V8 optimises them
// as functions at once; as loops inside melPower (called once per clip) they were compiled
// on stack and dropped at each exit during a worker's first clips.

/**
 * power[m * frames + t + r] = the mel sum of filter m over spectrum row r (rows `stride`
 * apart in `spec`), for r < 4: one weight load feeds four independent sums.
 */
function melRows4(
  bank: MelFilterbank,
  spec: Float64Array,
  stride: number,
  power: Float64Array,
  frames: number,
  t: number,
): void {
  const { start, length, flat } = bank;
  const s1 = stride, s2 = 2 * stride, s3 = 3 * stride;
  for (let m = 0, o = 0; m < start.length; m++) {
    const s0 = start[m]!, len = length[m]!;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let k = 0; k < len; k++) {
      const w = flat[o + k]!, b = s0 + k;
      a0 += w * spec[b]!;
      a1 += w * spec[b + s1]!;
      a2 += w * spec[b + s2]!;
      a3 += w * spec[b + s3]!;
    }
    o += len;
    const at = m * frames + t;
    power[at] = a0;
    power[at + 1] = a1;
    power[at + 2] = a2;
    power[at + 3] = a3;
  }
}

/** power[m * frames + t] = the mel sum of filter m over `spec`, in bin order. */
function melRows1(
  bank: MelFilterbank,
  spec: Float64Array,
  power: Float64Array,
  frames: number,
  t: number,
): void {
  const { start, length, flat } = bank;
  for (let m = 0, o = 0; m < start.length; m++) {
    const s0 = start[m]!, len = length[m]!;
    let acc = 0;
    for (let k = 0; k < len; k++) acc += flat[o + k]! * spec[s0 + k]!;
    o += len;
    power[m * frames + t] = acc;
  }
}

/**
 * In place: power -> dB (10 log10 max(p, 1e-10)) clamped from below at
 * (max over the whole array) - topDb, as torchaudio `AmplitudeToDB`.
 * Returns the clamp floor.
 */
export function powerToDb(power: Float64Array, cfg: MelConfig = DEFAULT_MEL): number {
  let max = -Infinity;
  for (let i = 0; i < power.length; i++) {
    const db = 10 * Math.log10(Math.max(power[i]!, AMIN));
    power[i] = db;
    if (db > max) max = db;
  }
  const floor = max - cfg.topDb;
  for (let i = 0; i < power.length; i++) if (power[i]! < floor) power[i] = floor;
  return floor;
}

/** Min-max scaling of dB values to the reference's [-1, 1] range, as float32. */
export function scaleDb(db: Float64Array, cfg: MelConfig = DEFAULT_MEL): Float32Array {
  const out = new Float32Array(db.length);
  const span = cfg.scaleMax - cfg.scaleMin;
  for (let i = 0; i < db.length; i++) out[i] = ((db[i]! - cfg.scaleMin) / span) * 2 - 1;
  return out;
}

/**
 * Log-mel features of a mono 16 kHz clip: [nMels, 1 + floor(n / hop)],
 * float32, scaled to about [-1, 1]. The dB clamp uses this clip's maximum,
 * so the features of a training crop are `logMel(crop)`.
 *
 * @example
 * ```ts
 * const { data, nMels, frames } = logMel((await loadAudio("a.wav")).samples);
 * ```
 */
export function logMel(samples: Float32Array, cfg: MelConfig = DEFAULT_MEL): Features {
  const { power, frames } = melPower(samples, cfg);
  powerToDb(power, cfg);
  return { data: scaleDb(power, cfg), nMels: cfg.nMels, frames };
}
