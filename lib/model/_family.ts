/**
 * What the two encoder families do differently before the blocks
 * (REFERENCE.md §2, REFERENCE.md §8.3): ATST-Clip prepends a [CLS]
 * token and adds positional rows 0..N; ATST-Frame has no [CLS], replaces
 * masked tokens by `mask_embed` (pre-training only) and adds rows 1..N.
 * The Encoder calls these; nothing else should.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { EncoderFamily } from "./config.ts";

/** The family-specific parameters of an encoder. */
export interface FamilyParams {
  family: EncoderFamily;
  /** [1, 1, D]; null for ATST-Frame. */
  clsToken: tf.Variable | null;
  /** [1, 1 + maxPatches, D]. */
  posEmbed: tf.Variable;
  /** [1, 1, D]. */
  maskEmbed: tf.Variable;
}

/** Tokens before the first block that are not patches: 1 ([CLS]) or 0. */
export function leadTokens(family: EncoderFamily): number {
  return family === "clip" ? 1 : 0;
}

/**
 * Patch tokens [B, N, D] -> block input [B, lead + N, D]. `mask` [B, N]
 * (1 = masked) is ATST-Frame's pre-training input: those tokens become
 * `mask_embed` before the positions are added, as the reference does.
 */
export function blockInput(
  p: FamilyParams,
  tokens: tf.Tensor3D,
  mask?: tf.Tensor2D,
): tf.Tensor3D {
  const [B, N, D] = tokens.shape;
  if (p.family === "clip") {
    if (mask) throw new Error("ATST-Clip encoders take no token mask (mask_embed is unused)");
    const cls = tf.tile(p.clsToken!, [B, 1, 1]); // [B, 1, D]
    const h = N > 0 ? tf.concat([cls, tokens], 1) : cls; // [B, 1+N, D]
    // "cut" positions: the first 1+N rows, no interpolation.
    return tf.add(h, tf.slice(p.posEmbed, [0, 0, 0], [1, N + 1, D])); // [B, 1+N, D]
  }
  let h = tokens;
  if (mask) {
    if (mask.shape[0] !== B || mask.shape[1] !== N) {
      throw new Error(`Token mask of shape [${mask.shape}] for ${B} x ${N} tokens`);
    }
    const m = tf.expandDims(mask, 2); // [B, N, 1]
    h = tf.add(tf.mul(tf.sub(1, m), h), tf.mul(m, p.maskEmbed)); // [B, N, D]
  }
  // Row 0 of the table (the clip family's CLS position) is never used.
  return tf.add(h, tf.slice(p.posEmbed, [0, 1, 0], [1, N, D])); // [B, N, D]
}

/**
 * Additive attention mask [B, 1, 1, lead + N]: 0 for the lead tokens and
 * the first floor(L / P) patches, -10000 (the reference's value) for padded
 * keys; null when nothing is padded.
 */
export function keyMask(
  lengths: number[],
  N: number,
  P: number,
  lead: number,
): tf.Tensor4D | null {
  const B = lengths.length, M = lead + N;
  const m = new Float32Array(B * M);
  let any = false;
  for (let b = 0; b < B; b++) {
    const L = lengths[b]!;
    if (!(Number.isInteger(L) && L >= 0)) {
      throw new Error(`Invalid length ${L} for batch item ${b}`);
    }
    for (let j = lead + Math.floor(L / P); j < M; j++) {
      m[b * M + j] = -10000;
      any = true;
    }
  }
  return any ? tf.tensor4d(m, [B, 1, 1, M]) : null;
}
