/**
 * ATST-Frame's loss on tokens (REFERENCE.md §8.6): the masks of a step
 * as tensors, the selection of the masked token outputs before the heads,
 * and the symmetric cross-view BYOL loss over them.
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, type Tensor3D, tf } from "../backend/tf.ts";
import type { Collective } from "../dist/world.ts";
import { byolLoss } from "./loss.ts";
import { maskedIndices } from "./frame_masks.ts";

type Scalar = tf.Scalar;

/** A step's masks as the networks take them. */
export interface StepMask {
  /** [2b, N], 1 = masked: the student's `mask_embed` input (view 1 rows, then view 2). */
  mask: Tensor2D;
  /** Flat indices into [2b * N] of the masked tokens, view 1 rows first: [M]. */
  index: Tensor1D;
}

/**
 * The masks of `b` samples [b, n] (one per sample) repeated for both views:
 * rows i and b + i share sample i's mask.
 *
 * @example
 * ```ts
 * const m = stepMask(masks, 250); // m.mask [2b, 250], m.index [M]
 * tf.dispose([m.mask, m.index]);
 * ```
 */
export function stepMask(masks: Uint8Array, n: number): StepMask {
  const both = new Uint8Array(2 * masks.length);
  both.set(masks);
  both.set(masks, masks.length);
  const rows = both.length / n;
  if (!Number.isInteger(rows)) throw new Error(`Masks of ${masks.length} values for ${n} tokens`);
  const index = maskedIndices(both);
  return {
    mask: tf.tensor2d(Float32Array.from(both), [rows, n]), // [2b, N]
    index: tf.tensor1d(index, "int32"), // [M]
  };
}

/** The outputs at the masked tokens, flattened: [2b, N, D] -> [M, D] (PyTorch's `x[mask]`). */
export function maskedTokens(tokens: Tensor3D, index: Tensor1D): Tensor2D {
  return tf.tidy(() => {
    const [B, N, D] = tokens.shape;
    return tf.gather(tf.reshape(tokens, [B * N, D]), index) as Tensor2D; // [M, D]
  });
}

/**
 * The symmetric cross-view loss over masked tokens: `student` and
 * `teacher` [M, d] hold view 1's masked tokens then view 2's (the same
 * positions, since both views share the mask); the mean over the two
 * pairs (teacher view a, student view b != a) of 2 - 2 * mean cosine. It
 * is ATST-Clip's BYOL loss with tokens for clips. `weight` scales it: a
 * rank's {@link rankTokenWeight} in a data-parallel step.
 */
export function frameLoss(student: Tensor2D, teacher: Tensor2D, weight = 1): Scalar {
  if (student.shape[0] % 2 !== 0 || student.shape[0] !== teacher.shape[0]) {
    throw new Error(
      `Frame loss: ${student.shape[0]} student and ${teacher.shape[0]} teacher rows, ` +
        `expected two equal halves`,
    );
  }
  if (weight === 1) return byolLoss(student, teacher);
  return tf.tidy(() => tf.mul(byolLoss(student, teacher), weight) as Scalar);
}

/**
 * The weight of this rank's frame loss in a data-parallel step, where
 * `tokens` are its masked-token rows and the ranks' counts differ:
 * `size * tokens / total`, with `total` the rows of every rank (one
 * allreduce). The frame loss is a mean over the masked tokens of the whole
 * batch, so the joined loss is the ranks' means weighted by `tokens / total`;
 * the extra factor `size` makes the mean over ranks of the weighted losses,
 * and of their gradients (which averageGradients forms), that loss and its
 * gradient. 1 in one process.
 */
export function rankTokenWeight(tokens: number, world: Collective): number {
  if (world.size === 1) return 1;
  const total = Float64Array.of(tokens);
  world.allreduce(total);
  return (world.size * tokens) / total[0]!;
}
