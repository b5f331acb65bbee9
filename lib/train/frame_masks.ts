/**
 * ATST-Frame's token masks (REFERENCE.md §8.6): fairseq's
 * `compute_mask_indices` with mask_type "static" and no_overlap False, one
 * mask per sample, shared by both of its views.
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** The mask recipe: fraction of tokens to aim for, span length, fewest spans. */
export interface MaskRecipe {
  /** fairseq mask_prob (0.65 in the recipe). */
  ratio: number;
  /** fairseq mask_length (5). */
  span: number;
  /** fairseq min_masks (2). */
  minSpans: number;
}

/** The recipe's values. */
export const FRAME_MASK: Readonly<MaskRecipe> = { ratio: 0.65, span: 5, minSpans: 2 };

/**
 * One sample's mask over `t` tokens (1 = masked), as fairseq draws it:
 * `num = max(minSpans, int(ratio * t / span + U[0,1)))` span starts drawn
 * without replacement from `range(t - span)` (fairseq shrinks that range
 * to `num + 1` starts when it holds no more than `num`), each masking
 * `span` tokens clipped to the sequence; the union is the mask. So the last
 * token is never masked and about 0.48 of 250 tokens are.
 *
 * @example
 * ```ts
 * const m = blockMask(250, FRAME_MASK, Rng.fromState(mixSeed(seed, 5, step, sample)));
 * m[249]; // 0
 * ```
 */
export function blockMask(t: number, recipe: MaskRecipe, rng: Rng): Uint8Array {
  const mask = new Uint8Array(Math.max(0, t));
  for (const start of spanStarts(t, recipe, rng)) {
    for (let k = start; k < Math.min(t, start + recipe.span); k++) mask[k] = 1;
  }
  return mask;
}

/** The span starts {@link blockMask} draws (in draw order; none when `t` <= 0). */
export function spanStarts(t: number, recipe: MaskRecipe, rng: Rng): Int32Array {
  if (t <= 0) return new Int32Array(0);
  const { ratio, span, minSpans } = recipe;
  const num = Math.max(minSpans, Math.trunc((ratio * t) / span + rng.uniform()));
  // fairseq: `if sz - min_len <= num_mask: min_len = sz - num_mask - 1`.
  const range = t - span <= num ? num + 1 : t - span;
  return sample(range, num, rng);
}

/** `k` distinct integers of 0..n-1 (partial Fisher-Yates), k <= n. */
function sample(n: number, k: number, rng: Rng): Int32Array {
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = rng.int(i, n - 1);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.subarray(0, k);
}

/**
 * Flat indices (row-major over [rows, t]) of the masked tokens of `masks`
 * [rows, t]: the order in which PyTorch's `x[mask]` keeps them.
 */
export function maskedIndices(masks: Uint8Array): Int32Array {
  let n = 0;
  for (let i = 0; i < masks.length; i++) n += masks[i]!;
  const out = new Int32Array(n);
  for (let i = 0, j = 0; i < masks.length; i++) if (masks[i]) out[j++] = i;
  return out;
}
