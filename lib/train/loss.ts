/**
 * The BYOL-form loss of ATST (REFERENCE.md §3), the collapse monitor the reference
 * logs, and the teacher's EMA update.
 *
 * @module
 */
import { type Tensor, type Tensor2D, tf, type Variable } from "../backend/tf.ts";
import { emaStep } from "../ops/ema_step.ts";

type Scalar = tf.Scalar;

/** Rows divided by their L2 norm (torch F.normalize, eps 1e-12). */
export function l2Normalize(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, "euclidean", 1, true), 1e-12))); // [N, D]
}

/**
 * mean over the pairs (i != j) of 2 - 2 * cos(p_i, z_j), each averaged over
 * the batch. `student` [V*B, d] are the predictions of the V views stacked
 * view after view; `teacher` [2*B, d] the teacher projections of the first
 * two views (stop-gradient is the caller's business: the teacher has no
 * trainable variables).
 */
export function byolLoss(student: Tensor2D, teacher: Tensor2D, views = 2): Scalar {
  return tf.tidy(() => {
    const s = tf.split(l2Normalize(student), views, 0); // V x [B, d]
    const t = tf.split(l2Normalize(teacher), 2, 0); // 2 x [B, d]
    const terms: Tensor[] = [];
    for (let iq = 0; iq < t.length; iq++) {
      for (let iv = 0; iv < s.length; iv++) {
        if (iq === iv) continue;
        const cos = tf.sum(tf.mul(t[iq]!, s[iv]!), 1); // [B]
        terms.push(tf.sub(2, tf.mul(tf.mean(cos), 2)));
      }
    }
    return tf.div(tf.addN(terms), terms.length) as Scalar;
  });
}

/**
 * The reference's collapse monitor: per feature, the standard deviation
 * (unbiased variance, + 1e-6 under the root) of the L2-normalised rows of
 * `y` [N, d], averaged over features. A collapsed output gives about 0.001;
 * a healthy one about 1/sqrt(d).
 */
export function outputStd(y: Tensor2D): Scalar {
  return tf.tidy(() => {
    const z = l2Normalize(y); // [N, d]
    const n = z.shape[0];
    const zs = tf.sum(z, 0); // [d]
    const zss = tf.sum(tf.square(z), 0); // [d]
    const variance = tf.sub(tf.div(zss, n - 1), tf.div(tf.square(zs), n * (n - 1))); // [d]
    return tf.mean(tf.sqrt(tf.add(variance, 1e-6))) as Scalar;
  });
}

/**
 * Teacher <- m * teacher + (1 - m) * student for every name in `teacher`
 * (parameters only: BatchNorm running statistics are not EMA-updated).
 */
export function emaUpdate(
  teacher: Map<string, Variable>,
  student: Map<string, Variable>,
  m: number,
): void {
  for (const [name, t] of teacher) {
    const s = student.get(name);
    if (!s) throw new Error(`EMA: student has no parameter '${name}'`);
    const next = emaStep(t, s, m);
    t.assign(next);
    next.dispose();
  }
}

/**
 * Per-feature sums of the L2-normalised rows of `y` [N, d] and of their
 * squares, [2d] (sum z, then sum z^2): what ranks add up to find
 * {@link outputStd} of their joined rows ({@link stdFromSums}).
 */
export function normalizedSums(y: Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const z = l2Normalize(y); // [N, d]
    return tf.concat([tf.sum(z, 0), tf.sum(tf.square(z), 0)]) as tf.Tensor1D; // [2d]
  });
}

/** {@link outputStd} of `n` rows from their {@link normalizedSums} (added over ranks). */
export function stdFromSums(sums: ArrayLike<number>, n: number): number {
  const d = sums.length / 2;
  let acc = 0;
  for (let f = 0; f < d; f++) {
    const zs = sums[f]!, zss = sums[d + f]!;
    acc += Math.sqrt(zss / (n - 1) - (zs * zs) / (n * (n - 1)) + 1e-6);
  }
  return acc / d;
}
