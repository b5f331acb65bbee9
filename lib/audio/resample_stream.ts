/**
 * Resampling to 16 kHz by windows, bit-identical to `resample()` of the
 * whole signal: random access ({@link resampleWindow}, used by
 * wav_stream.ts) and forward-only ({@link ResampleStream}, for decoders
 * that give a file's samples in order).
 *
 * Why windows are exact: resample.ts runs one polyphase filter per output
 * phase, output m = i * next + j reading the input from i * orig - width
 * on. A window that starts on a block boundary (a multiple of the reduced
 * `orig`, or the signal start) and reaches `width` samples past every
 * output it keeps gives those outputs the same taps on the same samples,
 * added in the same order, as the whole signal.
 *
 * @module
 */
import { filterWidth, gcd, resample } from "./resample.ts";

/** The model's sample rate (load.ts's TARGET_RATE; repeated here to keep the import one way). */
const RATE = 16000;

/** The reduced rate pair `orig : next` of `from` -> 16 kHz and the filter half-width. */
export interface Geometry {
  orig: number;
  next: number;
  width: number;
  /** Whole blocks of context on each side of a window: one more than the filter needs. */
  ctx: number;
}

/** resample.ts's geometry for `from` -> 16 kHz with its defaults (lowpass width 6, rolloff 0.99). */
export function geometry(from: number): Geometry {
  const g = gcd(from, RATE);
  const orig = from / g, next = RATE / g;
  const width = filterWidth(orig, next);
  return { orig, next, width, ctx: Math.ceil(width / orig) + 1 };
}

/** The 16 kHz length of `frames` samples at `from` Hz (resample.ts's output length). */
export function resampledLength(frames: number, from: number): number {
  if (from === RATE) return frames;
  const { orig, next } = geometry(from);
  return Math.ceil((next * frames) / orig);
}

/**
 * The source samples [w0, w1) whose resampling gives outputs [start, end)
 * of a signal of `n` samples at `from` Hz, and the output index `o0` of
 * the window's first output: `resample(x[w0:w1])[start - o0 : end - o0]`
 * equals `resample(x)[start:end]`.
 */
export function resampleWindow(
  start: number,
  end: number,
  n: number,
  from: number,
): { w0: number; w1: number; o0: number } {
  const { orig, next, ctx } = geometry(from);
  const b0 = Math.max(0, Math.floor(start / next) - ctx);
  return { w0: b0 * orig, w1: Math.min(n, (Math.ceil(end / next) + ctx) * orig), o0: b0 * next };
}

/**
 * Forward-only resampling to 16 kHz: push the source samples in pieces of
 * any size, get the output as soon as it is final; the concatenation of
 * every {@link push} and {@link end} is `resample(all, from, 16000)`.
 * Holds about one piece plus `minOut` outputs' worth of input.
 *
 * @example
 * ```ts
 * const rs = new ResampleStream(44100);
 * for (const piece of pieces) write(rs.push(piece));
 * write(rs.end());
 * ```
 */
export class ResampleStream {
  readonly #from: number;
  readonly #minOut: number;
  /** Source samples from #bufStart on (#len of them). */
  #buf = new Float32Array(0);
  #len = 0;
  #bufStart = 0;
  /** Source samples pushed so far. */
  #n = 0;
  /** Outputs given so far. */
  #done = 0;
  #ended = false;

  /**
   * @param from the source rate (a positive integer)
   * @param minOut outputs to gather before a window is resampled (fewer windows, less overlap)
   */
  constructor(from: number, minOut = RATE) {
    if (!Number.isInteger(from) || from <= 0) {
      throw new RangeError(`Sample rate must be a positive integer, got ${from}`);
    }
    this.#from = from;
    this.#minOut = minOut;
  }

  /** Adds source samples; returns the outputs they complete (maybe none). */
  push(x: Float32Array): Float32Array {
    if (this.#ended) throw new Error("ResampleStream.push after end");
    if (this.#from === RATE) {
      this.#n += x.length;
      return x;
    }
    this.#append(x);
    const { orig, next, ctx } = geometry(this.#from);
    // Outputs [done, e) have their whole window inside the samples so far.
    const e = (Math.floor(this.#n / orig) - ctx) * next;
    return e - this.#done >= this.#minOut ? this.#emit(e) : new Float32Array(0);
  }

  /** Marks the end of the signal; returns the remaining outputs. */
  end(): Float32Array {
    if (this.#ended) throw new Error("ResampleStream.end called twice");
    this.#ended = true;
    if (this.#from === RATE) return new Float32Array(0);
    const out = this.#emit(resampledLength(this.#n, this.#from));
    this.#buf = new Float32Array(0);
    return out;
  }

  #append(x: Float32Array): void {
    const need = this.#len + x.length;
    if (need > this.#buf.length) {
      const grown = new Float32Array(Math.max(need, 2 * this.#buf.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(x, this.#len);
    this.#len = need;
    this.#n += x.length;
  }

  /** Outputs [done, e), then drops the samples no later window reads. */
  #emit(e: number): Float32Array {
    if (e <= this.#done) return new Float32Array(0);
    const { w0, w1, o0 } = resampleWindow(this.#done, e, this.#n, this.#from);
    const window = this.#buf.subarray(w0 - this.#bufStart, w1 - this.#bufStart);
    const out = resample(window, this.#from, RATE).slice(this.#done - o0, e - o0);
    this.#done = e;
    const keep = resampleWindow(e, e, this.#n, this.#from).w0;
    this.#buf.copyWithin(0, keep - this.#bufStart, this.#len);
    this.#len -= keep - this.#bufStart;
    this.#bufStart = keep;
    return out;
  }
}
