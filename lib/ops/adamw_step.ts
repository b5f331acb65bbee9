/**
 * One AdamW step of one parameter as a single op (moments, bias-corrected
 * step, decoupled decay). As tfjs ops it is a dozen elementwise passes
 * over the parameter, each with its own output array; on ATST-small's 26M
 * trained values that (with the EMA step, ema_step.ts) was about 0.8 s of a 4.5 s
 * training step on 2 cores. On a backend with the {@link ADAMW_STEP}
 * kernel (the "native" backend) it is one pass; elsewhere it is composed
 * from tfjs ops. Both round every intermediate to float32 in the same
 * order, so they agree bit for bit.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { hasKernel, runKernel } from "./_kernel.ts";
import { ADAMW_STEP } from "./kernel_names.ts";

/** Hyper-parameters of one AdamW step of one parameter. */
export interface AdamWStep {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t). */
  stepSize: number;
  /** Decoupled decay factor -lr * wd (0: no decay for this parameter). */
  decay: number;
}

/**
 * One AdamW step (Hugging Face form): returns new [param, m, v]; the
 * caller assigns them. Nothing is modified in place.
 *
 * @example
 * ```ts
 * const [pNew, mNew, vNew] = adamwStep(p, g, m, v, { beta1: 0.9, beta2: 0.999, eps: 1e-6, stepSize, decay: -lr * wd });
 * ```
 */
export function adamwStep(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  h: AdamWStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (hasKernel(ADAMW_STEP, [p, g, m, v])) {
    const attrs = { ...h } as unknown as tf.NamedAttrMap;
    return runKernel(ADAMW_STEP, { p, g, m, v }, attrs) as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const mNew = tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1));
    const vNew = tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
    const denom = tf.add(tf.sqrt(vNew), h.eps);
    let pNew = tf.sub(p, tf.mul(tf.div(mNew, denom), h.stepSize));
    // Decoupled decay on the updated parameter: p <- p - lr * wd * p.
    if (h.decay !== 0) pNew = tf.add(pNew, tf.mul(pNew, h.decay));
    return [pNew, mNew, vNew] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
