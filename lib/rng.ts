/**
 * The project's one seeded random number generator (mulberry32: its whole
 * state is one 32-bit integer), so that `--seed` reproduces a run on any
 * machine. Pre-training derives one generator per purpose and step with
 * {@link mixSeed}, so a resumed run draws exactly what an uninterrupted one
 * would; the probe and the demo seed theirs from the user's `--seed`.
 *
 * @module
 */

/** Seeded uniform, integer, normal and permutation draws (mulberry32 core). */
export class Rng {
  #s: number;
  #spare: number | undefined;

  /**
   * A generator for a user-facing seed; equal seeds give equal sequences.
   * The seed is scrambled first so that small consecutive seeds (0, 1, 2)
   * give unrelated streams.
   *
   * @example
   * ```ts
   * const order = new Rng(0).permutation(10);
   * ```
   */
  constructor(seed: number) {
    // splitmix-style scramble.
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.#s = (s ^ (s >>> 16)) >>> 0;
  }

  /**
   * A generator whose state is `state` as is, without the scramble: for
   * seeds that are already hashed, such as those of {@link mixSeed}.
   *
   * @example
   * ```ts
   * const rng = Rng.fromState(mixSeed(seed, stream, step));
   * ```
   */
  static fromState(state: number): Rng {
    const rng = new Rng(0);
    rng.#s = state >>> 0;
    return rng;
  }

  /** A float in [lo, hi), by default [0, 1). */
  uniform(lo = 0, hi = 1): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }

  /** An integer in [lo, hi], both ends included (Python's `random.randint`). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.#spare !== undefined) {
      const v = this.#spare;
      this.#spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1 (a shuffle of the identity). */
  permutation(n: number): Int32Array {
    return Int32Array.from(this.shuffle(Array.from({ length: n }, (_, i) => i)));
  }
}

/** Mixes integers into one 32-bit seed (a murmur3-style finaliser per part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul((p >>> 0) ^ (Math.floor(p / 4294967296) >>> 0), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
