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
  readonly #oddStages: boolean;
  #onesCache?: Float64Array;

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
    this.#oddStages = bits % 2 === 1;
  }

  #ones(): Float64Array {
    return (this.#onesCache ??= new Float64Array(this.n).fill(1));
  }

  /**
   * Writes |X[k]|^2, k = 0..n/2, of the real sequence
   * `src[offset + i] * window[i]` (i < n) into `out` (length n/2 + 1).
   */
  power(src: ArrayLike<number>, out: Float64Array, window?: Float64Array, offset = 0): void {
    const half = this.#half, re = this.#re, im = this.#im, rev = this.#rev;
    const w = window ?? this.#ones();
    if (this.#oddStages) {
      // Pack even samples as real parts, odd as imaginary, in bit-reversed order, fused
      // with the first radix-2 stage: z[i] and z[i + half/2] land in slots r and r + 1.
      const quarter = half >> 1;
      for (let i = 0; i < quarter; i++) {
        const a = offset + 2 * i, b = a + half;
        const ar = src[a]! * w[2 * i]!, ai = src[a + 1]! * w[2 * i + 1]!;
        const br = src[b]! * w[2 * i + half]!, bi = src[b + 1]! * w[2 * i + half + 1]!;
        const r = rev[i]!;
        re[r] = ar + br;
        im[r] = ai + bi;
        re[r + 1] = ar - br;
        im[r + 1] = ai - bi;
      }
    } else {
      for (let i = 0; i < half; i++) {
        const a = offset + 2 * i;
        const r = rev[i]!;
        re[r] = src[a]! * w[2 * i]!;
        im[r] = src[a + 1]! * w[2 * i + 1]!;
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
    // With an odd number of radix-2 stages the first one was fused into packing.
    let s = this.#oddStages ? 2 : 1; // s-point DFTs are done
    // Radix-2^2: two radix-2 stages (sizes 2s and 4s) per pass over the data.
    for (; s < n; s *= 4) {
      const step4 = n / (4 * s); // twiddle index stride of W_{4s}
      // j = 0: all twiddles are 1.
      for (let k = 0; k < n; k += 4 * s) {
        const k1 = k + s, k2 = k + 2 * s, k3 = k + 3 * s;
        const a0r = re[k]!, a0i = im[k]!, a1r = re[k1]!, a1i = im[k1]!;
        const a2r = re[k2]!, a2i = im[k2]!, a3r = re[k3]!, a3i = im[k3]!;
        const b0r = a0r + a1r, b0i = a0i + a1i, b1r = a0r - a1r, b1i = a0i - a1i;
        const b2r = a2r + a3r, b2i = a2i + a3i, b3r = a2r - a3r, b3i = a2i - a3i;
        re[k] = b0r + b2r;
        im[k] = b0i + b2i;
        re[k2] = b0r - b2r;
        im[k2] = b0i - b2i;
        re[k1] = b1r + b3i;
        im[k1] = b1i - b3r;
        re[k3] = b1r - b3i;
        im[k3] = b1i + b3r;
      }
      for (let j = 1; j < s; j++) {
        const w2r = cos[j * step4]!, w2i = sin[j * step4]!; // W_{4s}^j
        const w1r = cos[2 * j * step4]!, w1i = sin[2 * j * step4]!; // W_{2s}^j = W_{4s}^{2j}
        for (let k = j; k < n; k += 4 * s) {
          const k1 = k + s, k2 = k + 2 * s, k3 = k + 3 * s;
          const a0r = re[k]!, a0i = im[k]!;
          const a1r = re[k1]!, a1i = im[k1]!;
          const a2r = re[k2]!, a2i = im[k2]!;
          const a3r = re[k3]!, a3i = im[k3]!;
          // Stage of size 2s on (a0, a1) and (a2, a3).
          const t1r = w1r * a1r - w1i * a1i, t1i = w1r * a1i + w1i * a1r;
          const t3r = w1r * a3r - w1i * a3i, t3i = w1r * a3i + w1i * a3r;
          const b0r = a0r + t1r, b0i = a0i + t1i, b1r = a0r - t1r, b1i = a0i - t1i;
          const b2r = a2r + t3r, b2i = a2i + t3i, b3r = a2r - t3r, b3i = a2i - t3i;
          // Stage of size 4s on (b0, b2) with W^j and (b1, b3) with W^(j+s) = -i W^j.
          const u2r = w2r * b2r - w2i * b2i, u2i = w2r * b2i + w2i * b2r;
          const u3r = w2r * b3i + w2i * b3r, u3i = -(w2r * b3r - w2i * b3i); // -i * (W^j b3)
          re[k] = b0r + u2r;
          im[k] = b0i + u2i;
          re[k2] = b0r - u2r;
          im[k2] = b0i - u2i;
          re[k1] = b1r + u3r;
          im[k1] = b1i + u3i;
          re[k3] = b1r - u3r;
          im[k3] = b1i - u3i;
        }
      }
    }
  }
}
