/**
 * Power spectrum of real frames: an N-point real FFT computed as one
 * N/2-point complex radix-2 FFT plus the standard split step, in float64.
 *
 * @module
 */

/**
 * A reusable real-FFT plan for one power-of-two size `n` (>= 4). Not
 * thread-safe: it owns scratch buffers.
 *
 * @example
 * ```ts
 * const plan = new RealFft(1024);
 * const power = new Float64Array(513);
 * plan.power(frame, power); // |X[k]|^2 for k = 0..512
 * ```
 */
export class RealFft {
  readonly n: number;
  readonly #half: number;
  readonly #rev: Uint32Array;
  /** cos/sin of -2*pi*k/half for the complex stages, k < half/2. */
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;
  /** cos/sin of -2*pi*k/n for the split step, k <= half/2. */
  readonly #splitCos: Float64Array;
  readonly #splitSin: Float64Array;
  readonly #re: Float64Array;
  readonly #im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 4, got ${n}`);
    }
    this.n = n;
    const half = n / 2;
    this.#half = half;
    const bits = Math.log2(half);
    this.#rev = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.#rev[i] = r;
    }
    this.#cos = new Float64Array(half / 2);
    this.#sin = new Float64Array(half / 2);
    for (let k = 0; k < half / 2; k++) {
      this.#cos[k] = Math.cos((2 * Math.PI * k) / half);
      this.#sin[k] = -Math.sin((2 * Math.PI * k) / half);
    }
    this.#splitCos = new Float64Array(half / 2 + 1);
    this.#splitSin = new Float64Array(half / 2 + 1);
    for (let k = 0; k <= half / 2; k++) {
      this.#splitCos[k] = Math.cos((2 * Math.PI * k) / n);
      this.#splitSin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    this.#re = new Float64Array(half);
    this.#im = new Float64Array(half);
  }

  /**
   * Writes |X[k]|^2, k = 0..n/2, of the real sequence
   * `src[offset + i] * window[i]` (i < n) into `out` (length n/2 + 1).
   */
  power(src: ArrayLike<number>, out: Float64Array, window?: Float64Array, offset = 0): void {
    const half = this.#half, re = this.#re, im = this.#im, rev = this.#rev;
    // Pack even samples as real parts, odd as imaginary, in bit-reversed order.
    for (let i = 0; i < half; i++) {
      const a = offset + 2 * i;
      const r = rev[i]!;
      if (window) {
        re[r] = src[a]! * window[2 * i]!;
        im[r] = src[a + 1]! * window[2 * i + 1]!;
      } else {
        re[r] = src[a]!;
        im[r] = src[a + 1]!;
      }
    }
    this.#butterflies();
    // Split step: X[k] = E[k] + W^k O[k], E/O the spectra of even/odd samples.
    const c = this.#splitCos, s = this.#splitSin;
    out[0] = (re[0]! + im[0]!) ** 2;
    out[half] = (re[0]! - im[0]!) ** 2;
    for (let k = 1; k <= half / 2; k++) {
      const zr = re[k]!, zi = im[k]!, yr = re[half - k]!, yi = im[half - k]!;
      const er = 0.5 * (zr + yr), ei = 0.5 * (zi - yi); // E[k]
      const or = 0.5 * (zi + yi), oi = -0.5 * (zr - yr); // O[k]
      const wr = c[k]!, wi = s[k]!;
      const tr = wr * or - wi * oi, ti = wr * oi + wi * or;
      out[k] = (er + tr) ** 2 + (ei + ti) ** 2;
      // X[half - k] = conj(E[k]) - conj(W^k O[k]) by symmetry.
      out[half - k] = (er - tr) ** 2 + (ti - ei) ** 2;
    }
  }

  #butterflies(): void {
    const n = this.#half, re = this.#re, im = this.#im, cos = this.#cos, sin = this.#sin;
    // Radix-2 first stage without multiplications.
    for (let i = 0; i < n; i += 2) {
      const ar = re[i]!, ai = im[i]!, br = re[i + 1]!, bi = im[i + 1]!;
      re[i] = ar + br;
      im[i] = ai + bi;
      re[i + 1] = ar - br;
      im[i + 1] = ai - bi;
    }
    for (let size = 4; size <= n; size <<= 1) {
      const halfSize = size >> 1;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let j = 0, t = 0; j < halfSize; j++, t += step) {
          const wr = cos[t]!, wi = sin[t]!;
          const a = start + j, b = a + halfSize;
          const br = re[b]!, bi = im[b]!;
          const xr = br * wr - bi * wi, xi = br * wi + bi * wr;
          const ar = re[a]!, ai = im[a]!;
          re[a] = ar + xr;
          im[a] = ai + xi;
          re[b] = ar - xr;
          im[b] = ai - xi;
        }
      }
    }
  }
}
