/**
 * Band-limited resampling, numerically the algorithm of torchaudio's default
 * `torchaudio.functional.resample` (windowed sinc with a squared-cosine, i.e.
 * Hann, window; lowpass filter width 6; rolloff 0.99).
 *
 * torchaudio reduces the rates by their gcd to `orig : new`, builds `new`
 * polyphase filters of `2 * width + orig` taps and runs them as one strided
 * convolution over the signal zero-padded by `width` on the left and
 * `width + orig` on the right. Most of those taps are zero: the window is
 * clamped to |t| <= lowpass_filter_width, where both the window and the sinc
 * vanish. We build the same filters in float64, keep only the taps inside
 * the window (the dropped ones are below 1e-20 in torchaudio's float32
 * kernel), and accumulate in float64. Output length is
 * `ceil(new * length / orig)`, as in torchaudio.
 *
 * @module
 */

/** Options of {@link resample}; the defaults are torchaudio's. */
export interface ResampleOptions {
  /** Zero crossings of the sinc kept on each side (torchaudio default 6). */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist frequency (default 0.99). */
  rolloff?: number;
}

/** One polyphase filter bank for a reduced rate pair `orig : new`. */
interface Kernel {
  orig: number;
  next: number;
  width: number;
  /** Index of the first kept tap of each phase (into the padded signal window). */
  start: Int32Array;
  /** Offsets of each phase's taps into `taps`; phase j is taps[offset[j] .. offset[j+1]). */
  offset: Int32Array;
  taps: Float64Array;
}

const cache = new Map<string, Kernel>();
const f32 = Math.fround;
const PI = Math.fround(Math.PI);

/** Greatest common divisor: the rates are reduced by it to `orig : next`. */
export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The filter half-width (input samples) of the reduced pair `orig : next`. */
export function filterWidth(orig: number, next: number, lpw = 6, rolloff = 0.99): number {
  return Math.ceil((lpw * orig) / (Math.min(orig, next) * rolloff));
}

function buildKernel(orig: number, next: number, lpw: number, rolloff: number): Kernel {
  const base = Math.min(orig, next) * rolloff;
  const width = filterWidth(orig, next, lpw, rolloff);
  const baseF = f32(base);
  const scaleF = f32(base / orig);
  const start = new Int32Array(next);
  const offset = new Int32Array(next + 1);
  const phases: Float64Array[] = [];
  for (let j = 0; j < next; j++) {
    // Tap k (0 <= k < 2 * width + orig) sits at t = ((k - width) / orig - j / next) * base;
    // keep the taps with |t| < lpw, the only ones where the clamped window is non-zero.
    const centre = width + (orig * j) / next;
    const reach = (lpw * orig) / base;
    const k0 = Math.max(0, Math.floor(centre - reach));
    const k1 = Math.min(2 * width + orig - 1, Math.ceil(centre + reach));
    const row = new Float64Array(k1 - k0 + 1);
    for (let k = k0; k <= k1; k++) {
      // Same float32 operation sequence as torchaudio's kernel (its dtype follows the
      // float32 waveform), so both carry the same ~1e-5 kernel rounding.
      let t = f32(f32((k - width) / orig) + f32(-j / next));
      t = f32(t * baseF);
      t = Math.max(-lpw, Math.min(lpw, t));
      const c = f32(Math.cos(f32(f32(f32(t * PI) / lpw) / 2)));
      const w = f32(c * c);
      const x = f32(t * PI);
      const sinc = x === 0 ? 1 : f32(f32(Math.sin(x)) / x);
      row[k - k0] = f32(sinc * f32(w * scaleF));
    }
    start[j] = k0;
    phases.push(row);
    offset[j + 1] = offset[j]! + row.length;
  }
  const taps = new Float64Array(offset[next]!);
  phases.forEach((row, j) => taps.set(row, offset[j]!));
  return { orig, next, width, start, offset, taps };
}

function kernelFor(from: number, to: number, lpw: number, rolloff: number): Kernel {
  const g = gcd(from, to);
  const key = `${from / g}:${to / g}:${lpw}:${rolloff}`;
  let k = cache.get(key);
  if (!k) {
    k = buildKernel(from / g, to / g, lpw, rolloff);
    cache.set(key, k);
  }
  return k;
}

/**
 * Resamples `x` from `from` Hz to `to` Hz (both positive integers).
 * Returns `x` itself when the rates are equal.
 *
 * @example
 * ```ts
 * const y = resample(new Float32Array(44100), 44100, 16000); // y.length === 16000
 * ```
 */
export function resample(
  x: Float32Array,
  from: number,
  to: number,
  opts: ResampleOptions = {},
): Float32Array {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from <= 0 || to <= 0) {
    throw new RangeError(`Sample rates must be positive integers, got ${from} and ${to}`);
  }
  if (from === to) return x;
  const kernel = kernelFor(from, to, opts.lowpassFilterWidth ?? 6, opts.rolloff ?? 0.99);
  const { orig, next, width, start, offset, taps } = kernel;
  const n = x.length;
  const outLen = Math.ceil((next * n) / orig);
  const y = new Float32Array(outLen);
  // Output m = i * next + j uses phase j on the padded input from i * orig; padded
  // index p maps to x[p - width] (zero outside the signal). Blocks [iLo, iHi) are the
  // input steps whose every phase lies inside the signal and inside the output.
  let minStart = Infinity, maxEnd = 0;
  for (let j = 0; j < next; j++) {
    minStart = Math.min(minStart, start[j]!);
    maxEnd = Math.max(maxEnd, start[j]! + offset[j + 1]! - offset[j]!);
  }
  const blocks = Math.ceil(outLen / next);
  const iLo = Math.min(blocks, Math.max(0, Math.ceil((width - minStart) / orig)));
  const iHi = Math.max(
    iLo,
    Math.min(
      Math.floor((n + width - maxEnd) / orig) + 1,
      Math.floor(outLen / next),
    ),
  );
  // Interior: eight blocks at a time, so one tap load feeds eight independent sums (a single
  // sum is bound by the latency of its float64 adds). Each output still adds its products
  // in tap order from 0, the order of the edge loop, so the bits do not depend on the path.
  let i = iLo;
  for (; i + 8 <= iHi; i += 8) {
    const base = i * orig - width;
    for (let j = 0; j < next; j++) {
      const o0 = offset[j]!;
      dot8(x, base + start[j]!, orig, taps, o0, offset[j + 1]! - o0, y, i * next + j, next);
    }
  }
  for (let e = 0; e < iLo; e++) edgeBlock(x, y, kernel, e);
  for (; i < blocks; i++) edgeBlock(x, y, kernel, i);
  return y;
}

// The loops live in small functions called thousands of times per clip, so V8 optimises them
// as functions within the first clip; as loops inside `resample` (called once per clip) they
// were compiled on stack and thrown away at every exit for the first hundred or so clips.

/**
 * y[m + r * next] = sum over k < len of x[f + r * orig + k] * taps[o + k], for r < 8,
 * each sum in k order from 0.
 */
function dot8(
  x: Float32Array,
  f: number,
  orig: number,
  taps: Float64Array,
  o: number,
  len: number,
  y: Float32Array,
  m: number,
  next: number,
): void {
  const f1 = f + orig, f2 = f1 + orig, f3 = f2 + orig;
  const f4 = f3 + orig, f5 = f4 + orig, f6 = f5 + orig, f7 = f6 + orig;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  for (let k = 0; k < len; k++) {
    const t = taps[o + k]!;
    a0 += x[f + k]! * t;
    a1 += x[f1 + k]! * t;
    a2 += x[f2 + k]! * t;
    a3 += x[f3 + k]! * t;
    a4 += x[f4 + k]! * t;
    a5 += x[f5 + k]! * t;
    a6 += x[f6 + k]! * t;
    a7 += x[f7 + k]! * t;
  }
  y[m] = a0;
  y[m + next] = a1;
  y[m + 2 * next] = a2;
  y[m + 3 * next] = a3;
  y[m + 4 * next] = a4;
  y[m + 5 * next] = a5;
  y[m + 6 * next] = a6;
  y[m + 7 * next] = a7;
}

/** Block i one output at a time, skipping the taps outside the signal (its zero padding). */
function edgeBlock(x: Float32Array, y: Float32Array, kernel: Kernel, i: number): void {
  const { orig, next, width, start, offset, taps } = kernel;
  const outLen = y.length;
  const base = i * orig - width;
  for (let j = 0, m = i * next; j < next && m < outLen; j++, m++) {
    const first = base + start[j]!;
    const o0 = offset[j]!;
    const len = offset[j + 1]! - o0;
    y[m] = dotInside(x, first, taps, o0, len);
  }
}

/** Sum over k < len of x[f + k] * taps[o + k] in k order, for the k with f + k inside x. */
function dotInside(x: Float32Array, f: number, taps: Float64Array, o: number, len: number): number {
  let acc = 0;
  const hi = Math.min(len, x.length - f);
  for (let k = Math.max(0, -f); k < hi; k++) acc += x[f + k]! * taps[o + k]!;
  return acc;
}
